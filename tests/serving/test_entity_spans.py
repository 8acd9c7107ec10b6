"""Entity spans from IOB tags in the graph (the tagger export's `entity_*` outputs): the
entities `seqeval` reads (the `conlleval` rules), with character offsets into the text."""

import numpy as np
import tensorflow as tf
from seqeval.metrics.sequence_labeling import get_entities

from tf_transformer.serving.entities import entity_spans, split_words


def spans(texts, tags):
    texts = tf.constant(texts)
    words, starts, ends = split_words(texts)
    assert words.row_lengths().numpy().tolist() == [len(row) for row in tags]
    found = entity_spans(texts, tf.ragged.constant(tags, tf.string, ragged_rank=1), starts, ends)
    return [
        [v.decode() if isinstance(v, bytes) else v for v in row] for row in found[0].to_list()
    ], found


def test_spans_have_types_and_character_offsets_into_the_text():
    texts = ["Jürgen  Klinsmann lives in New York .", "", "nothing at all", "Ün B"]
    tags = [
        ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"],
        [],
        ["O", "O", "O"],
        ["B-ORG", "B-ORG"],
    ]
    types, (_, first, last, text) = spans(texts, tags)
    assert types == [["PER", "LOC"], [], [], ["ORG", "ORG"]]
    assert first.to_list() == [[0, 27], [], [], [0, 3]]
    assert last.to_list() == [[17, 35], [], [], [2, 4]]
    for row, source in enumerate(texts):  # character offsets: Python slices give the text
        for a, b, span in zip(
            first[row].numpy(), last[row].numpy(), text[row].numpy(), strict=True
        ):
            assert source[a:b] == span.decode()


def test_spans_follow_the_conlleval_rules_on_any_tag_sequence():
    rng = np.random.default_rng(0)
    choices = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-MISC"]
    rows = [list(rng.choice(choices, rng.integers(0, 9))) for _ in range(300)]
    texts = [" ".join(f"w{i}" for i in range(len(row))) for row in rows]
    types, (_, first, last, _) = spans(texts, rows)
    for row, tags in enumerate(rows):
        expected = get_entities(tags)  # (type, first word, last word)
        assert types[row] == [kind for kind, _, _ in expected], tags
        offsets = [(texts[row].split(" ")[:a], b) for _, a, b in expected]
        starts = [sum(len(w) + 1 for w in before) for before, _ in offsets]
        ends = [len(" ".join(texts[row].split(" ")[: b + 1])) for _, _, b in expected]
        assert first[row].numpy().tolist() == starts
        assert last[row].numpy().tolist() == ends
