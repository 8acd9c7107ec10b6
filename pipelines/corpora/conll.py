"""Named-entity data as CoNLL shared tasks ship it: one token a line in whitespace-separated
columns, a blank line between sentences, `-DOCSTART-` lines between documents.

    conll:train=conll2003/train.txt,validation=conll2003/valid.txt,test=0
    conll:ner.txt                      one file, split by hash of the sentence
    conll:ner.txt,word=0,tag=3         the columns (from 0; negative from the end):
                                       by default the first is the word, the last the tag

Tags are IOB: `O`, `B-TYPE`, `I-TYPE`. IOB2 (every entity starts with `B-`, CoNLL-2003
as usually distributed) and IOB1 (`B-` only between two entities of one type, the 2003
release's original) are both read, and IOB1 is rewritten as IOB2, so that an entity is the
same thing in training and in `conlleval`'s count. Any other tag, or a line without the
columns: one line naming file and line.
"""

import re

from pipelines.corpora.files import BadRows, lines
from pipelines.corpora.splits import CorpusError

TAG = re.compile(r"O|[BI]-\S+")
COLUMNS = ("word", "tag")


def column_options(spec, names: dict) -> dict:
    """`{"word": index, "tag": index}` from a spec's `word=`/`tag=` items (defaults 0, -1)."""
    columns = {"word": 0, "tag": -1}
    for name, value in names.items():
        try:
            columns[name] = int(value)
        except ValueError:
            raise CorpusError(f"{spec}: {name}={value!r} is not a column number") from None
    return columns


def to_iob2(tags):
    """IOB1 tags as IOB2: an `I-X` that does not continue an `X` entity starts one."""
    fixed, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        fixed.append(tag)
        previous = tag
    return tuple(fixed)


def read_conll(path, columns: dict, skip_bad_rows=False):
    """`(sentences, skipped)`: `(words, tags)` tuples of a CoNLL column file, tags as IOB2."""
    bad = BadRows(skip_bad_rows)
    sentences, words, tags, broken = [], [], [], False

    def end_sentence():
        nonlocal words, tags, broken
        if words and not broken:
            sentences.append((tuple(words), to_iob2(tags)))
        words, tags, broken = [], [], False

    for number, line in lines(path, bad):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            end_sentence()
            continue
        try:
            word, tag = fields[columns["word"]], fields[columns["tag"]]
        except IndexError:
            bad(
                path, number, f"{len(fields)} columns; word={columns['word']}, tag={columns['tag']}"
            )
            broken = True
            continue
        if not TAG.fullmatch(tag):
            bad(path, number, f"tag {tag!r} is not IOB (O, B-TYPE or I-TYPE)")
            broken = True
            continue
        words.append(word)
        tags.append(tag)
    end_sentence()
    if not sentences:
        raise CorpusError(f"{path}: empty corpus (no sentences)")
    return sentences, bad.done(path)


def load_conll(spec, argument, skip_bad_rows=False):
    """The tagging corpus of a `conll:` spec (`argument`: what follows the colon)."""
    from pipelines.corpora.files import parse_spec
    from pipelines.corpora.local_files import assemble

    items, names = [], {}
    for item in argument.split(","):
        name, sep, value = item.partition("=")
        if sep and name in COLUMNS:
            names[name] = value
        else:
            items.append(item)
    columns = column_options(spec, names)
    files, fractions = parse_spec(spec, ",".join(items))
    return assemble(
        spec,
        "tagging",
        files,
        fractions,
        lambda path: read_conll(path, columns, skip_bad_rows),
        key=lambda example: " ".join(example[0]),
        labels=True,
    )
