"""Named entities in the graph: IOB tag sets, the tag sequence they allow (decoded with
Viterbi), and the entity spans of tagged words.

IOB2 (the CoNLL reader's, `pipelines.corpora.conll`) opens an entity of type `X` with
`B-X` and continues it with `I-X`; so `I-X` may only follow `B-X` or `I-X`, and a text
cannot begin with it. A tagger that picks each word's most likely tag on its own can break
that rule (`O I-ORG`, `B-PER I-LOC`); the CoNLL scorer then reads the stray `I-` as an
entity of its own, which is almost always wrong. `viterbi` instead picks, per text, the
sequence of tags that the rule allows with the largest product of the words'
probabilities.
"""

import re

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

NEVER = -1e9  # the log-score of a transition IOB2 does not allow


def is_iob(labels) -> bool:
    """Whether tags are IOB entity tags (`O`, `B-TYPE`, `I-TYPE`, at least one `B-`)."""
    return all(re.fullmatch(r"O|[BI]-\S+", label) for label in labels) and any(
        label.startswith("B-") for label in labels
    )


def iob_transitions(labels):
    """`(start, transitions)` float32 log-scores for IOB2 `labels`: `start[j]` 0 where tag
    `j` may begin a text, `NEVER` where not (an `I-`); `transitions[i, j]` 0 where tag `j`
    may follow tag `i`, `NEVER` where not (`I-X` after anything but `B-X` or `I-X`)."""
    count = len(labels)
    start = np.zeros(count, np.float32)
    transitions = np.zeros((count, count), np.float32)
    for j, label in enumerate(labels):
        if label.startswith("I-"):
            start[j] = NEVER
            kind = label[2:]
            for i, before in enumerate(labels):
                if before not in (f"B-{kind}", f"I-{kind}"):
                    transitions[i, j] = NEVER
    return start, transitions


def viterbi(log_probs, lengths, start, transitions):
    """The best tag sequence of each row: `log_probs` float32 `[batch, steps, tags]`, each
    row's first `lengths` steps real (the rest ignored), `start` `[tags]` and
    `transitions` `[tags, tags]` log-scores added to the path's. Returns int32 `[batch,
    steps]` (the steps past a row's length repeat its last tag)."""
    log_probs = tf.convert_to_tensor(log_probs, tf.float32)
    steps = tf.shape(log_probs)[1]
    real = tf.sequence_mask(lengths, steps)  # [batch, steps]
    by_step = tf.transpose(log_probs, [1, 0, 2])[1:]  # [steps - 1, batch, tags]
    real_by_step = tf.transpose(real, [1, 0])[1:]
    count = tf.shape(transitions)[0]
    stay = tf.range(count)

    def forward(carried, step):
        score, _ = carried
        scores, is_real = step
        candidates = score[:, :, None] + transitions[None]  # [batch, from, to]
        best_before = tf.argmax(candidates, axis=1, output_type=tf.int32)
        new = tf.reduce_max(candidates, axis=1) + scores
        keep = is_real[:, None]
        return tf.where(keep, new, score), tf.where(keep, best_before, stay[None])

    first = log_probs[:, 0] + start[None]
    empty = tf.zeros_like(first, tf.int32)
    final, pointers = tf.scan(forward, (by_step, real_by_step), initializer=(first, empty))
    final = tf.concat([first[None], final], axis=0)[-1]  # a row of one step: `first`
    last = tf.argmax(final, axis=-1, output_type=tf.int32)

    def backward(tag, pointer):  # the tag one step earlier
        return tf.gather(pointer, tag, batch_dims=1)

    earlier = tf.scan(backward, pointers, initializer=last, reverse=True)
    path = tf.concat([earlier, last[None]], axis=0)  # [steps, batch]
    return tf.transpose(path, [1, 0])


def best_sequences(probabilities, start, transitions):
    """Per text, the tag index of each word in the best sequence (`viterbi` on the log of
    `probabilities`, ragged `[batch, (words), tags]`, with the `start` and `transitions`
    log-scores); returns ragged int32 `[batch, (words)]`."""
    dense = probabilities.to_tensor(1.0)
    dense = tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)], [0, 0]])
    log_probs = tf.math.log(tf.maximum(dense, 1e-30))
    lengths = probabilities.row_lengths()
    best = viterbi(log_probs, lengths, start, transitions)
    return tf.RaggedTensor.from_tensor(best, lengths=lengths)


def split_words(texts):
    """The whitespace-separated words of each text, with the byte offsets where each starts
    and ends: ragged `(words, starts, ends)`, `[batch, (words)]` each."""
    words, starts, ends = tf_text.WhitespaceTokenizer().tokenize_with_offsets(texts)
    return words, starts, ends


def entity_spans(texts, tags, starts, ends):
    """The entities of IOB-tagged words as the CoNLL rules read them (an entity starts at
    `B-X`, or at `I-X` after a word outside it) for each text: ragged `(types, first,
    last, text)`, `[batch, (entities)]`, `first`/`last` the entity's character offsets in
    its text (`text[first:last]` in Python), `text` that substring."""
    flat = tags.flat_values
    rows = tags.value_rowids()
    inside = tf.strings.regex_full_match(flat, r"[BI]-.+")
    kind = tf.where(inside, tf.strings.regex_replace(flat, "^[BI]-", ""), "")
    first_word = tf.equal(tf.range(tf.size(rows, tf.int64)), tf.gather(tags.row_starts(), rows))
    before = tf.where(first_word, "", tf.concat([[""], kind[:-1]], 0))
    begins = inside & (tf.strings.regex_full_match(flat, "B-.+") | tf.not_equal(before, kind))
    entity = tf.cumsum(tf.cast(begins, tf.int32)) - 1  # of each word inside an entity
    opening = tf.where(begins)[:, 0]
    last_byte = tf.math.unsorted_segment_max(
        tf.boolean_mask(ends.flat_values, inside),
        tf.boolean_mask(entity, inside),
        tf.size(opening),
    )
    row = tf.gather(rows, opening)
    first_byte = tf.gather(starts.flat_values, opening)
    text = tf.gather(texts, row)
    span = tf.strings.substr(text, first_byte, last_byte - first_byte)
    before_span = tf.strings.substr(text, tf.zeros_like(first_byte), first_byte)
    first = tf.strings.length(before_span, unit="UTF8_CHAR")
    last = first + tf.strings.length(span, unit="UTF8_CHAR")
    batch = tf.shape(texts, out_type=tf.int64)[0]

    def ragged(values):
        return tf.RaggedTensor.from_value_rowids(values, row, nrows=batch)

    return ragged(tf.gather(kind, opening)), ragged(first), ragged(last), ragged(span)
