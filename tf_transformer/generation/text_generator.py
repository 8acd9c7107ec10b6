"""Prompt in, completion out: a tokenizer, a `GPT` and sampling in one `tf.Module`."""

import tensorflow as tf

from tf_transformer.generation.decoding import generate
from tf_transformer.text.tokenizer import PAD_ID


class TextGenerator(tf.Module):
    """Completes a batch of prompts in the graph: tokenize, left-pad, one cached pass over
    the prompts, then one token a step until `[END]` or the row's `max_new_tokens`.

    With `prompt_start="end"` (the default) every prompt starts with the tokenizer's end
    id (`[END]`, GPT-2's `<|endoftext|>`), the document separator the model was trained
    with, so an empty prompt starts a new document, as this package's runs and KerasHub's
    `GPT2CausalLM` generate. With `"none"` a prompt is its own tokens, as Hugging Face's
    `generate` takes them; only an empty prompt gets the end id (a model needs a token to
    start from). Prompts of different lengths are left-padded and each row's positions start
    at its first real token, so a prompt gets the same continuation in any batch. A prompt
    longer than the context keeps its last tokens. Defaults for the sampling options are
    the object's attributes.
    """

    def __init__(
        self,
        model,
        tokenizer,
        max_new_tokens=64,
        temperature=0.8,
        top_k=40,
        top_p=0.95,
        seed=0,
        prompt_start="end",
    ):
        super().__init__(name="text_generator")
        if prompt_start not in PROMPT_STARTS:
            raise ValueError(f"prompt_start must be one of {PROMPT_STARTS}, got {prompt_start!r}")
        self.prompt_start = prompt_start
        if not model.built:  # a fresh model has no weights yet; export needs them
            model.build((None, None))
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.seed = seed
        self._compiled = None

    def token_ids(
        self, prompts, max_new_tokens=None, temperature=None, top_k=None, top_p=None, seed=None
    ):
        """Completion ids `(batch, steps)`; every option a scalar or one value per row."""
        prompts = tf.convert_to_tensor(prompts, tf.string)
        batch = tf.shape(prompts)[0]
        limits = tf.cast(
            tf.broadcast_to(self._option(max_new_tokens, "max_new_tokens"), [batch]), tf.int32
        )
        limits = tf.clip_by_value(limits, 0, self.model.max_length - 1)
        steps = tf.reduce_max(tf.concat([limits, [0]], 0))
        left_padded, cache, static = self._start(prompts, steps)
        return generate(
            self.model.decode_step,
            left_padded,
            cache,
            static,
            steps,
            temperature=self._option(temperature, "temperature"),
            top_k=self._option(top_k, "top_k"),
            top_p=self._option(top_p, "top_p"),
            seed=self._option(seed, "seed"),
            row_limits=limits,
            end_id=self.tokenizer.end_id,
            pad_id=self.tokenizer.pad_id,
        )

    def _start(self, prompts, steps):
        """The prompts framed, cut to what fits beside `steps` new tokens and left-padded,
        with a cache of room for them and the rows' offsets and padding mask."""
        context = self.model.max_length
        ids = self.tokenizer.tokenize(prompts)
        starts = tf.ones_like(ids.row_lengths())  # one end id before every prompt
        if self.prompt_start == "none":
            starts = tf.cast(ids.row_lengths() == 0, starts.dtype)  # only before empty ones
        end = tf.constant(self.tokenizer.end_id, ids.dtype)
        first = tf.RaggedTensor.from_row_lengths(tf.fill([tf.reduce_sum(starts)], end), starts)
        ids = tf.concat([first, ids], axis=1)
        keep = context - steps  # the newest prompt tokens that fit beside the completion
        lengths = tf.minimum(ids.row_lengths(), tf.cast(keep, tf.int64))
        ids = tf.RaggedTensor.from_row_lengths(
            tf.gather(ids.flat_values, _last_indices(ids.row_starts(), ids.row_lengths(), lengths)),
            lengths,
        )
        left_padded, offsets = _left_pad(ids)
        total = tf.shape(left_padded)[1] + steps
        cache = self.model.init_cache(tf.shape(prompts)[0], total)
        static = {
            "positions_offset": offsets,
            "padding_mask": tf.range(total)[None, :] >= offsets[:, None],
        }
        return left_padded, cache, static

    def next_token(self, prompts, k=10):
        """The `k` likeliest next tokens after each prompt, as the model scores them
        (temperature 1, nothing cut): `(tokens: string[batch, k], probabilities:
        float32[batch, k])`, likeliest first; a prompt longer than the context keeps its
        last tokens."""
        prompts = tf.convert_to_tensor(prompts, tf.string)
        left_padded, cache, static = self._start(prompts, 0)
        logits, _ = self.model.decode_step(left_padded, cache, 0, static)
        k = min(k, self.tokenizer.vocab_size)
        probabilities, ids = tf.math.top_k(tf.nn.softmax(logits[:, -1]), k=k)
        return self.tokenizer.lookup(ids), probabilities

    def complete(self, prompts, **options):
        """Completions (the new text only) of a `[batch]` string tensor or list."""
        return self.tokenizer.detokenize(self.token_ids(prompts, **options))

    def complete_strings(self, prompts, **options):
        """`complete` on Python strings through a compiled function, with scalar options."""
        if self._compiled is None:
            self._compiled = tf.function(
                lambda p, m, t, k, q, s: self.complete(
                    p, max_new_tokens=m, temperature=t, top_k=k, top_p=q, seed=s
                )
            )
        values = {name: options.get(name, getattr(self, name)) for name in OPTIONS}
        outputs = self._compiled(
            tf.constant(list(prompts), tf.string),
            tf.constant(values["max_new_tokens"], tf.int32),
            tf.constant(values["temperature"], tf.float32),
            tf.constant(values["top_k"], tf.int32),
            tf.constant(values["top_p"], tf.float32),
            tf.constant(values["seed"], tf.int64),
        )
        return [t.decode("utf-8", errors="replace") for t in outputs.numpy()]

    def _option(self, value, name):
        return getattr(self, name) if value is None else value


OPTIONS = ("max_new_tokens", "temperature", "top_k", "top_p", "seed")
PROMPT_STARTS = ("end", "none")


def _last_indices(starts, lengths, keep):
    """Flat indices of the last `keep[i]` values of each row."""
    first = starts + lengths - keep
    return tf.ragged.range(first, first + keep).flat_values


def _left_pad(ids):
    """A ragged batch as a dense `[PAD]`-left-padded one, and each row's pad count."""
    lengths = tf.cast(ids.row_lengths(), tf.int32)
    width = tf.reduce_max(tf.concat([lengths, [1]], 0))
    offsets = width - lengths
    right_padded = ids.to_tensor(default_value=PAD_ID, shape=[None, None])
    right_padded = tf.pad(right_padded, [[0, 0], [0, width - tf.shape(right_padded)[1]]])
    source = tf.range(width)[None, :] - offsets[:, None]
    gathered = tf.gather(right_padded, tf.maximum(source, 0), batch_dims=1)
    return tf.where(source >= 0, gathered, PAD_ID), offsets
