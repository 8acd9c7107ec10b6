import keras
import pytest
import tensorflow as tf

from pipelines.corpora import load_corpus
from tf_transformer.generation.translator import Translator
from tf_transformer.models import Transformer
from tf_transformer.serving.export import export_translator
from tf_transformer.text import SentencePieceTokenizer


@pytest.fixture(scope="session")
def translator():
    keras.utils.set_random_seed(3)
    corpus = load_corpus("cldr:en-pt", size=1500)
    source = SentencePieceTokenizer.train(corpus.texts("train", 0), vocab_size=400)
    target = SentencePieceTokenizer.train(corpus.texts("train", 1), vocab_size=400)
    model = Transformer(2, 32, 2, 64, source.vocab_size, target.vocab_size, max_length=16)
    model.build(((None, None), (None, None)))
    return Translator(model, source, target)


@pytest.fixture(scope="session")
def exported(translator, tmp_path_factory):
    return export_translator(translator, str(tmp_path_factory.mktemp("models") / "translator"))


def in_process(translator, texts, beam_size=1):
    outputs = tf.function(lambda t: translator.translate(t, beam_size=beam_size))(
        tf.constant(texts, tf.string)
    )
    return outputs.numpy()
