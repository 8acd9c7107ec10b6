"""A BERT-style encoder and its task models: masked LM, sequence classifier, token tagger."""

import keras
from keras import ops

from tf_transformer.layers import EncoderLayer, PositionalEmbedding
from tf_transformer.layers.feed_forward import get_activation
from tf_transformer.layers.masks import padding_mask as ids_padding_mask
from tf_transformer.models.presets import resolve

PRESETS = {
    # For tests: the size of Google's BERT-Tiny (Turc et al., 2019), 2 layers of width 128.
    "bert_tiny": dict(num_layers=2, d_model=128, num_heads=2, dff=512, max_length=512),
    # The embedded default: 4 layers of width 256 (the size Google calls BERT-Mini);
    # pretrains on `pydocs` in minutes on a CPU.
    "bert_small": dict(num_layers=4, d_model=256, num_heads=4, dff=1024, max_length=512),
    # BERT-base: with the 30,522-token vocabulary, 109,482,240 parameters (pooler included).
    "bert_base": dict(num_layers=12, d_model=768, num_heads=12, dff=3072, max_length=512),
}


POOLINGS = ("cls", "mean")  # BertClassifier's: BERT's pooler, or the real tokens' mean


def _initializer():
    return keras.initializers.TruncatedNormal(stddev=0.02)


def _draw_kernels_as_bert(layer):
    """Redraws every kernel of `layer` (attention projections, feed-forward) from BERT's
    truncated normal at 0.02; Keras' default (Glorot uniform) is about 4x wider at width 128
    and leaves masked-LM pretraining on its unigram plateau far longer. One initializer per
    kernel: an unseeded initializer called twice returns the same values."""
    for variable in layer.weights:
        if variable.path.endswith("/kernel"):
            variable.assign(_initializer()(variable.shape, variable.dtype))


def _unpack(inputs):
    """`token_ids` and the optional `segment_ids` and `mask_positions` of a model input
    (a tensor of token ids, or a dict of them)."""
    if isinstance(inputs, dict):
        return inputs["token_ids"], inputs.get("segment_ids"), inputs.get("mask_positions")
    return inputs, None, None


@keras.saving.register_keras_serializable(package="tf_transformer")
class BertEncoder(keras.Model):
    """Token ids to contextual vectors, as BERT: token + learned position + segment
    embeddings, LayerNorm, dropout, then post-norm `EncoderLayer`s with GELU.

    `call(token_ids, segment_ids=None, padding_mask=None)` returns `(batch, length,
    d_model)`; the padding mask defaults to `token_ids != 0`. `pool(sequence)` is the
    pooler (dense + tanh on the first token), present when `use_pooler`.

    Args:
        vocab_size: number of token ids.
        num_layers, d_model, num_heads: depth, width, heads.
        dff: feed-forward ("intermediate") width (default 4 * d_model).
        max_length: size of the position table.
        num_segments: size of the segment ("token type") table; 0 for none.
        dropout: embedding, attention and residual dropout.
        layer_norm_epsilon: LayerNorm epsilon (BERT: 1e-12).
        use_pooler: build the pooler.
        activation: the feed-forward's, `"gelu"` (exact) or `"gelu_tanh"` (the tanh
            approximation Google's BERT and KerasHub compute).

    Every weight starts as BERT's do: kernels and embeddings from a truncated normal of
    standard deviation 0.02, biases at zero, LayerNorm at one and zero.

    Example:
    ```python
    import numpy as np
    from tf_transformer.models import BertEncoder
    encoder = BertEncoder.from_preset("bert_tiny", vocab_size=100)
    encoder(np.array([[2, 5, 6, 3, 0]])).shape  # (1, 5, 128)
    ```

    References:
        Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language
        Understanding", 2019.
    """

    def __init__(
        self,
        vocab_size,
        num_layers,
        d_model,
        num_heads,
        dff=None,
        max_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        use_pooler=True,
        activation="gelu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.num_layers = num_layers
        self.d_model = d_model
        self.num_heads = num_heads
        self.dff = dff or 4 * d_model
        self.max_length = max_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.use_pooler = use_pooler
        self.activation = activation
        policy = self.dtype_policy
        self.embedding = PositionalEmbedding(
            vocab_size,
            d_model,
            max_length=max_length,
            position="learned",
            scale=False,
            embeddings_initializer=_initializer(),
            dtype=policy,
            name="embedding",
        )
        self.segment_embedding = None
        if num_segments:
            self.segment_embedding = keras.layers.Embedding(
                num_segments,
                d_model,
                embeddings_initializer=_initializer(),
                dtype=policy,
                name="segment_embedding",
            )
        self.embedding_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="embedding_norm"
        )
        self.embedding_dropout = keras.layers.Dropout(
            dropout, dtype=policy, name="embedding_dropout"
        )
        self.blocks = [
            EncoderLayer(
                d_model,
                num_heads,
                self.dff,
                dropout=dropout,
                activation=activation,
                normalize_first=False,
                layer_norm_epsilon=layer_norm_epsilon,
                dtype=policy,
                name=f"encoder_layer_{i}",
            )
            for i in range(num_layers)
        ]
        self.pooler = None
        if use_pooler:
            self.pooler = keras.layers.Dense(
                d_model,
                activation="tanh",
                kernel_initializer=_initializer(),
                dtype=policy,
                name="pooler",
            )

    @classmethod
    def from_preset(cls, name, **overrides):
        """`bert_tiny`, `bert_small` or `bert_base`; `overrides` (vocab_size at least)."""
        return cls(**resolve(PRESETS, name, overrides, "BERT"))

    @property
    def token_embedding(self):
        return self.embedding.token_embedding

    def build(self, token_ids_shape=(None, None)):
        token_ids_shape = tuple(token_ids_shape)
        hidden_shape = token_ids_shape + (self.d_model,)
        self.embedding.build(token_ids_shape)
        if self.segment_embedding is not None:
            self.segment_embedding.build(token_ids_shape)
        self.embedding_norm.build(hidden_shape)
        for block in self.blocks:
            block.build(hidden_shape)
            _draw_kernels_as_bert(block)
        if self.pooler is not None:
            self.pooler.build((token_ids_shape[0], self.d_model))
        self.built = True

    def call(self, token_ids, segment_ids=None, padding_mask=None, training=None):
        if padding_mask is None:
            padding_mask = ids_padding_mask(token_ids)
        x = self.embedding(token_ids)
        if self.segment_embedding is not None:
            if segment_ids is None:
                segment_ids = ops.zeros_like(token_ids)
            x = x + self.segment_embedding(segment_ids)
        x = self.embedding_dropout(self.embedding_norm(x), training=training)
        for block in self.blocks:
            x = block(x, padding_mask=padding_mask, training=training)
        return x

    def pool(self, sequence):
        """The pooled output: dense + tanh on the first (`[START]`, BERT's `[CLS]`) vector."""
        if self.pooler is None:
            raise ValueError("this encoder has no pooler (use_pooler=False)")
        return self.pooler(sequence[:, 0])

    def copy_weights_from(self, other):
        """Takes the weights of `other` (a `BertEncoder` of the same architecture) for
        every part both have: how fine-tuning starts from a pretrained encoder, whose
        pooler (unused by masked-LM pretraining) may be missing."""
        if not self.built:
            self.build()
        parts = [
            (self.embedding, other.embedding),
            (self.segment_embedding, other.segment_embedding),
            (self.embedding_norm, other.embedding_norm),
            (self.pooler, other.pooler),
            *zip(self.blocks, other.blocks, strict=True),
        ]
        for mine, theirs in parts:
            if mine is not None and theirs is not None and theirs.built:
                mine.set_weights(theirs.get_weights())

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "num_layers": self.num_layers,
                "d_model": self.d_model,
                "num_heads": self.num_heads,
                "dff": self.dff,
                "max_length": self.max_length,
                "num_segments": self.num_segments,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "activation": self.activation,
                "use_pooler": self.use_pooler,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tf_transformer")
class MaskedLMHead(keras.layers.Layer):
    """BERT's masked-LM head: dense + GELU + LayerNorm, then the output projection tied to
    the token embeddings, plus an output bias.

    `call(hidden, embeddings)` returns float32 logits `(..., vocab_size)`; `embeddings` is
    the encoder's `(vocab_size, d_model)` token table, so the head has no projection
    matrix of its own. `activation` is the transform's (BERT's exact `"gelu"`, or
    `"gelu_tanh"` or `"relu"`, as a checkpoint's `hidden_act` says).
    """

    def __init__(self, vocab_size, d_model, layer_norm_epsilon=1e-12, activation="gelu", **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = activation
        self.transform = keras.layers.Dense(
            d_model,
            activation=get_activation(activation),
            kernel_initializer=_initializer(),
            dtype=self.dtype_policy,
            name="transform",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )

    def build(self, hidden_shape, embeddings_shape=None):
        self.transform.build(hidden_shape)
        self.layer_norm.build(tuple(hidden_shape[:-1]) + (self.d_model,))
        self.output_bias = self.add_weight(
            shape=(self.vocab_size,), initializer="zeros", name="output_bias"
        )
        self.built = True

    def call(self, hidden, embeddings):
        x = self.layer_norm(self.transform(hidden))
        logits = ops.matmul(x, ops.transpose(ops.cast(embeddings, x.dtype)))
        return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")

    def compute_output_shape(self, hidden_shape, embeddings_shape=None):
        return tuple(hidden_shape[:-1]) + (self.vocab_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "d_model": self.d_model,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "activation": self.activation,
            }
        )
        return config


class _TaskModel(keras.Model):
    """A `BertEncoder` plus a head; serializes the encoder inside its config. The model
    takes the encoder's dtype policy, so that `compile` adds loss scaling under
    `mixed_float16`."""

    def __init__(self, encoder, **kwargs):
        kwargs.setdefault("dtype", encoder.dtype_policy)
        super().__init__(**kwargs)
        self.encoder = encoder

    def get_config(self):
        config = super().get_config()
        config["encoder"] = keras.saving.serialize_keras_object(self.encoder)
        return config

    def make_head(self, count, dropout, labels, what):
        """Dropout and a dense layer to `count` logits, `labels` naming them."""
        if labels is not None and len(labels) != count:
            raise ValueError(f"{len(labels)} labels for {count} {what}")
        self.dropout = dropout
        self.labels = list(labels) if labels is not None else None
        self.head_dropout = keras.layers.Dropout(dropout, name="head_dropout")
        self.classifier = keras.layers.Dense(
            count,
            kernel_initializer=_initializer(),
            dtype=self.encoder.dtype_policy,
            name="logits",
        )

    def build_encoder(self):
        if not self.encoder.built:  # a deserialized encoder comes built
            self.encoder.build()

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="tf_transformer")
class BertMaskedLM(_TaskModel):
    """Masked-LM pretraining: `call({"token_ids", "mask_positions"[, "segment_ids"]})`
    returns float32 logits `(batch, predictions, vocab_size)` at the gathered positions
    (all positions when `mask_positions` is left out).

    Example:
    ```python
    import numpy as np
    from tf_transformer.models import BertMaskedLM
    model = BertMaskedLM.from_preset("bert_tiny", vocab_size=100)
    ids = np.array([[2, 5, 4, 7, 3]])
    model({"token_ids": ids, "mask_positions": np.array([[2]])}).shape  # (1, 1, 100)
    ```
    """

    def __init__(self, encoder, head_activation="gelu", **kwargs):
        super().__init__(encoder, **kwargs)
        self.head_activation = head_activation
        self.head = MaskedLMHead(
            encoder.vocab_size,
            encoder.d_model,
            layer_norm_epsilon=encoder.layer_norm_epsilon,
            activation=head_activation,
            dtype=encoder.dtype_policy,
            name="mlm_head",
        )

    @classmethod
    def from_preset(cls, name, **overrides):
        """The preset's encoder, without the pooler, which masked-LM pretraining leaves
        untrained."""
        return cls(BertEncoder.from_preset(name, **{"use_pooler": False, **overrides}))

    def build(self, input_shape=None):
        self.build_encoder()
        self.head.build((None, None, self.encoder.d_model))
        self.built = True

    def call(self, inputs, training=None):
        token_ids, segment_ids, mask_positions = _unpack(inputs)
        hidden = self.encoder(token_ids, segment_ids=segment_ids, training=training)
        if mask_positions is not None:  # gathered as a one-hot product: exact, any batch size
            length = ops.shape(hidden)[1]
            pick = ops.one_hot(ops.cast(mask_positions, "int32"), length, dtype=hidden.dtype)
            hidden = ops.einsum("bpl,bld->bpd", pick, hidden)
        return self.head(hidden, self.encoder.token_embedding.embeddings)

    def get_config(self):
        return {**super().get_config(), "head_activation": self.head_activation}


@keras.saving.register_keras_serializable(package="tf_transformer")
class BertClassifier(_TaskModel):
    """Sequence classification from the pooled output: dropout + dense to `num_classes`
    float32 logits. `labels` (optional) names the classes, for export. `pooling` is
    `"cls"` (BERT's pooler: dense + tanh on the first token) or `"mean"` (the mean of the
    real tokens' vectors, padding left out; the encoder needs no pooler).

    Example:
    ```python
    import numpy as np
    from tf_transformer.models import BertClassifier
    model = BertClassifier.from_preset("bert_tiny", vocab_size=100, num_classes=3)
    model(np.array([[2, 5, 6, 3]])).shape  # (1, 3)
    ```
    """

    def __init__(self, encoder, num_classes, dropout=0.1, labels=None, pooling="cls", **kwargs):
        super().__init__(encoder, **kwargs)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.num_classes = num_classes
        self.pooling = pooling
        self.make_head(num_classes, dropout, labels, "classes")

    @classmethod
    def from_preset(cls, name, num_classes, labels=None, **overrides):
        return cls(BertEncoder.from_preset(name, **overrides), num_classes, labels=labels)

    def build(self, input_shape=None):
        self.build_encoder()
        self.classifier.build((None, self.encoder.d_model))
        self.built = True

    def call(self, inputs, training=None):
        token_ids, segment_ids, _ = _unpack(inputs)
        hidden = self.encoder(token_ids, segment_ids=segment_ids, training=training)
        if self.pooling == "cls":
            pooled = self.encoder.pool(hidden)
        else:
            real = ops.cast(ids_padding_mask(token_ids), hidden.dtype)[..., None]
            pooled = ops.sum(hidden * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1)
        pooled = self.head_dropout(pooled, training=training)
        return ops.cast(self.classifier(pooled), "float32")

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, dropout=self.dropout, labels=self.labels)
        return {**config, "pooling": self.pooling}


@keras.saving.register_keras_serializable(package="tf_transformer")
class BertTokenTagger(_TaskModel):
    """Token classification: dropout + dense on every position to `num_tags` float32
    logits. `labels` (optional) names the tags, for export.

    Example:
    ```python
    import numpy as np
    from tf_transformer.models import BertTokenTagger
    model = BertTokenTagger.from_preset("bert_tiny", vocab_size=100, num_tags=4)
    model(np.array([[2, 5, 6, 3]])).shape  # (1, 4, 4)
    ```
    """

    def __init__(self, encoder, num_tags, dropout=0.1, labels=None, **kwargs):
        super().__init__(encoder, **kwargs)
        self.num_tags = num_tags
        self.make_head(num_tags, dropout, labels, "tags")

    @classmethod
    def from_preset(cls, name, num_tags, labels=None, **overrides):
        return cls(
            BertEncoder.from_preset(name, **{"use_pooler": False, **overrides}),
            num_tags,
            labels=labels,
        )

    def build(self, input_shape=None):
        self.build_encoder()
        self.classifier.build((None, None, self.encoder.d_model))
        self.built = True

    def call(self, inputs, training=None):
        token_ids, segment_ids, _ = _unpack(inputs)
        hidden = self.encoder(token_ids, segment_ids=segment_ids, training=training)
        return ops.cast(self.classifier(self.head_dropout(hidden, training=training)), "float32")

    def get_config(self):
        config = super().get_config()
        config.update(num_tags=self.num_tags, dropout=self.dropout, labels=self.labels)
        return config
