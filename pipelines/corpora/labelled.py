"""Labelled files with a header row naming their columns, for classification and tagging:

    tsv:train.tsv,label=label                         the label column; the text is the
                                                      other column (of two) or `text`
    tsv:train=train.tsv,validation=dev.tsv,text=sentence,label=label
    csv:reviews.csv                                   csv: with a `label` header column
    tsv:ner.tsv,text=tokens,tags=tags                 tagging: space-separated tokens and
                                                      one tag a token
    tsv:train.tsv,text=#1 String,pair=#2 String,label=Quality
                                                      pairs: two texts a row, read together

Labels are any non-empty strings. A missing header, an unknown column, a row without its
label (or either text), or tags that do not match the tokens: one line naming file and
line. A byte-order mark before the header (GLUE's files have one) is not part of it.
"""

import csv
import io

from pipelines.corpora.files import BadRows, lines
from pipelines.corpora.splits import CorpusError

COLUMN_OPTIONS = ("text", "pair", "label", "tags")


def has_label_header(path) -> bool:
    """Whether a CSV file's first non-blank line is a header with a `label` column."""
    for _, line in lines(path, BadRows(False)):
        if line.strip():
            return "label" in [field.strip().lower() for field in _fields(line, ",")]
    return False


def _fields(line, delimiter):
    if delimiter == "\t":
        return line.split("\t")
    return next(csv.reader(io.StringIO(line)))


class HeaderColumns:
    """Which columns hold the text (and the second text of a pair) and the label (or
    tags), from a file's header row and the spec's `text=`, `pair=`, `label=`, `tags=`
    names."""

    def __init__(self, path, number, header, names):
        columns = [column.strip() for column in header]
        lowered = [column.lower() for column in columns]
        where = f"{path}:{number}"
        shown = ", ".join(repr(c) for c in columns)
        self.tagging = "tags" in names
        role = "tags" if self.tagging else "label"
        target = names.get(role, role)
        if target.lower() not in lowered:
            raise CorpusError(
                f"{where}: no {target!r} column in the header ({shown}); the first "
                f"line must name the columns, and {role}= names the one to learn"
            )
        self.target = lowered.index(target.lower())
        self.pair = None
        if "pair" in names:
            self.pair = self._named_column(where, shown, lowered, names["pair"])
        self.text = self._text_column(where, shown, lowered, names.get("text"))
        self.width = len(columns)

    @staticmethod
    def _named_column(where, shown, lowered, name):
        if name.lower() not in lowered:
            raise CorpusError(f"{where}: no {name!r} column in the header ({shown})")
        return lowered.index(name.lower())

    def _text_column(self, where, shown, lowered, name):
        if name is not None:
            return self._named_column(where, shown, lowered, name)
        if "text" in lowered:
            return lowered.index("text")
        others = [i for i in range(len(lowered)) if i not in (self.target, self.pair)]
        if len(others) != 1:
            raise CorpusError(f"{where}: name the text column, text=COLUMN ({shown})")
        return others[0]

    def row(self, fields):
        """`(text, label)`, `((text, pair), label)` or `(tokens, tags)`, or a string naming
        what is wrong."""
        if len(fields) != self.width:
            return f"expected {self.width} columns as the header, found {len(fields)}"
        text, target = fields[self.text].strip(), fields[self.target].strip()
        if not text:
            return "empty text"
        if not target:
            return "empty tags" if self.tagging else "empty label"
        if self.pair is not None:
            pair = fields[self.pair].strip()
            return ((text, pair), target) if pair else "empty second text (pair=)"
        if not self.tagging:
            return text, target
        tokens, tags = tuple(text.split()), tuple(target.split())
        if len(tokens) != len(tags):
            return f"{len(tokens)} tokens but {len(tags)} tags"
        return tokens, tags


def read_labelled(path, names, delimiter, skip_bad_rows):
    """`(examples, skipped)` of a file whose first non-blank line is its header."""
    bad = BadRows(skip_bad_rows)
    columns, examples = None, []
    for number, line in lines(path, bad):
        if not line.strip():
            continue
        fields = _fields(line, delimiter)
        if columns is None:
            columns = HeaderColumns(path, number, fields, names)
            continue
        example = columns.row(fields)
        if isinstance(example, str):
            bad(path, number, example)
        else:
            examples.append(example)
    if not examples:
        raise CorpusError(f"{path}: empty corpus (no labelled rows)")
    return examples, bad.done(path)
