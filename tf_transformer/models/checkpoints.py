"""Published GPT-2 and BERT checkpoints read as this package's models and tokenizers.

SOURCE is a Hugging Face checkpoint directory (`config.json`, the weights and the
tokenizer's files, in the layouts `checkpoint_files` reads), a KerasHub preset directory,
or a KerasHub preset name (downloaded by KerasHub; needs `pip install keras-hub` and a
connection). `pipelines.pretrained` writes
what these read as runs.
"""

import inspect
import os

from tf_transformer.errors import InputError
from tf_transformer.models import checkpoint_files, hugging_face
from tf_transformer.models.convert import bert_from_keras_hub, gpt_from_keras_hub
from tf_transformer.models.hugging_face import gpt_from_hugging_face
from tf_transformer.text import BertVocabTokenizer, BytePairTokenizer


def is_hugging_face(source) -> bool:
    """Whether `source` is a Hugging Face checkpoint folder (any weights layout)."""
    return os.path.isdir(source) and checkpoint_files.has_checkpoint(source)


def _keras_hub(source):
    try:
        import keras_hub
    except ImportError:
        raise InputError(
            f"{source}: not a Hugging Face checkpoint directory; a KerasHub preset needs "
            "keras-hub (pip install keras-hub)"
        ) from None
    return keras_hub


def _from_preset(cls, source):
    """`cls.from_preset(source)`, its failure (unknown name, offline, not a preset) one line."""
    try:
        return cls.from_preset(source)
    except Exception as error:  # KerasHub raises several kinds; all mean "cannot load"
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f"{source}: KerasHub cannot load it as a preset ({first})") from None


def read_gpt(source):
    """`(GPT, BytePairTokenizer)` of a GPT-2 checkpoint (see the module's SOURCE)."""
    if is_hugging_face(source):
        checkpoint_files.weights_path(source)  # an unreadable layout: said before all else
        tokenizer = checkpoint_files.read_byte_pair_tokenizer(source)
        return gpt_from_hugging_face(source), tokenizer
    keras_hub = _keras_hub(source)
    backbone = _from_preset(keras_hub.models.GPT2Backbone, source)
    theirs = _from_preset(keras_hub.models.GPT2Tokenizer, source)
    merges = [m.split(" ") for m in theirs.merges]
    return gpt_from_keras_hub(backbone), BytePairTokenizer(theirs.get_vocabulary(), merges)


def read_bert(source):
    """`(model, BertVocabTokenizer)` of a BERT checkpoint (see the module's SOURCE): a
    `BertMaskedLM` when a Hugging Face checkpoint has its masked-LM head, else the
    `BertEncoder`. An uncased checkpoint (Hugging Face's `do_lower_case`, KerasHub's
    `lowercase`) lowercases."""
    if is_hugging_face(source):
        checkpoint_files.weights_path(source)
        tokenizer = checkpoint_files.read_wordpiece_tokenizer(source)
        encoder, masked_lm = hugging_face.read_bert(source)
        return masked_lm or encoder, tokenizer
    keras_hub = _keras_hub(source)
    backbone = _from_preset(keras_hub.models.BertBackbone, source)
    theirs = _from_preset(keras_hub.models.BertTokenizer, source)
    tokenizer = BertVocabTokenizer(theirs.get_vocabulary(), lowercase=theirs.lowercase)
    return bert_from_keras_hub(backbone), tokenizer


def architecture_of(model, cls) -> dict:
    """The constructor arguments of `model` (a `GPT` or `BertEncoder`) from its config."""
    names = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs", "dtype"}
    return {k: v for k, v in model.get_config().items() if k in names}
