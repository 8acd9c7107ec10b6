"""A GPT-style decoder-only language model (GPT-2's architecture), in one short file."""

import math

import keras
from keras import ops

from tf_transformer.layers import Decoder
from tf_transformer.models.presets import resolve

PRESETS = {
    # For tests.
    "gpt_tiny": dict(num_layers=2, d_model=64, num_heads=2, max_length=128, dropout=0.0),
    # The embedded default: trains on `pydocs` in minutes on a CPU.
    "gpt_mini": dict(num_layers=4, d_model=256, num_heads=4, max_length=256, dropout=0.1),
    # GPT-2 124M: with the 50,257-token vocabulary, 124,439,808 parameters; GPT-2's
    # training choices (tanh GELU, its initialisation).
    "gpt2_small": dict(
        num_layers=12,
        d_model=768,
        num_heads=12,
        max_length=1024,
        dropout=0.1,
        activation="gelu_tanh",
        initialization="gpt2",
    ),
}


@keras.saving.register_keras_serializable(package="tf_transformer")
class GPT(keras.Model):
    """Decoder-only Transformer: `call(token_ids)` returns next-token logits, float32.

    Learned positions, pre-norm blocks (causal self-attention, GELU feed-forward, no
    cross-attention), a final LayerNorm, and an output projection tied to the token
    embeddings (no output bias), as GPT-2. For generation (`tf_transformer.generation`):
    `decode_step(ids, cache, index, static)` with `cache` from `init_cache`; `static` may
    hold `"positions_offset"` `(batch,)` (left padding of each row) and `"padding_mask"`
    `(batch, cache_length)`.

    Args:
        vocab_size: number of token ids.
        num_layers, d_model, num_heads: depth, width, heads.
        dff: feed-forward width (default 4 * d_model).
        max_length: context length (size of the position table).
        dropout: embedding, attention and residual dropout.
        layer_norm_epsilon: LayerNorm epsilon (GPT-2: 1e-5).
        activation: the feed-forward's, `"gelu"` (exact, the default) or `"gelu_tanh"`
            (the tanh approximation GPT-2 was trained with).
        initialization: `"keras"` (each layer's default, the default) or `"gpt2"`:
            N(0, 0.02) weights and embeddings, the projections back into the residual
            stream (attention output, feed-forward output) at 0.02 / sqrt(2 * layers),
            zero biases.

    Example:
    ```python
    import numpy as np
    from tf_transformer.models import GPT
    model = GPT.from_preset("gpt_tiny", vocab_size=100)
    model(np.array([[5, 6, 7]])).shape  # (1, 3, 100)
    ```

    References:
        Radford et al., "Language Models are Unsupervised Multitask Learners", 2019;
        Karpathy, nanoGPT.
    """

    def __init__(
        self,
        vocab_size,
        num_layers,
        d_model,
        num_heads,
        dff=None,
        max_length=1024,
        dropout=0.1,
        layer_norm_epsilon=1e-5,
        activation="gelu",
        initialization="keras",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.num_layers = num_layers
        self.d_model = d_model
        self.num_heads = num_heads
        self.dff = dff or 4 * d_model
        self.max_length = max_length
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = activation
        if initialization not in ("keras", "gpt2"):
            raise ValueError(f"initialization must be 'keras' or 'gpt2', got {initialization!r}")
        self.initialization = initialization
        self.decoder = Decoder(
            num_layers=num_layers,
            d_model=d_model,
            num_heads=num_heads,
            dff=self.dff,
            vocab_size=vocab_size,
            max_length=max_length,
            dropout=dropout,
            activation=activation,
            normalize_first=True,
            position="learned",
            scale_embedding=False,
            layer_norm_epsilon=layer_norm_epsilon,
            use_cross_attention=False,
            dtype=self.dtype_policy,
            name="decoder",
        )

    @classmethod
    def from_preset(cls, name, **overrides):
        """`gpt_tiny`, `gpt_mini` or `gpt2_small`; `overrides` (vocab_size at least)."""
        return cls(**resolve(PRESETS, name, overrides, "GPT"))

    def build(self, token_ids_shape):
        self.decoder.build(token_ids_shape)
        if self.initialization == "gpt2":
            self._initialize_as_gpt2()
        self.built = True

    RESIDUAL_PROJECTIONS = ("attention_output/kernel", "output_dense/kernel")

    def _initialize_as_gpt2(self):
        residual_std = 0.02 / math.sqrt(2 * self.num_layers)
        seed = keras.random.SeedGenerator()  # from the global seed (`set_random_seed`)
        for variable in self.decoder.weights:
            path = variable.path
            if path.endswith(("/kernel", "/embeddings")):
                std = residual_std if path.endswith(self.RESIDUAL_PROJECTIONS) else 0.02
                variable.assign(
                    keras.random.normal(variable.shape, stddev=std, dtype=variable.dtype, seed=seed)
                )
            elif path.endswith("/bias"):
                variable.assign(ops.zeros(variable.shape, variable.dtype))

    def call(self, token_ids, padding_mask=None, training=None):
        return self.logits(self.decoder(token_ids, padding_mask=padding_mask, training=training))

    def logits(self, hidden):
        embeddings = self.decoder.embedding.token_embedding.embeddings
        return ops.cast(
            ops.matmul(hidden, ops.transpose(ops.cast(embeddings, hidden.dtype))), "float32"
        )

    def init_cache(self, batch_size, max_length=None):
        if not self.built:
            self.build((None, None))
        return self.decoder.init_cache(batch_size, max_length)

    def decode_step(self, ids, cache, index, static):
        """Logits of `ids` at positions `index..` (minus each row's offset), and the cache."""
        positions = None
        if "positions_offset" in static:
            steps = ops.arange(ops.shape(ids)[1]) + index
            offset = ops.expand_dims(ops.cast(static["positions_offset"], steps.dtype), 1)
            positions = ops.maximum(ops.expand_dims(steps, 0) - offset, 0)
        hidden, cache = self.decoder(
            ids,
            padding_mask=static.get("padding_mask"),
            cache=cache,
            cache_update_index=index,
            positions=positions,
            training=False,
        )
        return self.logits(hidden), cache

    def num_parameters(self, non_embedding=False):
        """Parameter count; `non_embedding` leaves out the position table (nanoGPT's N)."""
        if not self.built:
            self.build((None, None))
        count = self.count_params()
        if non_embedding:
            count -= self.max_length * self.d_model
        return count

    def flops_per_token(self, sequence_length=None):
        """Training FLOPs per token, as nanoGPT estimates them for MFU: 6N for the weights
        (forward and backward) plus 12 * layers * d_model * T for attention."""
        length = self.max_length if sequence_length is None else sequence_length
        return (
            6 * self.num_parameters(non_embedding=True)
            + 12 * self.num_layers * self.d_model * length
        )

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
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "activation": self.activation,
                "initialization": self.initialization,
            }
        )
        return config
