"""Small models of the three families, untrained (random weights give diffuse attention
and flat distributions: nothing a learned pattern could hide), and their traces."""

import functools

import keras
import pytest

from pipelines.corpora import load_corpus
from tf_transformer.generation.text_generator import TextGenerator
from tf_transformer.generation.translator import Translator
from tf_transformer.models import GPT, BertClassifier, BertMaskedLM, BertTokenTagger, Transformer
from tf_transformer.serving.bert import FillMask, PairClassifier, TokenTagger
from tf_transformer.text import SentencePieceTokenizer
from tf_transformer.text.word_features import WordFeatures

TEXT = "Saturday, June 9, 1984"


@functools.lru_cache(maxsize=1)
def tokenizers():
    corpus = load_corpus("cldr:en-pt", size=1500)
    source = SentencePieceTokenizer.train(corpus.texts("train", 0), vocab_size=400)
    target = SentencePieceTokenizer.train(corpus.texts("train", 1), vocab_size=400)
    return source, target


@pytest.fixture(scope="session")
def translator():
    keras.utils.set_random_seed(5)
    source, target = tokenizers()
    model = Transformer(2, 32, 4, 64, source.vocab_size, target.vocab_size, max_length=20)
    return Translator(model, source, target)


@pytest.fixture(scope="session")
def generator():
    keras.utils.set_random_seed(6)
    source, _ = tokenizers()
    model = GPT(vocab_size=source.vocab_size, num_layers=2, d_model=32, num_heads=4, max_length=24)
    return TextGenerator(model, source)


def bert_options(vocab_size):
    return {
        "vocab_size": vocab_size,
        "num_layers": 2,
        "d_model": 32,
        "num_heads": 2,
        "dff": 64,
        "max_length": 64,
    }


@pytest.fixture(scope="session")
def fill_mask():
    keras.utils.set_random_seed(7)
    source, _ = tokenizers()
    return FillMask(
        BertMaskedLM.from_preset("bert_tiny", **bert_options(source.vocab_size)), source, seq_len=24
    )


@pytest.fixture(scope="session")
def pair_classifier():
    keras.utils.set_random_seed(8)
    source, _ = tokenizers()
    model = BertClassifier.from_preset(
        "bert_tiny", num_classes=2, labels=["different", "same"], **bert_options(source.vocab_size)
    )
    return PairClassifier(model, source, seq_len=32)


@pytest.fixture(scope="session")
def tagger():
    keras.utils.set_random_seed(9)
    source, _ = tokenizers()
    labels = ["", "O", "B-DATE", "I-DATE"]
    model = BertTokenTagger.from_preset(
        "bert_tiny", num_tags=len(labels), labels=labels, **bert_options(source.vocab_size)
    )
    return TokenTagger(model, source, seq_len=32)


@pytest.fixture(scope="session")
def feature_tagger():
    """A tagger that also reads each word's own features (`--word-features`)."""
    keras.utils.set_random_seed(10)
    source, _ = tokenizers()
    features = WordFeatures.from_words(TEXT.split() + ["June", "Monday"])
    labels = ["", "O", "B-DATE", "I-DATE"]
    model = BertTokenTagger.from_preset(
        "bert_tiny",
        num_tags=len(labels),
        labels=labels,
        head="lstm",
        word_features=features.sizes,
        **bert_options(source.vocab_size),
    )
    return TokenTagger(model, source, seq_len=32, features=features)
