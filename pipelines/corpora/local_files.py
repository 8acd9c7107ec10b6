"""Corpora from the user's own files: `tsv:`, `csv:`, `text:` and aligned `lines:` files,
one file split by hash or one file (or file pair) per split.

    tsv:pairs.tsv                                   one file, 90/5/5 by hash of the source
    tsv:pairs.tsv,validation=0.1,test=0.02          the same, other fractions
    tsv:train=train.tsv,validation=dev.tsv,test=test.tsv      your own splits
    lines:en-fr:data/train                          data/train.en + data/train.fr, by hash
    lines:en-fr:train=data/train,validation=data/val,test=data/test_2016_flickr
    lines:en-fr:data                                a directory: data/train.{en,fr},
                                                    data/{val,valid,validation,dev}.{en,fr},
                                                    data/test*.{en,fr}
    text:input.txt,validation=0.1,test=0,by=position   the text as it is, cut by position:
                                                    the first 90% trains, the last 10%
                                                    validates (char-rnn's, nanoGPT's split)

A split left out of a per-split spec is carved out of train by hash (5%, or the fraction
given). Labelled files with a header row (`label=`, `text=`, `tags=`): see
`pipelines.corpora.labelled`. Every bad input stops with one line naming the file (and line).
"""

import glob
import os

import tensorflow as tf

from pipelines.corpora import streaming
from pipelines.corpora.corpus import Corpus, example_key
from pipelines.corpora.files import (
    DEFAULT_FRACTION,
    BadRows,
    csv_row,
    lines,
    parse_spec,
    raw_lines,
    read_rows,
    tsv_row,
)
from pipelines.corpora.labelled import COLUMN_OPTIONS, has_label_header, read_labelled
from pipelines.corpora.splits import SPLITS, CorpusError, split_ids

VALIDATION_STEMS = ("validation", "valid", "val", "dev")


def assemble(spec, kind, files, fractions, read, key, labels=None):
    """A `Corpus` from per-split (or one) files: `read(path)` gives `(examples, skipped)`;
    splits without a file are carved out of train by hash of `key(example)`."""
    skipped = 0
    splits = {}
    for name, path in files.items():
        splits[name], bad = read(path)
        skipped += bad
    pool = splits.pop("all", None) or splits.pop("train")
    validation = 0.0 if "validation" in splits else fractions.get("validation", DEFAULT_FRACTION)
    test = 0.0 if "test" in splits else fractions.get("test", DEFAULT_FRACTION)
    carved = {name: [] for name in SPLITS}
    keys = tf.constant([key(example) for example in pool], tf.string)
    for example, split in zip(pool, split_ids(keys, validation, test).numpy(), strict=True):
        carved[SPLITS[split]].append(example)
    for name in SPLITS:
        splits.setdefault(name, carved[name])
    if not splits["train"]:
        raise CorpusError(f"{spec}: empty corpus (no training examples)")
    if labels is not None:  # the labels (the tags, for tagging) the files use
        found = set()
        for examples in splits.values():
            for _, label in examples:
                found.update(label if kind == "tagging" else [label])
        labels = sorted(found)
    return Corpus(spec, kind, labels=tuple(labels or ()), skipped=skipped, **splits)


def split_by_position(spec, files, fractions):
    """The text of the files (in name order, each file whole, newlines kept) cut by position
    into train, validation and test: one document a split."""
    if set(files) != {"all"}:
        raise CorpusError(f"{spec}: by=position cuts one file (or glob); give no per-split files")
    text = "".join(whole_text(path) for path in glob_paths(files["all"]))
    if not text.strip():
        raise CorpusError(f"{files['all']}: empty corpus (no text)")
    validation = fractions.get("validation", DEFAULT_FRACTION)
    test = fractions.get("test", DEFAULT_FRACTION)
    train_end = round(len(text) * (1 - validation - test))
    validation_end = round(len(text) * (1 - test))
    splits = [text[:train_end], text[train_end:validation_end], text[validation_end:]]
    splits = {name: [part] if part else [] for name, part in zip(SPLITS, splits, strict=True)}
    if not splits["train"]:
        raise CorpusError(f"{spec}: empty corpus (no training text)")
    return Corpus(spec, "text", **splits)


def whole_text(path):
    """A file's UTF-8 text as it is; bytes that do not decode are an error naming file and
    line."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise CorpusError(f"{path}: cannot read: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CorpusError(f"{path}:{line}: invalid UTF-8 (not a text file?)") from None


def glob_paths(pattern):
    paths = sorted(p for p in glob.glob(os.path.expanduser(pattern)) if os.path.isfile(p))
    if not paths:
        raise CorpusError(f"{pattern}: no such file")
    return paths


def spec_options(spec, kind_name, argument):
    """`argument` without its option items, `by=hash|position` (default hash) and the
    column names (`text=`, `label=`, `tags=`, for labelled files with a header row)."""
    items, by, names = [], "hash", {}
    for item in argument.split(","):
        name, sep, value = item.partition("=")
        if sep and name == "by":
            if value not in ("hash", "position"):
                raise CorpusError(f"{spec}: by={value!r}; use by=hash or by=position")
            by = value
        elif sep and name in COLUMN_OPTIONS:
            if not value:
                raise CorpusError(f"{spec}: no column name after {name}=")
            names[name] = value
        else:
            items.append(item)
    if by == "position" and kind_name != "text":
        raise CorpusError(f"{spec}: by=position is for text: files")
    if names and kind_name not in ("tsv", "csv"):
        raise CorpusError(f"{spec}: {', '.join(names)}= name columns of tsv: or csv: files")
    if "tags" in names and "label" in names:
        raise CorpusError(f"{spec}: label= (classification) or tags= (tagging), not both")
    if "tags" in names and "pair" in names:
        raise CorpusError(f"{spec}: pair= names a second text to classify with; not for tags=")
    return ",".join(items), by, names


def read_text(pattern, skip_bad_rows):
    """Paragraphs (blocks separated by blank lines) of every file matching `pattern`."""
    bad = BadRows(skip_bad_rows)
    documents = []
    for path in glob_paths(pattern):
        paragraph = []
        for _, line in lines(path, bad):
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


def read_aligned(stem, languages, skip_bad_rows):
    """`(pairs, skipped)` from `stem.SRC` and `stem.TGT`, line N with line N. Pairs with a
    blank side are left out; different line counts are an error naming both files."""
    source, target = (f"{stem}.{language}" for language in languages)
    bad = BadRows(skip_bad_rows)
    raws = [list(raw_lines(path)) for path in (source, target)]  # each file read once
    counts = [len(side) for side in raws]
    if counts[0] != counts[1]:
        raise CorpusError(
            f"{source} has {counts[0]:,} lines but {target} has {counts[1]:,}; "
            "aligned files need one line a sentence on both sides"
        )
    sides = [
        dict(lines(path, bad, side)) for path, side in zip((source, target), raws, strict=True)
    ]
    pairs = []
    for number in range(1, counts[0] + 1):
        if number in sides[0] and number in sides[1]:
            pair = sides[0][number].strip(), sides[1][number].strip()
            if pair[0] and pair[1]:
                pairs.append(pair)
    if not pairs:
        raise CorpusError(f"{source}, {target}: empty corpus (no aligned lines)")
    return pairs, bad.done(source)


def directory_stems(spec, directory, languages):
    """Per-split stems of a directory of aligned files: `train`, the first of `validation`,
    `valid`, `val`, `dev`, and `test` (or the only `test*` stem)."""
    source = languages[0]

    def stem_exists(name):
        return os.path.isfile(os.path.join(directory, f"{name}.{source}"))

    files = {}
    if not stem_exists("train"):
        raise CorpusError(f"{spec}: {directory} has no train.{source}")
    files["train"] = os.path.join(directory, "train")
    for name in VALIDATION_STEMS:
        if stem_exists(name):
            files["validation"] = os.path.join(directory, name)
            break
    tests = sorted(
        os.path.basename(path)[: -len(source) - 1]
        for path in glob.glob(os.path.join(glob.escape(directory), f"test*.{source}"))
    )
    if "test" in tests:
        tests = ["test"]
    if len(tests) > 1:
        raise CorpusError(
            f"{spec}: several test sets ({', '.join(tests)}); name one: test={directory}/..."
        )
    if tests:
        files["test"] = os.path.join(directory, tests[0])
    return files


def load_local(spec, kind_name, argument, skip_bad_rows, stream=True):
    """The corpus of a `tsv:`, `csv:`, `text:` or `lines:` spec (`argument` is what
    follows the colon). Parallel files (`tsv:`, `lines:`) are streamed
    (`pipelines.corpora.streaming`) unless `stream` is false."""
    if kind_name == "lines":
        languages, sep, rest = argument.partition(":")
        languages = tuple(languages.split("-"))
        if not sep or len(languages) != 2 or not all(languages) or not rest:
            raise CorpusError(f"{spec}: expected lines:SRC-TGT:PATH, e.g. lines:en-fr:data/train")
        if os.path.isdir(os.path.expanduser(rest)):
            files, fractions = directory_stems(spec, os.path.expanduser(rest), languages), {}
        else:
            files, fractions = parse_spec(spec, rest)
        if stream:
            skipped = sum(
                streaming.check_aligned(stem, languages, skip_bad_rows) for stem in files.values()
            )
            read = streaming.aligned_dataset(languages)
            return streaming.StreamedCorpus(spec, files, fractions, read, skipped)
        return assemble(
            spec,
            "parallel",
            files,
            fractions,
            lambda stem: read_aligned(stem, languages, skip_bad_rows),
            key=lambda pair: pair[0],
        )
    argument, by, names = spec_options(spec, kind_name, argument)
    files, fractions = parse_spec(spec, argument)
    if by == "position":
        return split_by_position(spec, files, fractions)
    first = files.get("all") or files["train"]
    if names or (kind_name == "csv" and has_label_header(first)):
        delimiter = "\t" if kind_name == "tsv" else ","
        read = lambda path: read_labelled(path, names, delimiter, skip_bad_rows)  # noqa: E731
        kind = "tagging" if "tags" in names else "classification"
        return assemble(spec, kind, files, fractions, read, key=example_key, labels=True)
    if kind_name == "tsv" and stream:
        skipped = sum(streaming.check_rows(path, skip_bad_rows, tsv_row) for path in files.values())
        return streaming.StreamedCorpus(spec, files, fractions, streaming.tsv_dataset, skipped)
    if kind_name == "tsv":
        read = lambda path: read_rows(path, skip_bad_rows, tsv_row)  # noqa: E731
        return assemble(spec, "parallel", files, fractions, read, key=lambda pair: pair[0])
    if kind_name == "csv":
        read = lambda path: read_rows(path, skip_bad_rows, csv_row)  # noqa: E731
        return assemble(
            spec, "classification", files, fractions, read, key=lambda ex: ex[0], labels=True
        )
    read = lambda pattern: read_text(pattern, skip_bad_rows)  # noqa: E731
    return assemble(spec, "text", files, fractions, read, key=lambda text: text)
