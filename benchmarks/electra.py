"""ELECTRA's pretraining model (Clark et al. 2020) over this package's BERT encoder, for
`benchmarks.ablate_electra`: a small masked-LM generator fills the masked positions with
samples of its own predictions; the encoder (the discriminator) learns to tell, at every
real token, whether it was replaced. Loss: the generator's masked-LM loss + 50 x the
discriminator's. Import it after `tf_transformer.cpu.bfloat16_without_onednn()`."""

import keras
import tensorflow as tf
from keras import ops

from tf_transformer.models import BertEncoder, BertMaskedLM
from tf_transformer.training import masked_loss

DISCRIMINATOR_WEIGHT = 50.0  # ELECTRA's lambda
METRICS = ("loss", "generator_loss", "detection_loss", "replaced_accuracy")


class Electra(keras.Model):
    """`fit` on masked-LM batches (`({"token_ids", "mask_positions"}, labels)`); the
    trained encoder is `discriminator`."""

    def __init__(self, generator, discriminator, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        policy = discriminator.dtype_policy
        self.detector = keras.layers.Dense(1, dtype=policy, name="detector")
        self.seeds = keras.random.SeedGenerator(0)
        self.tracked = {name: keras.metrics.Mean(name=name) for name in METRICS}

    def build(self, input_shape=None):
        self.generator.build()
        self.discriminator.build()
        self.detector.build((None, None, self.discriminator.d_model))
        self.built = True

    def corrupt(self, inputs, labels, training):
        """`(generator logits, original ids, corrupted ids)`: every masked position of
        the window holds a sample of the generator's prediction there."""
        ids = ops.cast(inputs["token_ids"], "int32")
        positions = ops.cast(inputs["mask_positions"], "int32")
        logits = self.generator(inputs, training=training)  # (batch, picks, vocab)
        flat = ops.reshape(ops.stop_gradient(logits), (-1, ops.shape(logits)[-1]))
        sampled = keras.random.categorical(flat, 1, dtype="int32", seed=self.seeds)
        sampled = ops.reshape(sampled, ops.shape(labels))
        real = ops.cast(labels > 0, "int32")  # padded picks carry label 0
        pick = ops.one_hot(positions, ops.shape(ids)[1], dtype="int32") * real[..., None]
        kept = 1 - ops.minimum(ops.sum(pick, axis=1), 1)  # (batch, length)
        original = ids * kept + ops.sum(pick * labels[..., None], axis=1)
        corrupted = ids * kept + ops.sum(pick * sampled[..., None], axis=1)
        return logits, original, corrupted

    def losses_of(self, inputs, labels, training):
        labels = ops.cast(labels, "int32")
        logits, original, corrupted = self.corrupt(inputs, labels, training)
        generator_loss = masked_loss(labels, logits)
        hidden = self.discriminator(corrupted, training=training)
        scores = ops.cast(ops.squeeze(self.detector(hidden), -1), "float32")
        replaced = ops.cast(corrupted != original, "float32")
        weight = ops.cast(original != 0, "float32")
        each = keras.losses.binary_crossentropy(
            replaced[..., None], scores[..., None], from_logits=True
        )
        count = ops.maximum(ops.sum(weight), 1.0)
        detection_loss = ops.sum(each * weight) / count
        right = ops.cast((scores > 0) == (replaced > 0), "float32")
        accuracy = ops.sum(right * weight) / count
        total = generator_loss + DISCRIMINATOR_WEIGHT * detection_loss
        return total, generator_loss, detection_loss, accuracy

    def train_step(self, data):
        inputs, labels = data
        with tf.GradientTape() as tape:
            values = self.losses_of(inputs, labels, training=True)
        gradients = tape.gradient(values[0], self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=True))
        return self.update(values)

    def test_step(self, data):
        inputs, labels = data
        return self.update(self.losses_of(inputs, labels, training=False))

    def update(self, values):
        for metric, value in zip(self.tracked.values(), values, strict=True):
            metric.update_state(value)
        return {name: metric.result() for name, metric in self.tracked.items()}

    @property
    def metrics(self):
        return list(self.tracked.values())


def build_electra(preset, vocab_size, policy, generator_width):
    """The preset's encoder as discriminator, and a generator of `generator_width` with
    the discriminator's depth (ELECTRA: a quarter to a half of its width)."""
    discriminator = BertEncoder.from_preset(
        preset, vocab_size=vocab_size, use_pooler=False, dtype=policy
    )
    generator = BertEncoder(
        vocab_size,
        num_layers=discriminator.num_layers,
        d_model=generator_width,
        num_heads=max(1, generator_width // 64),
        dff=4 * generator_width,
        max_length=discriminator.max_length,
        use_pooler=False,
        dtype=policy,
    )
    return Electra(BertMaskedLM(generator), discriminator)
