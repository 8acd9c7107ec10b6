import functools

import numpy as np
import pytest
import tensorflow as tf

from pipelines.corpora import load_corpus
from tf_transformer.generation.text_generator import TextGenerator
from tf_transformer.models import GPT
from tf_transformer.text import SentencePieceTokenizer

PROMPTS = ["Return the", "", "a much longer prompt about the sys module and its many functions"]


@functools.lru_cache(maxsize=1)
def generator():
    tf.keras.utils.set_random_seed(5)
    tokenizer = SentencePieceTokenizer.train(load_corpus("pydocs").texts("train")[:400], 500)
    model = GPT.from_preset("gpt_tiny", vocab_size=tokenizer.vocab_size, max_length=48)
    return TextGenerator(model, tokenizer, max_new_tokens=12, temperature=0.0)


def complete(prompts, **options):
    return [t.decode("utf-8", "replace") for t in generator().complete(prompts, **options).numpy()]


def test_greedy_is_deterministic_and_batch_independent():
    batch = complete(PROMPTS)
    assert batch == complete(PROMPTS)
    assert [complete([p])[0] for p in PROMPTS] == batch  # left padding changes nothing
    assert len(set(batch)) == 3


def test_sampling_reproduces_with_a_seed_row_by_row():
    sampled = complete(PROMPTS, temperature=1.0, seed=7)
    assert sampled == complete(PROMPTS, temperature=1.0, seed=7)
    assert sampled != complete(PROMPTS, temperature=1.0, seed=8)
    # a row's draw depends on its own seed, not on the rest of the batch
    seeds = tf.constant([7, 3, 9])
    rows = complete(PROMPTS, temperature=1.0, seed=seeds)
    assert [
        complete([p], temperature=1.0, seed=s)[0] for p, s in zip(PROMPTS, [7, 3, 9], strict=True)
    ] == rows


def test_top_k_one_is_greedy():
    assert complete(PROMPTS, temperature=1.3, top_k=1, seed=2) == complete(PROMPTS)


def test_per_row_limits_and_options():
    ids = (
        generator()
        .token_ids(
            PROMPTS,
            max_new_tokens=tf.constant([3, 0, 5]),
            temperature=tf.constant([0.0, 1.0, 0.5]),
            top_k=tf.constant([0, 5, 0]),
            top_p=tf.constant([1.0, 1.0, 0.9]),
            seed=tf.constant([1, 2, 3]),
        )
        .numpy()
    )
    assert ids.shape == (3, 5)
    assert np.all(ids[0, 3:] == 0) and np.all(ids[1] == 0)


def test_empty_and_over_long_prompts_are_answered():
    long_prompt = " ".join(["module"] * 2000)  # far beyond the 48-token context
    out = complete(["", long_prompt])
    assert len(out) == 2
    ids = generator().token_ids([long_prompt]).numpy()
    assert ids.shape[1] == 12


def test_compiled_path_matches_eager():
    assert generator().complete_strings(PROMPTS, temperature=0.0) == complete(PROMPTS)


@pytest.mark.parametrize("top_p", [0.3, 1.0])
def test_sampled_tokens_are_real_vocabulary_ids(top_p):
    ids = generator().token_ids(PROMPTS, temperature=1.0, top_p=top_p, seed=1).numpy()
    assert ids.min() >= 0 and ids.max() < generator().tokenizer.vocab_size


def test_prompt_start_none_takes_the_prompts_own_tokens_but_an_empty_one_starts_a_document():
    """`"none"` (Hugging Face's generate): the greedy continuation of a prompt is the
    model's argmax after the prompt's own tokens; `"end"` puts `[END]` first. An empty
    prompt starts from `[END]` either way."""
    base = generator()
    bare = TextGenerator(base.model, base.tokenizer, 4, temperature=0.0, prompt_start="none")
    tokenizer, model = base.tokenizer, base.model
    outputs = {}
    for prompt in PROMPTS[:1] + PROMPTS[2:]:
        for generator_, start in ((bare, []), (base, [tokenizer.end_id])):
            ids = start + tokenizer.tokenize(tf.constant([prompt])).to_list()[0]
            expected = []
            for _ in range(4):
                logits = model(np.array([ids + expected]))[0, -1]
                expected.append(int(np.argmax(logits)))
            got = generator_.token_ids(tf.constant([prompt]), max_new_tokens=4).numpy()[0]
            assert list(got) == expected[: len(got)] and len(got) > 0
            outputs[prompt, len(start)] = list(got)
    assert any(outputs[p, 0] != outputs[p, 1] for p, _ in outputs)  # the start token matters
    empty = [g.token_ids(tf.constant([""]), max_new_tokens=4).numpy() for g in (bare, base)]
    np.testing.assert_array_equal(*empty)
    with pytest.raises(ValueError, match="prompt_start must be one of"):
        TextGenerator(base.model, base.tokenizer, prompt_start="bos")
