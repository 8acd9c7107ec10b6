"""Unlabelled text for pretraining, as people have it: one or more sources joined by `+`,
each streamed, with its share of the mix counted and said.

    reviews.txt                 a plain text file (or glob): one document a line, streamed
    text:notes.txt              paragraphs (blocks between blank lines), read whole
    tsv:train.tsv,label=label   the text column of a labelled file (its labels unused)
    pydocs, tfds:imdb_reviews   any other corpus spec: its texts (both sides of pairs)

A plain file's lines split into train and validation by a hash of the line (5% validate,
or `PATH,validation=0.02`), in the graph, as `pipelines.corpora.streaming` splits. Every
file is checked first in one pass (missing, empty, binary or invalid UTF-8: one line
naming the file and line), before anything is written.
"""

import dataclasses
import glob
import os

import numpy as np
import tensorflow as tf

from pipelines.corpora.files import DEFAULT_FRACTION, parse_spec
from pipelines.corpora.sources import load_corpus, names_a_corpus
from pipelines.corpora.splits import SPLITS, CorpusError, sample_batches, split_ids

AUTOTUNE = tf.data.AUTOTUNE
LINES = 1024  # lines read, split and filtered together


@dataclasses.dataclass
class DocumentSource:
    """One source of a mix: `spec`, per-split document and character counts, and a
    `dataset(split)` of its documents (strings)."""

    spec: str
    documents: dict
    characters: dict
    dataset: object  # split -> tf.data.Dataset of strings

    def sample(self, split, size):
        """At most `size` documents of a split, evenly spaced through it."""
        batches = self.dataset(split).batch(LINES).as_numpy_iterator()
        return sample_batches(batches, self.documents[split], size)


@dataclasses.dataclass
class Documents:
    """Several `DocumentSource`s read together: `dataset(split)` interleaves them in
    proportion to their documents, so every stretch of the stream mixes them as the whole
    does; `shares()` says each one's part of the training text."""

    sources: list

    def dataset(self, split="train") -> tf.data.Dataset:
        parts = [s for s in self.sources if s.documents[split]]
        if not parts:
            return tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string))
        if len(parts) == 1:
            return parts[0].dataset(split)
        counts = np.array([s.documents[split] for s in parts], np.float64)
        return tf.data.Dataset.sample_from_datasets(
            [s.dataset(split) for s in parts],
            weights=list(counts / counts.sum()),
            seed=0,
            stop_on_empty_dataset=False,
        )

    def size(self, split) -> int:
        return sum(s.documents[split] for s in self.sources)

    def sample_texts(self, size) -> list:
        """About `size` training documents, each source giving its share of them."""
        total = max(self.size("train"), 1)
        texts = []
        for source in self.sources:
            share = max(1, round(size * source.documents["train"] / total))
            texts += source.sample("train", share) if source.documents["train"] else []
        return texts

    def shares(self) -> dict:
        """Per source: training documents, characters and the share of the characters."""
        total = max(sum(s.characters["train"] for s in self.sources), 1)
        return {
            s.spec: {
                "documents": s.documents["train"],
                "characters": s.characters["train"],
                "share": round(s.characters["train"] / total, 4),
            }
            for s in self.sources
        }


def load_documents(source: str, seed: int = 0, log=print) -> Documents:
    """The unlabelled documents of `source` (specs joined by `+`; see the module
    docstring), each source's share of the training text logged."""
    sources = [_source(spec.strip(), seed) for spec in source.split("+") if spec.strip()]
    if not sources:
        raise CorpusError(f"{source!r}: no source named")
    documents = Documents(sources)
    for spec, share in documents.shares().items():
        log(
            f"pretraining text: {spec}: {share['documents']:,} documents, "
            f"{share['characters']:,} characters ({100 * share['share']:.1f}% of the mix)"
        )
    return documents


def _source(spec, seed):
    if names_a_corpus(spec):
        corpus = load_corpus(spec, seed=seed)
        sides = (0, 1) if corpus.kind == "parallel" else (0,)
        texts = {
            split: [t for side in sides for t in corpus.texts(split, side)] for split in SPLITS
        }

        def dataset(split):
            return tf.data.Dataset.from_tensor_slices(tf.constant(texts[split], tf.string))

        counts = {split: len(texts[split]) for split in SPLITS}
        characters = {split: sum(map(len, texts[split])) for split in SPLITS}
        return DocumentSource(spec, counts, characters, dataset)
    return _line_files(spec)


def _line_files(spec):
    """A plain text file (or glob), one document a line, split by hash of the line."""
    files, fractions = parse_spec(spec, spec)
    if set(files) != {"all"}:
        raise CorpusError(f"{spec}: a plain text file splits by hash; give one path (or glob)")
    pattern = files["all"]
    paths = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    if not paths:
        raise CorpusError(f"{pattern}: no such file")
    carve = {
        "validation": fractions.get("validation", DEFAULT_FRACTION),
        "test": fractions.get("test", 0.0),
    }
    documents, characters = dict.fromkeys(SPLITS, 0), dict.fromkeys(SPLITS, 0)
    for path in paths:
        _check_lines(path)
        counts = _split_counts(path, carve)
        if not sum(count for count, _ in counts):
            raise CorpusError(f"{path}: empty corpus (no text)")
        for split, (count, length) in zip(SPLITS, counts, strict=True):
            documents[split] += count
            characters[split] += length

    def dataset(split):
        index = SPLITS.index(split)

        def of_split(lines):
            lines = tf.strings.strip(lines)
            keep = (tf.strings.length(lines) > 0) & (split_ids(lines, **carve) == index)
            return tf.boolean_mask(lines, keep)

        lines = tf.data.TextLineDataset(paths).batch(LINES)
        return lines.map(of_split, num_parallel_calls=AUTOTUNE, deterministic=True).unbatch()

    return DocumentSource(spec, documents, characters, dataset)


def _check_lines(path):
    """Fails on a NUL byte or bytes that are not UTF-8, naming the file and line (a binary
    file is not text)."""
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise CorpusError(f"{path}: cannot read: {error.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if b"\0" in raw:
                raise CorpusError(f"{path}:{number}: a NUL byte (a binary file, not text)")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise CorpusError(
                    f"{path}:{number}: invalid UTF-8 at byte {error.start} (not a text file?)"
                ) from None


def _split_counts(path, carve):
    """`(documents, characters)` of each split of one file, split as `dataset` splits."""

    def counts(lines):
        lines = tf.strings.strip(lines)
        real = tf.strings.length(lines) > 0
        split = tf.cast(split_ids(lines, **carve), tf.int32)
        chars = tf.strings.length(lines, unit="UTF8_CHAR")
        ones = tf.cast(real, tf.int64)
        return tf.stack(
            [
                tf.math.bincount(split, weights=ones, minlength=3, maxlength=3, dtype=tf.int64),
                tf.math.bincount(
                    split,
                    weights=tf.cast(chars, tf.int64) * ones,
                    minlength=3,
                    maxlength=3,
                    dtype=tf.int64,
                ),
            ],
            axis=1,
        )

    total = (
        tf.data.TextLineDataset(path)
        .batch(LINES * 8)
        .map(counts, num_parallel_calls=AUTOTUNE)
        .reduce(tf.zeros([3, 2], tf.int64), lambda a, b: a + b)
    )
    return [tuple(int(v) for v in row) for row in total.numpy()]
