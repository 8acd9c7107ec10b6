"""Model families built from `tf_transformer.layers`."""

from tf_transformer.models.bert import BertEncoder
from tf_transformer.models.bert_tasks import (
    BertClassifier,
    BertMaskedLM,
    BertTokenTagger,
    MaskedLMHead,
)
from tf_transformer.models.gpt import GPT
from tf_transformer.models.transformer import Transformer

__all__ = [
    "GPT",
    "BertClassifier",
    "BertEncoder",
    "BertMaskedLM",
    "BertTokenTagger",
    "MaskedLMHead",
    "Transformer",
]
