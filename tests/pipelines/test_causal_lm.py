import numpy as np
import pytest
import tensorflow as tf

from pipelines import causal_lm, causal_lm_batches
from tf_transformer.text import END_ID


class _IdsTokenizer:
    end_id = END_ID  # the document separator

    def tokenize(self, texts):
        return tf.strings.to_number(tf.strings.split(texts), tf.int32)


def test_token_stream_separates_documents():
    stream = causal_lm_batches.token_stream(["5 6 7", "8", "9 10"], _IdsTokenizer())
    np.testing.assert_array_equal(stream, [5, 6, 7, END_ID, 8, END_ID, 9, 10, END_ID])


@pytest.mark.parametrize("shuffle", [False, True])
def test_windows_are_contiguous_slices_shifted_by_one(shuffle):
    stream = np.arange(1000, dtype="int32")
    seq_len = 16
    windows = causal_lm_batches.make_windows(stream, seq_len=seq_len, batch_size=4, shuffle=shuffle)
    assert windows.element_spec == (
        tf.TensorSpec([4, seq_len], tf.int32),
        tf.TensorSpec([4, seq_len], tf.int32),
    )
    starts = []
    for x, y in windows:
        for row_x, row_y in zip(x.numpy(), y.numpy(), strict=True):
            start = row_x[0]
            np.testing.assert_array_equal(row_x, stream[start : start + seq_len])
            np.testing.assert_array_equal(row_y, stream[start + 1 : start + seq_len + 1])
            starts.append(start)
    windows_in_stream = (1000 - 1) // seq_len
    assert len(starts) == len(set(starts)) == windows_in_stream // 4 * 4  # full batches only
    assert set(starts) <= {i * seq_len for i in range(windows_in_stream)}
    assert (starts != sorted(starts)) == shuffle


def test_stream_shorter_than_a_window_is_refused():
    with pytest.raises(ValueError, match="shorter than one window"):
        causal_lm_batches.make_windows(np.arange(5, dtype="int32"), seq_len=8)


def test_gpt_optimizer_decays_the_weight_matrices_only():
    """One AdamW step on zero gradients moves a variable only by its weight decay: the
    kernels shrink by lr * decay, biases, LayerNorm and both embeddings stay."""
    from tf_transformer.models import GPT

    model = GPT.from_preset("gpt_tiny", vocab_size=50)
    model.build((None, None))
    optimizer = causal_lm.gpt_optimizer(0.1, weight_decay=0.5)
    before = [np.array(v.numpy()) for v in model.trainable_variables]
    optimizer.apply_gradients([(tf.zeros_like(v), v) for v in model.trainable_variables])
    decayed = set()
    for variable, old in zip(model.trainable_variables, before, strict=True):
        if np.allclose(variable.numpy(), old * (1 - 0.1 * 0.5), atol=1e-7) and old.any():
            decayed.add(variable.path)
        else:
            np.testing.assert_array_equal(variable.numpy(), old, err_msg=variable.path)
    assert decayed and all(path.endswith("/kernel") for path in decayed)
    kernels = [v.path for v in model.trainable_variables if v.path.endswith("/kernel")]
    assert sorted(decayed) == sorted(kernels)
    names = {v.path.rsplit("/", 1)[-1] for v in model.trainable_variables}
    assert {"embeddings", "gamma", "beta", "bias"} <= names  # each kind is there, undecayed
