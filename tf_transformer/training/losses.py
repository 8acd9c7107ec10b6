"""Loss and accuracy over real target tokens only (labels != 0, the `[PAD]` id).

Under a `tf.distribute` strategy each replica sees a slice of the global batch, with its
own number of real tokens. Both functions divide by the global batch's count (summed over
the replicas), so a replicated step computes the same loss, gradients and accuracy as one
device on the whole batch.
"""

import keras
import tensorflow as tf
from keras import ops


def _global_count(count):
    """`count` summed over the replicas in sync, and their number (`count, 1` on one
    device)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return count, 1
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(count))
    return total, context.num_replicas_in_sync


@keras.saving.register_keras_serializable(package="tf_transformer")
def masked_loss(labels, logits, label_smoothing=0.0):
    """Mean cross-entropy over positions whose label is not `[PAD]`.

    With `label_smoothing` (the paper uses 0.1) the target puts `1 - label_smoothing` on
    the label and spreads `label_smoothing` uniformly over the whole vocabulary.
    """
    logits = ops.cast(logits, "float32")
    mask = ops.cast(ops.not_equal(labels, 0), "float32")
    if label_smoothing:
        vocab = ops.shape(logits)[-1]
        targets = ops.one_hot(ops.cast(labels, "int32"), vocab)
        targets = targets * (1.0 - label_smoothing) + label_smoothing / ops.cast(vocab, "float32")
        loss = keras.losses.categorical_crossentropy(targets, logits, from_logits=True)
    else:
        loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    # Keras sums a scalar loss's gradients over the replicas without scaling it, so each
    # replica returns its share of the global mean: its sum over the global count
    count, _ = _global_count(ops.sum(mask))
    return ops.sum(loss * mask) / ops.maximum(count, 1.0)


@keras.saving.register_keras_serializable(package="tf_transformer")
def masked_accuracy(labels, logits):
    """Share of non-`[PAD]` positions whose arg-max prediction equals the label."""
    predictions = ops.cast(ops.argmax(logits, axis=-1), labels.dtype)
    mask = ops.cast(ops.not_equal(labels, 0), "float32")
    hits = ops.cast(ops.equal(predictions, labels), "float32") * mask
    # Keras averages a metric's per-replica values: each divides by the mean count
    count, replicas = _global_count(ops.sum(mask))
    return ops.sum(hits) * replicas / ops.maximum(count, 1.0)


@keras.saving.register_keras_serializable(package="tf_transformer")
class MaskedLoss(keras.losses.Loss):
    """`masked_loss` as a Keras loss, for `compile(loss=MaskedLoss(label_smoothing=0.1))`."""

    def __init__(self, label_smoothing=0.0, name="masked_loss", **kwargs):
        super().__init__(name=name, reduction=None, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        return masked_loss(y_true, y_pred, self.label_smoothing)

    def get_config(self):
        return {"label_smoothing": self.label_smoothing, "name": self.name}
