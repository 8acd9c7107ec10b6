"""A BERT-style encoder: embeddings and post-norm encoder layers, as BERT. Its task models
(masked LM, classifier, tagger) are in `tf_transformer.models.bert_tasks`."""

import keras
from keras import ops

from tf_transformer.layers import EncoderLayer, PositionalEmbedding
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


def bert_initializer():
    return keras.initializers.TruncatedNormal(stddev=0.02)


def _draw_kernels_as_bert(layer):
    """Redraws every kernel of `layer` (attention projections, feed-forward) from BERT's
    truncated normal at 0.02; Keras' default (Glorot uniform) is about 4x wider at width 128
    and leaves masked-LM pretraining on its unigram plateau far longer. One initializer per
    kernel: an unseeded initializer called twice returns the same values."""
    for variable in layer.weights:
        if variable.path.endswith("/kernel"):
            variable.assign(bert_initializer()(variable.shape, variable.dtype))


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
            embeddings_initializer=bert_initializer(),
            dtype=policy,
            name="embedding",
        )
        self.segment_embedding = None
        if num_segments:
            self.segment_embedding = keras.layers.Embedding(
                num_segments,
                d_model,
                embeddings_initializer=bert_initializer(),
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
                kernel_initializer=bert_initializer(),
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
