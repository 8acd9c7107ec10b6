"""A corpus read whole: its examples in three splits, as lists and as `tf.data` datasets."""

import dataclasses

from pipelines.corpora.splits import SPLITS, CorpusError, summary_line, vocab_sample

KINDS = ("parallel", "text", "classification", "tagging")


def example_key(example) -> str:
    """The string an example is known by (for splitting by hash and stable subsets): the
    text, a pair's two texts, a tagged sentence's words."""
    first = example if isinstance(example, str) else example[0]
    return first if isinstance(first, str) else "\t".join(first)


@dataclasses.dataclass
class Corpus:
    """Examples in three splits.

    `kind` says what an example is: `parallel` (source, target) strings; `text` a string;
    `classification` (text, label), or ((text, pair), label) for a corpus of pairs, with
    `labels` the sorted label names; `tagging` (tokens, tags) tuples with `labels` the
    tag names.
    """

    spec: str
    kind: str
    train: list
    validation: list
    test: list
    labels: tuple = ()
    skipped: int = 0

    def split(self, name: str) -> list:
        if name not in SPLITS:
            raise CorpusError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return getattr(self, name)

    @property
    def pairs(self) -> bool:
        """Whether each example is a pair of texts (classified together)."""
        first = next((examples[0] for examples in (self.train, self.validation) if examples), None)
        return self.kind == "classification" and first is not None and not isinstance(first[0], str)

    def texts(self, split: str = "train", side: int = 0) -> list:
        """The plain strings of a split (`side` 1 is the target side of a parallel corpus;
        a corpus of pairs gives both texts of each pair, one after the other)."""
        examples = self.split(split)
        if self.kind == "text":
            return list(examples)
        if self.kind == "tagging":
            return [" ".join(tokens) for tokens, _ in examples]
        if self.pairs:
            return [text for texts, _ in examples for text in texts]
        return [example[side] for example in examples]

    def dataset(self, split: str = "train", limit: int = None):
        """The split (its first `limit` examples) as a `tf.data.Dataset`: strings, string
        pairs, (text, label id), ((text, pair), label id) or (tokens, tag ids)."""
        import tensorflow as tf

        examples = self.split(split)[:limit]
        if self.kind == "text":
            return tf.data.Dataset.from_tensor_slices(tf.constant(examples, tf.string))
        if self.kind == "parallel":
            sources, targets = zip(*examples, strict=True) if examples else ((), ())
            return tf.data.Dataset.from_tensor_slices(
                (tf.constant(sources, tf.string), tf.constant(targets, tf.string))
            )
        label_id = {label: i for i, label in enumerate(self.labels)}
        if self.kind == "classification":
            ids = tf.constant([label_id[label] for _, label in examples], tf.int32)
            if self.pairs:
                sides = tuple(zip(*(texts for texts, _ in examples), strict=True)) or ((), ())
                texts = tuple(tf.constant(side, tf.string) for side in sides)
            else:
                texts = tf.constant([text for text, _ in examples], tf.string)
            return tf.data.Dataset.from_tensor_slices((texts, ids))
        tokens = tf.ragged.constant([list(t) for t, _ in examples], dtype=tf.string)
        tags = tf.ragged.constant([[label_id[t] for t in tags] for _, tags in examples], tf.int32)
        return tf.data.Dataset.from_tensor_slices((tokens, tags))

    def size(self, split: str) -> int:
        return len(self.split(split))

    def head(self, split: str, count) -> list:
        """The first `count` examples of a split (all of them for `None`)."""
        return self.split(split)[:count]

    def sample_texts(self, split: str, side: int, size: int) -> list:
        """At most `size` texts of one side, evenly spaced through the split."""
        return vocab_sample(self.texts(split, side), size)

    def summary(self) -> str:
        return summary_line(self, self.kind)
