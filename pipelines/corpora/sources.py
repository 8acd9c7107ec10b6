"""Corpora named by one spec string, each with train/validation/test splits.

Embedded (no download): `cldr:SRC-TGT`, `pydocs`, `cldr-langid`, `cldr-tags`.
Online: `tfds:NAME` (e.g. `tfds:ted_hrlr_translate/pt_to_en`). Local files: `tsv:`,
`csv:`, `text:` and aligned `lines:` files, split by hash or one per split (see
`pipelines.corpora.local_files`); named entities in CoNLL columns, `conll:` (see
`pipelines.corpora.conll`).
"""

from pipelines.corpora import cldr, pydocs
from pipelines.corpora.conll import load_conll
from pipelines.corpora.corpus import Corpus
from pipelines.corpora.local_files import load_local
from pipelines.corpora.splits import SPLITS, CorpusError, split_of
from tf_transformer.errors import InputError

EMBEDDED = ("pydocs", "cldr-langid", "cldr-tags")  # whole specs
PREFIXES = ("cldr", "tfds", "tsv", "csv", "text", "lines", "conll")  # NAME:ARGUMENT specs


def names_a_corpus(spec: str) -> bool:
    """Whether `spec` is one of `load_corpus`'s forms (rather than, say, a file path)."""
    return spec in EMBEDDED or spec.partition(":")[0] in PREFIXES


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
    files (`tsv:`, `lines:`) are streamed from disk (`pipelines.corpora.streaming.StreamedCorpus`,
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
    if name == "conll" and argument:
        return load_conll(spec, argument, skip_bad_rows)
    raise CorpusError(
        f"unknown corpus {spec!r}; expected cldr:SRC-TGT, pydocs, cldr-langid, cldr-tags, "
        "tfds:NAME, tsv:PATH, csv:PATH, text:GLOB, lines:SRC-TGT:PATH or conll:PATH"
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
