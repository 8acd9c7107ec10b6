"""Corpora named by one spec string, each with train/validation/test splits: embedded
(`cldr`, `pydocs`), TFDS, and the user's own files, read whole or streamed.

    sources      load_corpus(spec): every spec form
    corpus       Corpus: a corpus read whole
    local_files  tsv:/csv:/text:/lines: files, read whole
    labelled     tsv:/csv: files with a header row naming the text and label columns
    streaming    tsv:/lines: files streamed through tf.data
    files        reading lines and rows of a user's files (shared by the two above)
    splits       split names and hashes, CorpusError, the vocabulary sample
    cldr, pydocs the embedded corpora
"""

from pipelines.corpora.corpus import Corpus, example_key
from pipelines.corpora.sources import load_corpus
from pipelines.corpora.splits import (
    SPLITS,
    CorpusError,
    example_texts,
    split_of,
    stable_subset,
    summary_line,
    vocab_sample,
    with_mask,
)

__all__ = [
    "SPLITS",
    "Corpus",
    "CorpusError",
    "example_key",
    "example_texts",
    "load_corpus",
    "split_of",
    "stable_subset",
    "summary_line",
    "vocab_sample",
    "with_mask",
]
