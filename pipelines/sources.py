"""Corpora named by one spec string, each with train/validation/test splits.

Embedded (no download): `cldr:SRC-TGT`, `pydocs`, `cldr-langid`, `cldr-tags`.
Online: `tfds:NAME` (e.g. `tfds:ted_hrlr_translate/pt_to_en`). Local files: `tsv:`,
`csv:`, `text:` and aligned `lines:` files, split by hash or one per split (see
`pipelines.local_files`).
"""

import dataclasses

from pipelines import cldr, pydocs
from pipelines.local_files import load_local
from pipelines.runs import vocab_sample
from pipelines.splits import SPLITS, CorpusError, split_of, summary_line
from tf_transformer.errors import InputError

KINDS = ("parallel", "text", "classification", "tagging")


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


def load_corpus(
    spec: str, seed: int = 0, skip_bad_rows: bool = False, size: int = None, stream: bool = True
) -> Corpus:
    """The corpus named by `spec`; see the module docstring for the forms.

    `seed` and `size` shape the embedded CLDR corpora; `skip_bad_rows` skips malformed
    rows of local files (and says how many) instead of raising `CorpusError`. Parallel
    files (`tsv:`, `lines:`) are streamed from disk (`pipelines.streaming.StreamedCorpus`,
    the same methods) unless `stream` is false.
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
    if name in ("tsv", "csv", "text", "lines") and argument:
        return load_local(spec, name, argument, skip_bad_rows, stream)
    raise CorpusError(
        f"unknown corpus {spec!r}; expected cldr:SRC-TGT, pydocs, cldr-langid, cldr-tags, "
        "tfds:NAME, tsv:PATH, csv:PATH, text:GLOB or lines:SRC-TGT:PATH"
    )


def _sized(size, seed):
    return {"seed": seed} if size is None else {"seed": seed, "size": size}


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
