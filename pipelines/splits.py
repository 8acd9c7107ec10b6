"""Split names, the hash that assigns an example to a split, and the corpus error."""

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
