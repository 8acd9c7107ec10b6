"""A user's parallel files streamed: `tsv:` and `lines:` corpora as `tf.data` line
datasets, never as Python lists of every pair, so a corpus of millions of pairs trains in
bounded memory.

One pass in Python checks the files line by line first (aligned line counts, UTF-8, tab
columns: one-line errors naming the file and line, before anything is written); the pairs
then flow from `tf.data.TextLineDataset`s, each pair's split decided in the graph from its
source (`pipelines.corpora.splits.split_ids`), so a file splits the same streamed or read whole.
What needs the strings themselves gets a bounded share: the vocabulary a sample
(`sample_texts`), evaluation the (small) validation and test splits.
"""

import itertools

import tensorflow as tf

from pipelines.corpora.files import DEFAULT_FRACTION, BadRows, lines, raw_lines
from pipelines.corpora.splits import SPLITS, CorpusError, sample_batches, split_ids, summary_line

AUTOTUNE = tf.data.AUTOTUNE


class StreamedCorpus:
    """A parallel corpus whose splits are read from files whenever they are asked for.

    `files` maps split names (or "all", one file split by hash) to what `read` turns
    into a dataset of (source, target) strings; `fractions` are the validation/test
    shares carved out of the pooled file by hash.
    """

    kind = "parallel"
    labels = ()

    def __init__(self, spec, files, fractions, read, skipped=0):
        self.spec, self.skipped = spec, skipped
        self._files, self._read = files, read
        self._pool = "all" if "all" in files else "train"
        self._carve = {
            name: 0.0 if name in files else fractions.get(name, DEFAULT_FRACTION)
            for name in ("validation", "test")
        }
        self._sizes = self._count()
        if not self._sizes["train"]:
            raise CorpusError(f"{spec}: empty corpus (no training examples)")

    def dataset(self, split: str = "train", limit: int = None) -> tf.data.Dataset:
        """The split (its first `limit` pairs) as a dataset of (source, target) strings."""
        if split not in SPLITS:
            raise CorpusError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        data = self._batches(split).unbatch()
        return data.take(limit) if limit else data

    def _batches(self, split):
        """The split in batches of lines (checking and hashing whole batches is fast)."""
        if split in self._files and split != self._pool:
            return self._read(self._files[split])
        index, carve = SPLITS.index(split), self._carve

        def of_split(sources, targets):
            keep = split_ids(sources, **carve) == index
            return tf.boolean_mask(sources, keep), tf.boolean_mask(targets, keep)

        pooled = self._read(self._files[self._pool])
        return pooled.map(of_split, num_parallel_calls=AUTOTUNE, deterministic=True)

    def _count(self):
        sizes = dict.fromkeys(SPLITS, 0)
        counts = (
            self._read(self._files[self._pool])
            .map(
                lambda sources, _: tf.math.bincount(
                    tf.cast(split_ids(sources, **self._carve), tf.int32), minlength=3, maxlength=3
                ),
                num_parallel_calls=AUTOTUNE,
            )
            .reduce(tf.zeros([3], tf.int32), lambda total, count: total + count)
        )
        for name, count in zip(SPLITS, counts.numpy(), strict=True):
            sizes[name] = int(count)
        for name, source in self._files.items():
            if name != self._pool:
                sizes[name] = int(
                    self._read(source).reduce(0, lambda n, pairs: n + tf.size(pairs[0]))
                )
        return sizes

    def size(self, split: str) -> int:
        return self._sizes[split]

    def split(self, name: str) -> list:
        """The split's pairs as Python strings (for the small splits: evaluation, samples)."""
        return self.head(name, None)

    train = property(lambda self: self.split("train"))
    validation = property(lambda self: self.split("validation"))
    test = property(lambda self: self.split("test"))

    def head(self, split: str, count) -> list:
        """The first `count` pairs of a split (all of them for `None`)."""
        pairs = []
        for sources, targets in self.dataset(split, count).batch(4096).as_numpy_iterator():
            pairs += [(s.decode(), t.decode()) for s, t in zip(sources, targets, strict=True)]
        return pairs

    def texts(self, split: str = "train", side: int = 0) -> list:
        return [pair[side] for pair in self.split(split)]

    def sample_texts(self, split: str, side: int, size: int) -> list:
        """At most `size` texts of one side, evenly spaced through the split, the same ones
        `pipelines.corpora.vocab_sample` takes from the whole list (picked batch by batch:
        only the picked texts become Python strings)."""
        batches = self._batches(split).map(lambda *pair: pair[side]).as_numpy_iterator()
        return sample_batches(batches, self._sizes[split], size)

    def summary(self) -> str:
        return summary_line(self, "parallel, streamed")


# Reading in the graph ----------------------------------------------------------------------


LINES = 1024  # lines read, checked and hashed together


def _usable(texts):
    """Not blank, and valid UTF-8 (what the Python pass skips with --skip-bad-rows)."""
    valid = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace") == texts
    return (tf.strings.length(texts) > 0) & valid


def aligned_dataset(languages):
    """`stem -> dataset` of batches of pairs: line N of `stem.SRC` with line N of
    `stem.TGT`, stripped; pairs with a blank or undecodable side are left out, as
    `read_aligned` leaves them."""

    def pairs(sources, targets):
        sources, targets = tf.strings.strip(sources), tf.strings.strip(targets)
        keep = _usable(sources) & _usable(targets)
        return tf.boolean_mask(sources, keep), tf.boolean_mask(targets, keep)

    def read(stem):
        sides = [tf.data.TextLineDataset(f"{stem}.{language}") for language in languages]
        lines = tf.data.Dataset.zip(*sides).batch(LINES)
        return lines.map(pairs, num_parallel_calls=AUTOTUNE, deterministic=True)

    return read


def tsv_dataset(path):
    """Batches of the first two tab-separated columns of each non-blank line, stripped."""

    def columns(lines):
        parts = tf.strings.split(lines, "\t")
        keep = _usable(tf.strings.strip(lines)) & (parts.row_lengths() >= 2)
        first_two = tf.ragged.boolean_mask(parts, keep).to_tensor("")[:, :2]
        first_two = tf.strings.strip(tf.reshape(first_two, [-1, 2]))
        return first_two[:, 0], first_two[:, 1]

    lines = tf.data.TextLineDataset(path).batch(LINES)
    return lines.map(columns, num_parallel_calls=AUTOTUNE, deterministic=True)


# Checking in Python, line by line ----------------------------------------------------------


def check_rows(path, skip_bad_rows, parse):
    """How many bad rows `path` has (`parse` as for `read_rows`); raises on the first one
    unless skipping, or when the file has no rows."""
    bad = BadRows(skip_bad_rows)
    rows = 0
    for number, line in lines(path, bad):
        if line.strip():
            problem = parse(number, line)
            if isinstance(problem, str):
                bad(path, number, problem)
            elif problem is not None:
                rows += 1
    if not rows:
        raise CorpusError(f"{path}: empty corpus (no rows)")
    return bad.done(path)


def check_aligned(stem, languages, skip_bad_rows):
    """How many undecodable lines `stem.SRC` and `stem.TGT` have; different line counts are
    an error naming both files, as is a pair of files with no usable line."""
    paths = [f"{stem}.{language}" for language in languages]
    bad = BadRows(skip_bad_rows)
    first_bad, counts, usable = None, [0, 0], 0
    for number, raws in enumerate(itertools.zip_longest(*map(raw_lines, paths)), start=1):
        texts = []
        for side, raw in enumerate(raws):
            if raw is None:
                continue
            counts[side] += 1
            try:
                texts.append(raw.decode("utf-8").strip())
            except UnicodeDecodeError as error:
                problem = f"invalid UTF-8 at byte {error.start}"
                first_bad = first_bad or (paths[side], number, problem)
                bad.count += 1
        usable += len(texts) == 2 and all(texts)
    if counts[0] != counts[1]:
        raise CorpusError(
            f"{paths[0]} has {counts[0]:,} lines but {paths[1]} has {counts[1]:,}; "
            "aligned files need one line a sentence on both sides"
        )
    if first_bad and not skip_bad_rows:
        bad(*first_bad)
    if not usable:
        raise CorpusError(f"{paths[0]}, {paths[1]}: empty corpus (no aligned lines)")
    return bad.done(paths[0])
