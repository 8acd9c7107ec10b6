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

A split left out of a per-split spec is carved out of train by hash (5%, or the fraction
given). Every bad input stops with one line naming the file (and line).
"""

import csv
import glob
import io
import os
import sys

import tensorflow as tf

from pipelines.splits import SPLITS, CorpusError, split_ids

DEFAULT_FRACTION = 0.05
VALIDATION_STEMS = ("validation", "valid", "val", "dev")


def parse_spec(spec: str, argument: str):
    """`(files, fractions)`: `files` maps split names to paths (a lone path is "all"),
    `fractions` the validation/test fractions for splitting by hash."""
    files, fractions = {}, {}
    for item in argument.split(","):
        name, sep, value = item.partition("=")
        if not sep:
            if "all" in files:
                raise CorpusError(f"{spec}: more than one file; name their splits (train=...)")
            files["all"] = os.path.expanduser(item)
            continue
        if name not in SPLITS:
            raise CorpusError(f"{spec}: unknown split {name!r}; use train, validation or test")
        fraction = _fraction(value)
        if fraction is not None and name != "train":
            fractions[name] = fraction
        elif not value:
            raise CorpusError(f"{spec}: no file or fraction after {name}=")
        else:
            files[name] = os.path.expanduser(value)
    if "all" in files and len(files) > 1:
        raise CorpusError(f"{spec}: give one file to split by hash, or a file per split")
    if "all" not in files and "train" not in files:
        raise CorpusError(f"{spec}: no train file (train=PATH)")
    if sum(fractions.values()) >= 1:
        raise CorpusError(f"{spec}: validation and test fractions sum to 1 or more")
    return files, fractions


def _fraction(value):
    try:
        fraction = float(value)
    except ValueError:
        return None
    return fraction if 0 <= fraction < 1 else None


def assemble(spec, kind, files, fractions, read, key, labels=None):
    """A `Corpus` from per-split (or one) files: `read(path)` gives `(examples, skipped)`;
    splits without a file are carved out of train by hash of `key(example)`."""
    from pipelines.sources import Corpus

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
    if labels is not None:
        labels = sorted({label for examples in splits.values() for _, label in examples})
    return Corpus(spec, kind, labels=tuple(labels or ()), skipped=skipped, **splits)


# Reading files ---------------------------------------------------------------------------


def raw_lines(path):
    """The lines of a file as bytes (without their newlines), read one at a time: a final
    newline ends the last line, it does not start another."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: a directory, not a file") from None
    except OSError as error:
        raise CorpusError(f"{path}: cannot read: {error.strerror}") from None
    with handle:
        for raw in handle:
            raw = raw[:-1] if raw.endswith(b"\n") else raw
            yield raw[:-1] if raw.endswith(b"\r") else raw


def lines(path, report, raws=None):
    """(line number, text) of a UTF-8 file (or of its `raws`, already read); a line that
    does not decode is a bad row."""
    for number, raw in enumerate(raw_lines(path) if raws is None else raws, start=1):
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as error:
            report(path, number, f"invalid UTF-8 at byte {error.start}")


class BadRows:
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


def read_rows(path, skip_bad_rows, parse):
    """The non-blank lines of `path` through `parse(number, line)`, which returns a row,
    `None` to skip the line silently (a header), or a string naming what is wrong."""
    bad = BadRows(skip_bad_rows)
    rows = []
    for number, line in lines(path, bad):
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


def tsv_row(number, line):
    columns = line.split("\t")
    if len(columns) < 2:
        return "expected at least 2 tab-separated columns (source, target), found 1"
    return columns[0].strip(), columns[1].strip()


def csv_row(number, line):
    fields = next(csv.reader(io.StringIO(line)))
    if number == 1 and [f.strip().lower() for f in fields] == ["text", "label"]:
        return None
    if len(fields) != 2 or not fields[1].strip():
        return f"expected 2 comma-separated fields (text, label), found {len(fields)}"
    return fields[0].strip(), fields[1].strip()


def read_text(pattern, skip_bad_rows):
    """Paragraphs (blocks separated by blank lines) of every file matching `pattern`."""
    paths = sorted(p for p in glob.glob(os.path.expanduser(pattern)) if os.path.isfile(p))
    if not paths:
        raise CorpusError(f"{pattern}: no such file")
    bad = BadRows(skip_bad_rows)
    documents = []
    for path in paths:
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
    (`pipelines.streaming`) unless `stream` is false."""
    from pipelines import streaming

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
    files, fractions = parse_spec(spec, argument)
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
