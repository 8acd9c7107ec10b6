"""BERT's task models over a `BertEncoder`: masked LM (with its tied head), sequence
classifier and token tagger."""

import keras
from keras import ops

from tf_transformer.layers.crf import LinearChainCRF, first_to_front
from tf_transformer.layers.feed_forward import get_activation
from tf_transformer.layers.masks import padding_mask as ids_padding_mask
from tf_transformer.layers.word_embedding import WordCharacterEmbedding
from tf_transformer.models.bert import BertEncoder, bert_initializer
from tf_transformer.training.losses import global_count

POOLINGS = ("cls", "mean")  # BertClassifier's: BERT's pooler, or the real tokens' mean
TAG_HEADS = ("dense", "lstm")  # BertTokenTagger's: see its docstring


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _unpack(inputs):
    """`token_ids` and the optional `segment_ids` and `mask_positions` of a model input
    (a tensor of token ids, or a dict of them)."""
    if isinstance(inputs, dict):
        return inputs["token_ids"], inputs.get("segment_ids"), inputs.get("mask_positions")
    return inputs, None, None


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
            kernel_initializer=bert_initializer(),
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
            kernel_initializer=bert_initializer(),
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
        _check_choice("pooling", pooling, POOLINGS)
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


def _reverse_real(x, lengths):
    """`x` `(batch, length, width)` with each row's first `lengths` positions in reverse
    order and the (padding) positions after them where they were."""
    positions = ops.arange(ops.shape(x)[1])[None, :]
    lengths = lengths[:, None]
    order = ops.where(positions < lengths, lengths - 1 - positions, positions)
    return ops.take_along_axis(x, order[..., None], axis=1)


@keras.saving.register_keras_serializable(package="tf_transformer")
class BertTokenTagger(_TaskModel):
    """Token classification: float32 logits to `num_tags` at every position. `labels`
    (optional) names the tags, for export.

    `head` is what lies between the encoder and the logits: `"dense"` (BERT's: dropout and
    one dense layer on each position) or `"lstm"` (dropout, then a bidirectional LSTM of
    `d_model` units each way, float32, then the dense layer): a sequence layer of its own,
    as BiLSTM taggers have, that a small encoder lacks. The backward LSTM reads each text's
    real tokens last to first (the padding after them reversed out of its way, not masked:
    a Keras mask would reach the loss), so padding changes no real position's logits.

    `crf=True` adds a linear-chain CRF over the words' tags (`layers.crf`): training
    maximises the true tag sequence's log-probability (the words are the positions whose
    label is not 0, each word's first piece) instead of each word's own, and the
    predictor decodes with its learned transitions (Viterbi). The logits stay the CRF's
    per-word scores.

    `word_features` (the vocabulary sizes and other arguments of
    `layers.word_embedding.WordCharacterEmbedding`) adds each word's own features, an
    embedding of the word and a character CNN of its spelling, joined to the encoder's
    output at the word's first piece before the head: the inputs are then a dict of
    `token_ids`, `word_ids` and `char_ids` (`text.bert_inputs.tagger_inputs`).

    Example:
    ```python
    import numpy as np
    from tf_transformer.models import BertTokenTagger
    model = BertTokenTagger.from_preset("bert_tiny", vocab_size=100, num_tags=4)
    model(np.array([[2, 5, 6, 3]])).shape  # (1, 4, 4)
    ```
    """

    def __init__(
        self,
        encoder,
        num_tags,
        dropout=0.1,
        labels=None,
        head="dense",
        crf=False,
        word_features=None,
        **kwargs,
    ):
        super().__init__(encoder, **kwargs)
        _check_choice("head", head, TAG_HEADS)
        self.num_tags = num_tags
        self.head = head
        self.word_features = dict(word_features) if word_features else None
        self.word_embedding = None
        if self.word_features:
            self.word_embedding = WordCharacterEmbedding(**self.word_features, name="words")
        self.crf = LinearChainCRF(num_tags - 1, name="crf") if crf else None  # class 0: no tag
        self.make_head(num_tags, dropout, labels, "tags")
        self.lstms = None
        if head == "lstm":
            self.lstms = [
                keras.layers.LSTM(
                    encoder.d_model, return_sequences=True, dtype="float32", name=f"{way}_lstm"
                )
                for way in ("forward", "backward")
            ]

    @classmethod
    def from_preset(
        cls, name, num_tags, labels=None, head="dense", crf=False, word_features=None, **overrides
    ):
        return cls(
            BertEncoder.from_preset(name, **{"use_pooler": False, **overrides}),
            num_tags,
            labels=labels,
            head=head,
            crf=crf,
            word_features=word_features,
        )

    def build(self, input_shape=None):
        self.build_encoder()
        width = self.encoder.d_model
        if self.word_embedding is not None:
            self.word_embedding.build()
            width += self.word_embedding.width
        if self.lstms is not None:
            for lstm in self.lstms:
                lstm.build((None, None, width))
            width = 2 * self.encoder.d_model
        self.classifier.build((None, None, width))
        if self.crf is not None:
            self.crf.build()
        self.built = True

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """With a CRF: its negative log-likelihood of each text's true tags, summed and
        divided by the number of words in the global batch (each replica's share of the
        mean, as `masked_loss`; the compiled loss is not used); otherwise Keras's."""
        if self.crf is None:
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        words = ops.not_equal(y, 0)
        lengths = ops.sum(ops.cast(words, "int32"), axis=1)
        emissions = first_to_front(ops.cast(y_pred, "float32")[..., 1:], words)
        tags = first_to_front(ops.maximum(ops.cast(y, "int32") - 1, 0), words)
        loss = ops.sum(self.crf.negative_log_likelihood(emissions, tags, lengths))
        count, _ = global_count(ops.cast(ops.sum(lengths), "float32"))
        loss = loss / ops.maximum(count, 1.0)
        for extra in self.losses:
            loss = loss + ops.cast(ops.sum(extra), "float32")
        return loss

    def call(self, inputs, training=None):
        token_ids, segment_ids, _ = _unpack(inputs)
        hidden = self.encoder(token_ids, segment_ids=segment_ids, training=training)
        hidden = self.head_dropout(hidden, training=training)
        if self.word_embedding is not None:  # each word's own, at its first piece
            own = self.word_embedding(inputs["word_ids"], inputs["char_ids"], training=training)
            hidden = ops.concatenate([ops.cast(hidden, own.dtype), own], axis=-1)
        if self.lstms is not None:
            hidden = ops.cast(hidden, "float32")
            lengths = ops.sum(ops.cast(ids_padding_mask(token_ids), "int32"), axis=1)
            forward, backward = self.lstms
            backward = _reverse_real(backward(_reverse_real(hidden, lengths)), lengths)
            hidden = ops.concatenate([forward(hidden), backward], axis=-1)
        return ops.cast(self.classifier(hidden), "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            num_tags=self.num_tags, dropout=self.dropout, labels=self.labels, head=self.head
        )
        return {**config, "crf": self.crf is not None, "word_features": self.word_features}
