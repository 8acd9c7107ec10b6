"""Published weights into this package's models: a KerasHub `GPT2Backbone` into `GPT`, a
`BertBackbone` into `BertEncoder`.

The conversion copies tensors by name, checking each one's shape, so a backbone of any
size (the 124M `gpt2_base_en`, `bert_base_en`, or a small random one built offline)
converts the same way; a missing tensor, a tensor left over or a shape that does not fit
is a one-line `InputError` naming it.
"""

from keras import ops

from tf_transformer.errors import InputError
from tf_transformer.models.bert import BertEncoder
from tf_transformer.models.gpt import GPT

# Our weight paths (after the model's name) -> KerasHub's: the blocks' sublayers, then the
# layers outside the blocks. Each entry maps a path prefix.
FEED_FORWARD = {
    "feed_forward/layer_norm": "feedforward_layer_norm",
    "feed_forward/inner_dense": "feedforward_intermediate_dense",
    "feed_forward/output_dense": "feedforward_output_dense",
}
GPT2_NAMES = {
    "block": ("decoder/decoder_layer_", "transformer_layer_"),
    "in_block": {
        "self_attention/layer_norm": "self_attention_layer_norm",
        "self_attention/attention": "self_attention",
        **FEED_FORWARD,
    },
    "outside": {
        "decoder/embedding/token_embedding": "token_embedding",
        "decoder/embedding/position_embedding": "position_embedding",
        "decoder/final_layer_norm": "layer_norm",
    },
}
BERT_NAMES = {
    "block": ("encoder_layer_", "transformer_layer_"),
    "in_block": {
        "self_attention/layer_norm": "self_attention_layer_norm",
        "self_attention/attention": "self_attention_layer",
        **FEED_FORWARD,
    },
    "outside": {
        "embedding/token_embedding": "token_embedding",
        "embedding/position_embedding": "position_embedding",
        "segment_embedding": "segment_embedding",
        "embedding_norm": "embeddings_layer_norm",
        "pooler": "pooled_dense",
    },
}


def keras_hub_name(path: str, names: dict) -> str:
    """The KerasHub weight that our weight `path` is loaded from."""
    inside = path.split("/", 1)[1]  # drop the model's own name
    ours_block, theirs_block = names["block"]
    if inside.startswith(ours_block):
        number, rest = inside[len(ours_block) :].split("/", 1)
        prefix, table = f"{theirs_block}{number}/", names["in_block"]
    else:
        prefix, rest, table = "", inside, names["outside"]
    for ours, theirs in table.items():
        if rest.startswith(ours + "/"):
            return prefix + theirs + rest[len(ours) :]
    return prefix + rest


class Tensors:
    """A checkpoint's tensors, taken one by one with their shapes checked; `finish` says
    whether any was left unused."""

    def __init__(self, tensors, what, prefix="", ignore=()):
        self.what = what
        self.tensors = {
            name[len(prefix) :] if name.startswith(prefix) else name: value
            for name, value in tensors.items()
            if not any(part in name for part in ignore)
        }

    def take(self, name, shape):
        if name not in self.tensors:
            raise InputError(f"the {self.what} checkpoint has no tensor {name}")
        value = self.tensors.pop(name)
        if tuple(value.shape) != tuple(shape):
            raise InputError(
                f"{self.what} tensor {name} has shape {tuple(value.shape)}, expected {tuple(shape)}"
            )
        return value

    def finish(self):
        if self.tensors:
            unused = sorted(self.tensors)[0]
            raise InputError(
                f"the {self.what} checkpoint has a tensor the model does not use: {unused}"
            )


def copy_weights(model, weights, names: dict, what: str):
    """Assigns each of `model`'s weights from the one of `weights` (KerasHub variables)
    that `names` maps it to, checking that the shapes agree and nothing is left over."""
    theirs = Tensors({variable.path: variable for variable in weights}, what)
    for variable in model.weights:
        source = theirs.take(keras_hub_name(variable.path, names), variable.shape)
        variable.assign(ops.cast(source.value, variable.dtype))
    theirs.finish()
    return model


def gpt_from_keras_hub(backbone, dtype=None) -> GPT:
    """A `GPT` with the weights of a KerasHub `GPT2Backbone` (GPT-2's tanh GELU, LayerNorm
    epsilon 1e-5): the same logits, the output tied to the token embeddings as GPT-2's."""
    config = backbone.get_config()
    model = GPT(
        vocab_size=config["vocabulary_size"],
        num_layers=config["num_layers"],
        d_model=config["hidden_dim"],
        num_heads=config["num_heads"],
        dff=config["intermediate_dim"],
        max_length=config["max_sequence_length"],
        dropout=config["dropout"],
        layer_norm_epsilon=1e-5,
        activation="gelu_tanh",
        dtype=dtype,
    )
    model.build((None, None))
    return copy_weights(model, backbone.weights, GPT2_NAMES, "GPT-2")


def bert_from_keras_hub(backbone, dtype=None) -> BertEncoder:
    """A `BertEncoder` (with its pooler) with the weights of a KerasHub `BertBackbone`
    (tanh GELU, as Google's BERT; LayerNorm epsilon 1e-12): the same sequence and pooled
    outputs."""
    config = backbone.get_config()
    model = BertEncoder(
        vocab_size=config["vocabulary_size"],
        num_layers=config["num_layers"],
        d_model=config["hidden_dim"],
        num_heads=config["num_heads"],
        dff=config["intermediate_dim"],
        max_length=config["max_sequence_length"],
        num_segments=config["num_segments"],
        dropout=config["dropout"],
        layer_norm_epsilon=1e-12,
        activation="gelu_tanh",
        dtype=dtype,
    )
    model.build()
    return copy_weights(model, backbone.weights, BERT_NAMES, "BERT")
