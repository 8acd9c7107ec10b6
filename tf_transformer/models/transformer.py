"""The encoder-decoder Transformer of "Attention Is All You Need", for translation."""

import keras
from keras import ops

from tf_transformer.layers import Decoder, Encoder
from tf_transformer.layers.masks import padding_mask
from tf_transformer.models.presets import resolve

PRESETS = {
    # The TensorFlow tutorial's model.
    "tutorial": dict(num_layers=4, d_model=128, num_heads=8, dff=512, dropout=0.1),
    # Half the tutorial's depth.
    "small": dict(num_layers=2, d_model=128, num_heads=8, dff=512, dropout=0.1),
    # Half the tutorial's depth and width: what `make demo` trains within its CPU budget.
    "mini": dict(num_layers=2, d_model=64, num_heads=4, dff=256, dropout=0.1),
    # Table 3 of the paper: base and big, with the shared, tied vocabulary it used.
    "paper_base": dict(
        num_layers=6, d_model=512, num_heads=8, dff=2048, dropout=0.1, share_embeddings=True
    ),
    "paper_big": dict(
        num_layers=6, d_model=1024, num_heads=16, dff=4096, dropout=0.3, share_embeddings=True
    ),
    # For tests and quick runs.
    "tiny": dict(num_layers=2, d_model=32, num_heads=2, dff=64, dropout=0.0),
}


@keras.saving.register_keras_serializable(package="tf_transformer")
class Transformer(keras.Model):
    """Encoder-decoder Transformer: `call((source_ids, target_in_ids))` returns logits.

    The output layer is the paper's final linear layer; the softmax is left to the loss
    and to decoding. Padding masks come from the ids (0 = `[PAD]`). Logits are float32
    under mixed precision.

    For cached decoding (see `tf_transformer.generation`): `start_decoding(source_ids,
    max_length)` encodes once and returns the empty self-attention cache and the fixed
    cross-attention keys/values; `decode_step(ids, cache, index, static)` returns the
    logits of `ids` at positions `index..` and the updated cache.

    Args:
        num_layers, d_model, num_heads, dff, dropout: the paper's N, d_model, h, d_ff, P_drop.
        input_vocab_size, target_vocab_size: vocabulary sizes.
        max_length: longest source or target sequence.
        share_embeddings: one embedding matrix for source, target and the output layer,
            as in the paper (needs a shared vocabulary).
        normalize_first: pre-norm blocks instead of the paper's post-norm.
        layer_norm_epsilon: LayerNorm epsilon.
        position: `"sinusoidal"` (the paper) or `"learned"` position vectors (KerasHub's
            `TokenAndPositionEmbedding`, BERT, GPT).
        scale_embedding: multiply token embeddings by sqrt(d_model), as the paper does.

    Example:
    ```python
    import numpy as np
    from tf_transformer.models import Transformer
    model = Transformer.from_preset("tiny", input_vocab_size=100, target_vocab_size=120)
    model((np.array([[5, 6, 7, 0]]), np.array([[2, 9, 9]]))).shape  # (1, 3, 120)
    ```

    References:
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __init__(
        self,
        num_layers,
        d_model,
        num_heads,
        dff,
        input_vocab_size,
        target_vocab_size,
        max_length=256,
        dropout=0.1,
        share_embeddings=False,
        normalize_first=False,
        layer_norm_epsilon=1e-6,
        position="sinusoidal",
        scale_embedding=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if share_embeddings and input_vocab_size != target_vocab_size:
            raise ValueError(
                "share_embeddings needs one vocabulary: input_vocab_size "
                f"({input_vocab_size}) != target_vocab_size ({target_vocab_size})"
            )
        self.num_layers = num_layers
        self.d_model = d_model
        self.num_heads = num_heads
        self.dff = dff
        self.input_vocab_size = input_vocab_size
        self.target_vocab_size = target_vocab_size
        self.max_length = max_length
        self.dropout = dropout
        self.share_embeddings = share_embeddings
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.position = position
        self.scale_embedding = scale_embedding
        stack = dict(
            num_layers=num_layers,
            d_model=d_model,
            num_heads=num_heads,
            dff=dff,
            max_length=max_length,
            dropout=dropout,
            normalize_first=normalize_first,
            layer_norm_epsilon=layer_norm_epsilon,
            position=position,
            scale_embedding=scale_embedding,
            dtype=self.dtype_policy,
        )
        shared = None
        if share_embeddings:
            shared = keras.layers.Embedding(
                input_vocab_size, d_model, dtype=self.dtype_policy, name="shared_embedding"
            )
        self.encoder = Encoder(
            vocab_size=input_vocab_size, token_embedding=shared, name="encoder", **stack
        )
        self.decoder = Decoder(
            vocab_size=target_vocab_size, token_embedding=shared, name="decoder", **stack
        )
        self.final_layer = None
        if not share_embeddings:
            self.final_layer = keras.layers.Dense(
                target_vocab_size, dtype=self.dtype_policy, name="final_layer"
            )

    @classmethod
    def from_preset(cls, name, **overrides):
        """A model of a named architecture (`tutorial`, `paper_base`, `paper_big`, `tiny`);
        `overrides` (vocabulary sizes at least) replace or add constructor arguments."""
        return cls(**resolve(PRESETS, name, overrides, "Transformer"))

    def build(self, input_shape):
        source_shape, target_shape = input_shape
        self.encoder.build(source_shape)
        self.decoder.build(target_shape, tuple(source_shape) + (self.d_model,))
        if self.final_layer is not None:
            self.final_layer.build(tuple(target_shape) + (self.d_model,))
        self.built = True

    def call(self, inputs, training=None):
        source_ids, target_ids = inputs
        context = self.encoder(source_ids, training=training)
        hidden = self.decoder(
            target_ids, context, context_padding_mask=padding_mask(source_ids), training=training
        )
        return self.logits(hidden)

    def logits(self, hidden):
        """The final linear layer (tied to the embeddings with `share_embeddings`)."""
        if self.final_layer is not None:
            return ops.cast(self.final_layer(hidden), "float32")
        embeddings = self.encoder.embedding.token_embedding.embeddings
        return ops.cast(
            ops.matmul(hidden, ops.transpose(ops.cast(embeddings, hidden.dtype))), "float32"
        )

    def start_decoding(self, source_ids, max_length):
        """Encodes once: returns `(cache, static)` for `decode_step`."""
        if not self.built:  # decoding may come before any full call
            self.build(((None, None), (None, None)))
        context = self.encoder(source_ids, training=False)
        static = {
            "cross_cache": self.decoder.compute_cross_cache(context),
            "source_mask": padding_mask(source_ids),
        }
        cache = self.decoder.init_cache(ops.shape(source_ids)[0], max_length)
        return cache, static

    def decode_step(self, ids, cache, index, static):
        """Logits `(batch, len(ids), vocab)` of `ids` at positions `index..`, and the cache."""
        hidden, cache = self.decoder(
            ids,
            context_padding_mask=static["source_mask"],
            cache=cache,
            cross_cache=static["cross_cache"],
            cache_update_index=index,
            training=False,
        )
        return self.logits(hidden), cache

    @property
    def last_attention_scores(self):
        """Cross-attention weights of the last decoder block, `(batch, heads, target, source)`."""
        return self.decoder.last_attention_scores

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_layers": self.num_layers,
                "d_model": self.d_model,
                "num_heads": self.num_heads,
                "dff": self.dff,
                "input_vocab_size": self.input_vocab_size,
                "target_vocab_size": self.target_vocab_size,
                "max_length": self.max_length,
                "dropout": self.dropout,
                "share_embeddings": self.share_embeddings,
                "normalize_first": self.normalize_first,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "position": self.position,
                "scale_embedding": self.scale_embedding,
            }
        )
        return config
