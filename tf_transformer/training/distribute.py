"""`model.fit` under `tf.distribute.MultiWorkerMirroredStrategy` with Keras 3.

Keras 3 (3.15, the one TensorFlow 2.21 brings) builds and runs a model under a strategy,
but two of its TensorFlow-trainer steps fail under the multi-worker strategy
(keras-team/keras#20585):

- before the first step, `fit` reduces the first distributed batch with
  `strategy.reduce("MEAN", batch)`, which the multi-worker strategy rejects when the batch
  is a nested structure (a translator's `((source, target_in), target_out)`);
- after every step, it reduces the step's outputs (loss and metrics, scalars) with
  `strategy.reduce("MEAN", value, axis=0)`, which fails on a scalar.

`fix_multi_worker_fit()` replaces those two steps: the build takes this worker's own
slice of the first batch (building needs shapes, not values), and scalars are averaged
over the replicas with `axis=None`. Nothing else changes; other strategies never call it.
"""

import tensorflow as tf
from keras.src.backend.tensorflow import trainer as tf_trainer

_ORIGINAL_REDUCE = tf_trainer.reduce_per_replica


def _local_value(strategy, value):
    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    strategy = self._distribute_strategy
    if strategy is None:
        return
    if iterator is not None:
        for _, _, batches in iterator:
            data_batch = tf.nest.map_structure(
                lambda value: _local_value(strategy, value), next(batches)
            )
            break
    with strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def _reduce_per_replica(values, strategy, reduction):
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if not multi_worker or reduction not in ("auto", "mean"):
        return _ORIGINAL_REDUCE(values, strategy, reduction)

    def mean(value):
        if not isinstance(value, tf.distribute.DistributedValues):
            return value
        return strategy.reduce("MEAN", value, axis=None)

    return tf.nest.map_structure(mean, values)


def fix_multi_worker_fit():
    """Lets `model.fit` run under `MultiWorkerMirroredStrategy` (see the module's text).
    Idempotent."""
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    tf_trainer.reduce_per_replica = _reduce_per_replica
