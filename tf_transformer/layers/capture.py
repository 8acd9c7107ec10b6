"""Seeing inside a forward pass: the residual stream around every sublayer and every
attention head's weights, recorded as the layers run.

    with capture() as seen:
        logits = model(token_ids, training=False)   # an ordinary, eager call
    for record in seen.records:
        record.layer, record.kind, record.input.shape, record.attention

Each sublayer (`GlobalSelfAttention`, `CausalSelfAttention`, `CrossAttention`,
`FeedForward`) records the stream it reads (`input`), what it adds to it (`added`: its
output after dropout, before a post-norm's LayerNorm), the stream it passes on (`output`)
and, for attention, the probabilities `(batch, heads, queries, keys)` (float32; masked
positions exactly 0); `PositionalEmbedding` records the token embedding as the model scales
it (`input`), the positional encoding (`added`) and their sum (`output`; BERT's encoder
then adds the segment embedding and normalizes, the first block reads that). Records are in
the order the layers ran (a cached decoding loop records every step). Only eager calls
record: inside `tf.function` (`predict`, exported graphs) nothing is kept, so capturing
costs nothing there. What is recorded is the forward pass itself, not a copy of it: the
model's outputs are the same with or without `capture()`.
"""

import contextlib
import dataclasses

import numpy as np
import tensorflow as tf
from keras import ops

_RECORDERS = []  # the open `capture()` contexts, innermost last


@dataclasses.dataclass
class Record:
    """One sublayer's part of a forward pass (numpy arrays; see the module docstring)."""

    layer: str  # the layer's path in the model, e.g. "transformer/encoder/encoder_layer_0/..."
    kind: str  # its class: "GlobalSelfAttention", "FeedForward", "PositionalEmbedding", ...
    input: np.ndarray
    added: np.ndarray
    output: np.ndarray
    attention: np.ndarray = None


@dataclasses.dataclass
class Capture:
    """The records of one `capture()` block."""

    records: list = dataclasses.field(default_factory=list)

    def of(self, kind: str) -> list:
        """The records of one kind of layer (a class name), in the order they ran."""
        return [record for record in self.records if record.kind == kind]

    def attention(self) -> list:
        """The records that carry attention weights, in the order they ran."""
        return [record for record in self.records if record.attention is not None]


@contextlib.contextmanager
def capture():
    """Records every sublayer of the eager forward passes run inside the block; yields the
    `Capture` they go into."""
    seen = Capture()
    _RECORDERS.append(seen)
    try:
        yield seen
    finally:
        _RECORDERS.remove(seen)


def capturing() -> bool:
    """Whether a `capture()` block is open and the code runs eagerly (records are kept)."""
    return bool(_RECORDERS) and tf.executing_eagerly()


def record(layer, input, added, output, attention=None):
    """Adds `layer`'s part of the pass to the innermost open `capture()` (layers call this
    when `capturing()`)."""
    if not capturing():
        return

    def array(value):
        return None if value is None else np.asarray(ops.convert_to_numpy(value))

    _RECORDERS[-1].records.append(
        Record(
            layer=getattr(layer, "path", None) or layer.name,
            kind=type(layer).__name__,
            input=array(input),
            added=array(added),
            output=array(output),
            attention=array(attention),
        )
    )
