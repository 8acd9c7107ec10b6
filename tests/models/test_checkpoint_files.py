"""A Hugging Face folder in each layout people download: sharded safetensors and
`tf_model.h5` give the same model as `model.safetensors`; `pytorch_model.bin` is refused
in one line; `tokenizer.json` alone gives the tokenizer its library gives (written and
read back by `tokenizers`, Hugging Face's own package)."""

import json

import h5py
import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tests.models.test_hugging_face import (
    GPT2_CONFIG,
    bert_checkpoint,
    gpt2_checkpoint,
    weights_of,
    write,
)
from tests.text.test_checkpoint_tokenizers import BERT_VOCAB, MIXED, tiny_bpe
from tf_transformer import cli
from tf_transformer.errors import InputError
from tf_transformer.models import checkpoint_files
from tf_transformer.models.hugging_face import gpt_from_hugging_face, read_bert

tokenizers = pytest.importorskip("tokenizers")

SMALL = dict(num_layers=2, num_heads=4, hidden_dim=64, intermediate_dim=96, dropout=0.0)


@pytest.fixture(scope="module")
def gpt2_tensors():
    keras.utils.set_random_seed(8)
    weights, _ = weights_of(
        keras_hub.models.GPT2Backbone(vocabulary_size=300, max_sequence_length=40, **SMALL)
    )
    return gpt2_checkpoint(weights)


CONFIG = {**GPT2_CONFIG, "vocab_size": 300, "n_embd": 64, "n_head": 4, "n_inner": 96}


def weights(model):
    """Each weight by its path below the model (whose name Keras numbers)."""
    return {v.path.split("/", 1)[1]: keras.ops.convert_to_numpy(v) for v in model.weights}


def assert_same_weights(model, expected):
    got = weights(model)
    assert got.keys() == expected.keys()
    for path, value in expected.items():
        np.testing.assert_array_equal(got[path], value, err_msg=path)


def shard(directory, tensors, config, shards=3):
    """`model-0000i-of-0000n.safetensors` and the index, as `save_pretrained` shards."""
    from safetensors.numpy import save_file

    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config))
    names, weight_map = sorted(tensors), {}
    for i in range(shards):
        file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: np.ascontiguousarray(tensors[n], np.float32) for n in names[i::shards]}
        save_file(part, str(directory / file))
        weight_map |= {n: file for n in part}
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index))
    return directory


def test_sharded_safetensors_give_the_single_files_model(gpt2_tensors, tmp_path):
    expected = weights(gpt_from_hugging_face(write(tmp_path / "one", CONFIG, gpt2_tensors)))
    sharded = shard(tmp_path / "sharded", gpt2_tensors, CONFIG)
    assert_same_weights(gpt_from_hugging_face(str(sharded)), expected)

    (sharded / "model-00002-of-00003.safetensors").unlink()
    with pytest.raises(InputError, match="model-00002-of-00003.safetensors: no such file"):
        gpt_from_hugging_face(str(sharded))
    index = json.loads((sharded / "model.safetensors.index.json").read_text())
    index["weight_map"] = {k: v for k, v in index["weight_map"].items() if "00002" not in v}
    index["weight_map"]["transformer.h.9.extra"] = "model-00001-of-00003.safetensors"
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match="tensor transformer.h.9.extra is in no shard"):
        gpt_from_hugging_face(str(sharded))


# PyTorch's names -> the TensorFlow weight names Hugging Face's TF classes save, written
# out per model (not derived from the reader's rule): (name, transpose, (1, n) bias).
def tf_name_gpt2(name, value):
    scope, parts = "tf_gpt2lm_head_model", name.split(".")
    if parts[0] == "lm_head":
        return None  # tied: the TF model has no separate head
    parts = parts[1:]  # "transformer" is the top-level layer
    if parts[0] == "h":
        parts = [f"h_._{parts[1]}", *parts[2:]]
    leaf = parts[-1]
    if parts[-2].startswith("ln_"):
        leaf = {"weight": "gamma", "bias": "beta"}[leaf]
    elif parts[-2] in ("wte", "wpe"):
        leaf = "embeddings"
    elif leaf == "bias" and value.ndim == 1:
        value = value[None]  # TFConv1D's bias is (1, n)
    if parts[-1] == "bias" and parts[-2] == "attn":
        return None  # the causal-mask buffer is not saved by TensorFlow
    return "transformer", f"{scope}/transformer/{'/'.join([*parts[:-1], leaf])}:0", value


def tf_name_bert(name, value):
    scope, parts = "tf_bert_for_masked_lm", name.split(".")
    if parts[-1] == "position_ids":
        return None
    layer = "bert" if parts[0] == "bert" else "mlm___cls"
    parts = parts[1:] if parts[0] == "bert" else ["mlm___cls", *parts[1:]]
    parts = ["bert", *parts] if layer == "bert" else parts
    joined = []
    for part in parts:
        if part.isdigit():
            joined[-1] = f"{joined[-1]}_._{part}"
        else:
            joined.append(part)
    leaf, owner = joined[-1], joined[-2]
    if "LayerNorm" in owner:
        leaf = {"weight": "gamma", "bias": "beta", "gamma": "gamma", "beta": "beta"}[leaf]
    elif owner in ("position_embeddings", "token_type_embeddings"):
        leaf = "embeddings"
    elif owner == "word_embeddings":
        leaf = "weight"
    elif leaf == "weight" and value.ndim == 2:
        leaf, value = "kernel", value.T  # Dense: input x output
    if owner == "decoder":
        return None  # tied to the word embeddings; TF saves no copy
    return layer, f"{scope}/{'/'.join([*joined[:-1], leaf])}:0", value


def write_tf_h5(directory, tensors, config, namer, chunked=False):
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config))
    layers = {}
    for name, value in tensors.items():
        named = namer(name, np.asarray(value, np.float32))
        if named is not None:
            layers.setdefault(named[0], []).append(named[1:])
    with h5py.File(directory / "tf_model.h5", "w") as h5:
        h5.attrs["layer_names"] = [n.encode() for n in layers]
        for layer, items in layers.items():
            group = h5.create_group(layer)
            names = [n.encode() for n, _ in items]
            if chunked:  # how Keras stores an attribute over 64 KB: weight_names0, 1, ...
                group.attrs["weight_names0"], group.attrs["weight_names1"] = names[:3], names[3:]
            else:
                group.attrs["weight_names"] = names
            for weight, value in items:
                group.create_dataset(weight, data=value)
    return str(directory)


@pytest.mark.parametrize("chunked", [False, True], ids=["plain", "chunked-names"])
def test_tf_model_h5_gives_the_safetensors_model(gpt2_tensors, tmp_path, chunked):
    expected = weights(gpt_from_hugging_face(write(tmp_path / "st", CONFIG, gpt2_tensors)))
    h5 = write_tf_h5(tmp_path / "tf", gpt2_tensors, CONFIG, tf_name_gpt2, chunked)
    assert_same_weights(gpt_from_hugging_face(h5), expected)


def test_a_bert_tf_model_h5_with_its_masked_lm_head(tmp_path):
    tensors, config, _ = bert_checkpoint()
    rng = np.random.default_rng(2)
    d, vocab = config["hidden_size"], config["vocab_size"]
    head = {
        "transform.dense.weight": rng.normal(0, 0.3, (d, d)),
        "transform.dense.bias": rng.normal(0, 0.3, d),
        "transform.LayerNorm.weight": rng.normal(1, 0.3, d),
        "transform.LayerNorm.bias": rng.normal(0, 0.3, d),
        "bias": rng.normal(0, 0.3, vocab),
    }
    tensors |= {f"cls.predictions.{k}": v for k, v in head.items()}
    encoder, masked_lm = read_bert(write(tmp_path / "st", config, tensors))
    h5 = write_tf_h5(tmp_path / "tf", tensors, config, tf_name_bert)
    h5_encoder, h5_masked_lm = read_bert(h5)
    assert_same_weights(h5_encoder, weights(encoder))
    assert_same_weights(h5_masked_lm, weights(masked_lm))


def test_pytorch_bin_and_an_empty_folder_are_one_line_refusals(tmp_path, capsys):
    folder = tmp_path / "torch"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    (folder / "pytorch_model.bin").write_bytes(b"PK\x03\x04 not readable without torch")
    run = tmp_path / "run"
    assert cli.main(["gpt", "import", str(folder), "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not run.exists()
    assert "pytorch_model.bin: PyTorch's pickle format" in err and "model.safetensors" in err
    with pytest.raises(InputError, match="no model weights"):
        checkpoint_files.read_weights(str(tmp_path))
    (tmp_path / "tf_model.h5").write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="tf_model.h5: not an HDF5 file"):
        checkpoint_files.read_weights(str(tmp_path))


def byte_level_bpe(vocab, merges):
    """GPT-2's tokenizer as `tokenizers` builds it."""
    model = tokenizers.models.BPE({t: i for i, t in enumerate(vocab)}, list(merges))
    tokenizer = tokenizers.Tokenizer(model)
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    tokenizer.add_special_tokens(["<|endoftext|>"])
    return tokenizer


def test_gpt2_tokenizer_json_alone_tokenizes_as_its_library(tmp_path):
    vocab, merges = tiny_bpe()
    reference = byte_level_bpe(vocab, merges)
    reference.save(str(tmp_path / "tokenizer.json"))
    ours = checkpoint_files.read_byte_pair_tokenizer(str(tmp_path))
    texts = MIXED + ["a<|endoftext|>b", "<|endoftext|><|endoftext|> x <|endoftext", "<|x|>"]
    expected = [reference.encode(text).ids for text in texts]
    assert ours.tokenize(tf.constant(texts)).to_list() == expected
    assert expected[-3].count(len(vocab) - 1) == 1  # the literal is the one id
    assert sum(len(ids) for ids in expected) < sum(len(t.encode()) for t in MIXED)  # merged

    saved = json.loads((tmp_path / "tokenizer.json").read_text())
    saved["added_tokens"].append({"id": len(vocab), "content": "<|pad|>", "special": True})
    (tmp_path / "tokenizer.json").write_text(json.dumps(saved))
    with pytest.raises(InputError, match=rf"added token '<\|pad\|>' \(id {len(vocab)}\) is not"):
        checkpoint_files.read_byte_pair_tokenizer(str(tmp_path))
    with pytest.raises(InputError, match="no GPT-2 tokenizer"):
        checkpoint_files.read_byte_pair_tokenizer(str(tmp_path / "missing"))


SETTINGS = [  # (lowercase, strip_accents, tokenize_chinese_chars)
    (True, None, True),
    (True, False, True),
    (False, True, True),
    (False, None, False),
]
ACCENTED = MIXED + ["Élan ÉLAN élan", "東京都 in 東京", "naïve NAÏVE", "ÅNGSTRÖM über"]
ACCENTED += ["the [MASK] sat[SEP]on [CLS] [mask] [UNK]", "[PAD][PAD] x"]


@pytest.mark.parametrize("lowercase, strip, cjk", SETTINGS)
def test_bert_tokenizer_json_alone_follows_its_normaliser_settings(tmp_path, lowercase, strip, cjk):
    reference = tokenizers.BertWordPieceTokenizer(
        {t: i for i, t in enumerate(BERT_VOCAB)},
        lowercase=lowercase,
        strip_accents=strip,
        handle_chinese_chars=cjk,
    )
    reference.save(str(tmp_path / "tokenizer.json"))
    ours = checkpoint_files.read_wordpiece_tokenizer(str(tmp_path))
    expected = [reference.encode(text, add_special_tokens=False).ids for text in ACCENTED]
    assert ours.tokenize(tf.constant(ACCENTED)).to_list() == expected


def test_tokenizer_config_overrides_tokenizer_json_as_hugging_face_does(tmp_path):
    uncased = tokenizers.BertWordPieceTokenizer({t: i for i, t in enumerate(BERT_VOCAB)})
    uncased.save(str(tmp_path / "tokenizer.json"))
    settings = {"do_lower_case": False, "tokenize_chinese_chars": False}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    ours = checkpoint_files.read_wordpiece_tokenizer(str(tmp_path))
    assert (ours.lowercase, ours.strip_accents, ours.split_cjk) == (False, False, False)
    cased = tokenizers.BertWordPieceTokenizer(
        {t: i for i, t in enumerate(BERT_VOCAB)}, lowercase=False, handle_chinese_chars=False
    )
    expected = [cased.encode(text, add_special_tokens=False).ids for text in ACCENTED]
    assert ours.tokenize(tf.constant(ACCENTED)).to_list() == expected


def test_added_tokens_json_must_name_the_vocabularys_own_tokens(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(BERT_VOCAB) + "\n", encoding="utf-8")
    mask = BERT_VOCAB.index("[MASK]")
    (tmp_path / "added_tokens.json").write_text(json.dumps({"[MASK]": mask}))
    ours = checkpoint_files.read_wordpiece_tokenizer(str(tmp_path))
    assert ours.tokenize(tf.constant(["a [MASK] b"])).to_list()[0][1] == mask  # special text
    (tmp_path / "added_tokens.json").write_text(json.dumps({"[NEW]": len(BERT_VOCAB)}))
    with pytest.raises(InputError, match=r"added_tokens.json: added token '\[NEW\]' \(id"):
        checkpoint_files.read_wordpiece_tokenizer(str(tmp_path))
