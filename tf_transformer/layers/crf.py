"""A linear-chain conditional random field over tags (Lafferty et al. 2001; the BiLSTM-CRF
taggers of Lample et al. 2016 and Ma and Hovy 2016).

A tagger's logits score each word's tags on their own; the CRF adds a learned score for
every pair of neighbouring tags (`transitions[i, j]`: tag `j` right after tag `i`) and for
the tag a text starts with (`start`). A sequence's score is the sum of both, and training
maximises the log-probability of the true sequence among all sequences of the text's
length. `negative_log_likelihood` computes it with the forward algorithm (`keras.ops`);
the best sequence is found with Viterbi (`serving.entities.viterbi`).
"""

import keras
from keras import ops


def first_to_front(values, real):
    """`values` `(batch, length, ...)` with each row's `real` positions moved to its front,
    in order (the rest after them): a row's words, wherever their first pieces are."""
    length = ops.shape(real)[1]
    positions = ops.arange(length)[None, :]
    order = ops.argsort(ops.where(real, positions, positions + length), axis=1)
    if len(values.shape) == 3:
        order = order[..., None]
    return ops.take_along_axis(values, order, axis=1)


@keras.saving.register_keras_serializable(package="tf_transformer")
class LinearChainCRF(keras.layers.Layer):
    """The `start` `(num_tags,)` and `transitions` `(num_tags, num_tags)` scores of a
    linear-chain CRF (float32, zeros at first: the tags' own scores alone)."""

    def __init__(self, num_tags, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_tags = num_tags

    def build(self, input_shape=None):
        self.start = self.add_weight(shape=(self.num_tags,), initializer="zeros", name="start")
        self.transitions = self.add_weight(
            shape=(self.num_tags, self.num_tags), initializer="zeros", name="transitions"
        )
        self.built = True

    def negative_log_likelihood(self, emissions, tags, lengths):
        """Per row, `log Z - score(tags)`: `emissions` float32 `(batch, steps, num_tags)`,
        `tags` int `(batch, steps)`, each row's first `lengths` steps real (a row of length
        0 costs 0)."""
        emissions = ops.cast(emissions, "float32")
        tags = ops.cast(tags, "int32")
        steps = ops.shape(emissions)[1]
        real = ops.arange(steps)[None, :] < lengths[:, None]  # (batch, steps)
        realf = ops.cast(real, "float32")
        # the true sequence's score: its tags' scores, its start and its transitions
        own = ops.take_along_axis(emissions, tags[..., None], axis=2)[..., 0]
        pairs = ops.take(
            ops.reshape(self.transitions, (-1,)), tags[:, :-1] * self.num_tags + tags[:, 1:]
        )
        score = ops.sum(own * realf, axis=1) + ops.sum(pairs * realf[:, 1:], axis=1)
        score += ops.take(self.start, tags[:, 0]) * realf[:, 0]
        # log Z: the forward algorithm, a step keeping the rows that have ended
        alpha = self.start[None] + emissions[:, 0]

        def step(t, alpha):
            moved = ops.logsumexp(alpha[:, :, None] + self.transitions[None], axis=1)
            return ops.where(real[:, t, None], moved + emissions[:, t], alpha)

        alpha = ops.fori_loop(1, steps, step, alpha)
        return (ops.logsumexp(alpha, axis=1) - score) * realf[:, 0]

    def get_config(self):
        return {**super().get_config(), "num_tags": self.num_tags}
