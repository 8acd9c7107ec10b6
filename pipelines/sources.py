"""Corpora named by one spec string, each with train/validation/test splits.

Embedded (no download): `cldr:SRC-TGT`, `pydocs`, `cldr-langid`, `cldr-tags`.
Online: `tfds:NAME` (e.g. `tfds:ted_hrlr_translate/pt_to_en`). Local files: `tsv:PATH`,
`text:GLOB`, `csv:PATH`.
"""

import csv
import dataclasses
import glob
import hashlib
import io
import os
import sys

from pipelines import cldr, pydocs
from tf_transformer.errors import InputError

SPLITS = ("train", "validation", "test")
KINDS = ("parallel", "text", "classification", "tagging")


class CorpusError(InputError):
    """A corpus cannot be read: unknown spec, missing file, bad row, empty corpus."""


@dataclasses.dataclass
class Corpus:
    """Examples in three splits.

    `kind` says what an example is: `parallel` (source, target) strings; `text` a string;
    `classification` (text, label) with `labels` the sorted label names; `tagging`
    (tokens, tags) tuples with `labels` the tag names.
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

    def texts(self, split: str = "train", side: int = 0) -> list:
        """The plain strings of a split (`side` 1 is the target side of a parallel corpus)."""
        examples = self.split(split)
        if self.kind == "text":
            return list(examples)
        if self.kind == "tagging":
            return [" ".join(tokens) for tokens, _ in examples]
        return [example[side] for example in examples]

    def dataset(self, split: str = "train", limit: int = None):
        """The split (its first `limit` examples) as a `tf.data.Dataset`: strings, string
        pairs, (text, label id) or (tokens, tag ids)."""
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
            texts = [text for text, _ in examples]
            ids = [label_id[label] for _, label in examples]
            return tf.data.Dataset.from_tensor_slices(
                (tf.constant(texts, tf.string), tf.constant(ids, tf.int32))
            )
        tokens = tf.ragged.constant([list(t) for t, _ in examples], dtype=tf.string)
        tags = tf.ragged.constant([[label_id[t] for t in tags] for _, tags in examples], tf.int32)
        return tf.data.Dataset.from_tensor_slices((tokens, tags))

    def summary(self) -> str:
        sizes = ", ".join(f"{name} {len(self.split(name)):,}" for name in SPLITS)
        skipped = f"; skipped {self.skipped} bad rows" if self.skipped else ""
        return f"{self.spec} ({self.kind}): {sizes}{skipped}"


def split_of(key: str, validation: float = 0.05, test: float = 0.05) -> str:
    """The split a key belongs to, from a hash of it: the same key always lands together."""
    bucket = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2**64
    if bucket < test:
        return "test"
    if bucket < test + validation:
        return "validation"
    return "train"


def _by_hash(spec, kind, examples, key, labels=(), skipped=0):
    splits = {name: [] for name in SPLITS}
    for example in examples:
        splits[split_of(key(example))].append(example)
    corpus = Corpus(spec, kind, labels=tuple(labels), skipped=skipped, **splits)
    _require_examples(corpus, spec)
    return corpus


def _require_examples(corpus, where):
    if not corpus.train:
        raise CorpusError(f"{where}: empty corpus (no training examples)")


def load_corpus(spec: str, seed: int = 0, skip_bad_rows: bool = False, size: int = None) -> Corpus:
    """The corpus named by `spec`; see the module docstring for the forms.

    `seed` and `size` shape the embedded CLDR corpora; `skip_bad_rows` skips malformed
    rows of local files (and says how many) instead of raising `CorpusError`.
    """
    name, _, argument = spec.partition(":")
    if name == "cldr" and argument:
        source, _, target = argument.partition("-")
        if not target:
            raise CorpusError(f"{spec}: expected cldr:SOURCE-TARGET, e.g. cldr:en-pt")
        try:
            pairs = cldr.parallel_pairs(source, target, **_sized(size, seed))
        except InputError as error:
            raise CorpusError(f"{spec}: {error}") from None
        return _by_hash(spec, "parallel", pairs, key=lambda pair: pair[0])
    if spec == "pydocs":
        return _by_hash(spec, "text", list(pydocs.documents()), key=lambda text: text)
    if spec == "cldr-langid":
        examples = cldr.langid_examples(**_sized(size, seed))
        labels = sorted({label for _, label in examples})
        return _by_hash(spec, "classification", examples, key=lambda ex: ex[0], labels=labels)
    if spec == "cldr-tags":
        examples = cldr.tagging_examples(**_sized(size, seed))
        key = lambda ex: " ".join(ex[0])  # noqa: E731
        return _by_hash(spec, "tagging", examples, key=key, labels=cldr.TAGS)
    if name == "tfds" and argument:
        return _tfds_corpus(spec, argument)
    if name == "tsv" and argument:
        rows, skipped = _read_rows(argument, skip_bad_rows, _tsv_row)
        return _by_hash(spec, "parallel", rows, key=lambda pair: pair[0], skipped=skipped)
    if name == "csv" and argument:
        rows, skipped = _read_rows(argument, skip_bad_rows, _csv_row)
        labels = sorted({label for _, label in rows})
        return _by_hash(spec, "classification", rows, lambda ex: ex[0], labels, skipped)
    if name == "text" and argument:
        documents, skipped = _read_text(argument, skip_bad_rows)
        return _by_hash(spec, "text", documents, key=lambda text: text, skipped=skipped)
    raise CorpusError(
        f"unknown corpus {spec!r}; expected cldr:SRC-TGT, pydocs, cldr-langid, cldr-tags, "
        "tfds:NAME, tsv:PATH, text:GLOB or csv:PATH"
    )


def _sized(size, seed):
    return {"seed": seed} if size is None else {"seed": seed, "size": size}


def _lines(path, report):
    """(line number, text) of a UTF-8 file; a line that does not decode is a bad row."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except OSError as error:
        raise CorpusError(f"{path}: cannot read: {error.strerror}") from None
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as error:
            report(path, number, f"invalid UTF-8 at byte {error.start}")


class _BadRows:
    """Raises on the first bad row, or counts them when skipping."""

    def __init__(self, skip):
        self.skip = skip
        self.count = 0

    def __call__(self, path, line, problem):
        if not self.skip:
            raise CorpusError(f"{path}:{line}: {problem}")
        self.count += 1

    def done(self, path):
        if self.count:
            print(f"{path}: skipped {self.count} bad rows", file=sys.stderr)
        return self.count


def _read_rows(path, skip_bad_rows, parse):
    """The non-blank lines of `path` through `parse(number, line)`, which returns a row,
    `None` to skip the line silently (a header), or a string naming what is wrong."""
    bad = _BadRows(skip_bad_rows)
    rows = []
    for number, line in _lines(path, bad):
        if not line.strip():
            continue
        row = parse(number, line)
        if isinstance(row, str):
            bad(path, number, row)
        elif row is not None:
            rows.append(row)
    if not rows:
        raise CorpusError(f"{path}: empty corpus (no rows)")
    return rows, bad.done(path)


def _tsv_row(number, line):
    columns = line.split("\t")
    if len(columns) < 2:
        return "expected at least 2 tab-separated columns (source, target), found 1"
    return columns[0].strip(), columns[1].strip()


def _csv_row(number, line):
    fields = next(csv.reader(io.StringIO(line)))
    if number == 1 and [f.strip().lower() for f in fields] == ["text", "label"]:
        return None
    if len(fields) != 2 or not fields[1].strip():
        return f"expected 2 comma-separated fields (text, label), found {len(fields)}"
    return fields[0].strip(), fields[1].strip()


def _read_text(pattern, skip_bad_rows):
    """Paragraphs (blocks separated by blank lines) of every file matching `pattern`."""
    paths = sorted(p for p in glob.glob(os.path.expanduser(pattern)) if os.path.isfile(p))
    if not paths:
        raise CorpusError(f"{pattern}: no such file")
    bad = _BadRows(skip_bad_rows)
    documents = []
    for path in paths:
        paragraph = []
        for _, line in _lines(path, bad):
            if line.strip():
                paragraph.append(line.strip())
            elif paragraph:
                documents.append(" ".join(paragraph))
                paragraph = []
        if paragraph:
            documents.append(" ".join(paragraph))
    if not documents:
        raise CorpusError(f"{pattern}: empty corpus (no text)")
    bad.done(pattern)
    return documents, bad.count


def _tfds_corpus(spec, name):
    """A TFDS dataset, read with `tfds.load`; needs the dataset downloaded (or mocked)."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name)
    except Exception as error:  # tfds raises several types for an unknown name
        raise CorpusError(f"{spec}: {str(error).splitlines()[0]}") from None
    info = builder.info
    available = set(info.splits) if info.splits else set(SPLITS)
    supervised = info.supervised_keys
    features = info.features
    splits = {}
    for split in SPLITS:
        if split not in available:
            continue
        dataset = tfds.load(name, split=split, as_supervised=bool(supervised))
        splits[split] = [
            _decode(example, supervised, features) for example in tfds.as_numpy(dataset)
        ]
    if "train" not in splits:
        raise CorpusError(f"{spec}: the dataset has no train split")
    if supervised:
        label = features[supervised[1]] if isinstance(supervised[1], str) else None
        kind = "classification" if isinstance(label, tfds.features.ClassLabel) else "parallel"
    else:
        kind, label = "text", None
    labels = tuple(label.names) if kind == "classification" else ()
    if kind == "classification":
        for split, examples in splits.items():
            splits[split] = [(text, labels[index]) for text, index in examples]
    if "validation" not in splits:  # carve one out of train, by hash, as local files do
        key = (lambda ex: ex) if kind == "text" else (lambda ex: ex[0])
        train = splits.pop("train")
        splits["train"] = [ex for ex in train if split_of(key(ex), 0.05, 0.0) == "train"]
        splits["validation"] = [ex for ex in train if split_of(key(ex), 0.05, 0.0) != "train"]
    splits.setdefault("test", [])
    corpus = Corpus(spec, kind, labels=labels, **splits)
    _require_examples(corpus, spec)
    return corpus


def _decode(example, supervised, features):
    def text(value):
        return value.decode("utf-8") if isinstance(value, bytes) else value

    if supervised:
        first, second = example
        return (text(first), second if not isinstance(second, bytes) else text(second))
    name = next(key for key, feature in features.items() if _is_text(feature))
    return text(example[name])


def _is_text(feature):
    import tensorflow_datasets as tfds

    return isinstance(feature, tfds.features.Text)
