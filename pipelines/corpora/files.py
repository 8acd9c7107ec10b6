"""Reading a user's files: the `split=PATH` part of a spec, lines of UTF-8 text, rows of
TSV and CSV, and bad rows (one line naming file and line, or counted and skipped). What
the in-memory (`local_files`) and streamed (`streaming`) corpora both read with."""

import csv
import io
import os
import sys

from pipelines.corpora.splits import SPLITS, CorpusError

DEFAULT_FRACTION = 0.05


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
    """(line number, text) of a UTF-8 file (or of its `raws`, already read), without the
    byte-order mark a file may start with (GLUE's TSV files do); a line that does not
    decode is a bad row."""
    for number, raw in enumerate(raw_lines(path) if raws is None else raws, start=1):
        try:
            yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
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
