"""The page's size budget: the `tutorial` translator (8,000-piece vocabularies) at 128
source and 128 target positions, with random weights (every greedy step taken, flat
distributions: the worst case for compression), stays under 5 MB."""

import os

import keras
import pytest

from pipelines.corpora import load_corpus
from tf_transformer.explain import trace_translation, write_page
from tf_transformer.generation.translator import Translator
from tf_transformer.models import Transformer
from tf_transformer.text import SentencePieceTokenizer

pytestmark = pytest.mark.slow  # 8,000-piece tokenizers and a 128 x 128 trace: `make test-slow`
BUDGET = 5_000_000


def test_the_tutorial_translator_page_at_128_tokens_stays_under_5_mb(tmp_path):
    corpus = load_corpus("pydocs")
    texts = corpus.texts("train")
    source = SentencePieceTokenizer.train(texts, vocab_size=8000)
    target = SentencePieceTokenizer.train(texts[::-1], vocab_size=8000)
    assert source.vocab_size == target.vocab_size == 8000
    keras.utils.set_random_seed(0)
    model = Transformer.from_preset(
        "tutorial", input_vocab_size=8000, target_vocab_size=8000, max_length=128
    )
    translator = Translator(model, source, target)
    text = " ".join(texts)[:20_000]
    traced = trace_translation(translator, text, seq_len=127)
    assert len(traced["tokens"][0]["ids"]) == 128  # 127 pieces and the [PAD] column
    assert len(traced["output"]["chosen"]) == 127  # every step: [START] + 127 = 128
    path = write_page(traced, str(tmp_path / "page.html"))
    assert os.path.getsize(path) < BUDGET
