"""tf-transformer: the Transformer on Keras 3 and TensorFlow.

Layers, model families, tf.data pipelines and TensorFlow Serving exports.
"""

__version__ = "0.1.0"
