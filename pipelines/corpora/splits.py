"""Split names, the hashes that assign an example to a split, the corpus error, and the
sample of a split a vocabulary is learned from.

The embedded corpora split by `split_of` (SHA-1, in Python); a user's files by
`split_ids` (in the graph, so that a file streamed through `tf.data` splits as it does
read whole)."""

import hashlib

from tf_transformer.errors import InputError

SPLITS = ("train", "validation", "test")


class CorpusError(InputError):
    """A corpus cannot be read: unknown spec, missing file, bad row, empty corpus."""


def split_of(key: str, validation: float = 0.05, test: float = 0.05) -> str:
    """The split a key belongs to, from a hash of it: the same key always lands together."""
    bucket = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2**64
    if bucket < test:
        return "test"
    if bucket < test + validation:
        return "validation"
    return "train"


HASH_BUCKETS = 1_000_000


def stable_subset(examples: list, count: int, key) -> list:
    """`count` of `examples` chosen by a hash of `key(example)` (in their order): the same
    ones every run, and a smaller subset lies inside a larger one."""
    if count is None or count >= len(examples):
        return list(examples)

    def rank(index):
        text = key(examples[index]).encode("utf-8")
        return hashlib.sha1(text).digest(), index

    chosen = sorted(sorted(range(len(examples)), key=rank)[:count])
    return [examples[i] for i in chosen]


def split_ids(keys, validation: float = 0.05, test: float = 0.05):
    """The split of each key (0 train, 1 validation, 2 test, the order of `SPLITS`) from
    its FarmHash fingerprint, computed in the graph: the split of a user's file is the same
    whether it is streamed through `tf.data` or read whole (`pipelines.corpora.local_files`)."""
    import tensorflow as tf

    buckets = tf.strings.to_hash_bucket_fast(keys, HASH_BUCKETS)
    fraction = tf.cast(buckets, tf.float64) / HASH_BUCKETS
    return tf.where(fraction < test, 2, tf.where(fraction < test + validation, 1, 0))


def summary_line(corpus, kind: str) -> str:
    """`SPEC (KIND): train N, validation N, test N[; skipped N bad rows]`."""
    sizes = ", ".join(f"{name} {corpus.size(name):,}" for name in SPLITS)
    skipped = f"; skipped {corpus.skipped} bad rows" if corpus.skipped else ""
    return f"{corpus.spec} ({kind}): {sizes}{skipped}"


VOCAB_SAMPLE = 200_000


def vocab_sample(texts: list, size: int = VOCAB_SAMPLE) -> list:
    """At most `size` of `texts`, evenly spaced through the list (all of them if fewer):
    the vocabulary of a large corpus is learned from a bounded sample."""
    if size is None or len(texts) <= size:
        return texts
    step = len(texts) / size
    return [texts[int(i * step)] for i in range(size)]


def sample_batches(batches, total: int, size: int) -> list:
    """At most `size` of the `total` strings that `batches` (an iterator of numpy batches
    of bytes) yields, evenly spaced, as `vocab_sample` picks them from a whole list; only
    the picked ones become Python strings."""
    import numpy as np

    wanted = None
    if size is not None and total > size:
        wanted = (np.arange(size) * (total / size)).astype(np.int64)
    texts, offset = [], 0
    for batch in batches:
        if wanted is None:
            texts += [text.decode() for text in batch]
        else:
            first, last = np.searchsorted(wanted, [offset, offset + len(batch)])
            texts += [batch[i - offset].decode() for i in wanted[first:last]]
        offset += len(batch)
    return texts


EXAMPLE_CHARS = 120


def example_texts(texts, count: int = 3, max_chars: int = EXAMPLE_CHARS) -> list:
    """Up to `count` of `texts` (an iterable, read only as far as needed) to show a model
    with: the first that are not blank, whitespace collapsed, each cut at a word boundary
    to at most `max_chars` characters (a first word longer than that is cut inside)."""
    examples = []
    for text in texts:
        text = " ".join((text.decode() if isinstance(text, bytes) else text).split())
        if len(text) > max_chars:
            text = text[: max_chars + 1].rsplit(" ", 1)[0][:max_chars]
        if text:
            examples.append(text)
        if len(examples) == count:
            break
    return examples


def with_mask(text: str, mask: str = "[MASK]") -> str:
    """`text` with its middle word replaced by `mask`: an example for a masked LM."""
    words = text.split()
    if not words:
        return mask
    words[len(words) // 2] = mask
    return " ".join(words)
