"""Text in, text out: tokenizers, a seq2seq `Transformer` and decoding in one `tf.Module`."""

import tensorflow as tf

from tf_transformer.generation.decoding import beam_search, generate

# Unicode's White_Space: U+0009-U+000D, U+0085 and the separators (Zs, Zl, Zp: U+0020,
# U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000). RE2's `\s` is
# only [\t\n\f\r ], without \v and U+0085.
BLANK = r"[\t-\r\x{85}\p{Z}]*"


class Translator(tf.Module):
    """Translates a batch of strings in the graph: tokenize, encode once, decode with the
    key/value cache, detokenize. The same object is what `translate text` calls and what
    the export serves.

    Sources longer than the model's `max_length` are truncated. An empty or blank source
    (only Unicode White_Space, `BLANK`) translates to an empty string, in the graph,
    whatever the model learned.
    `translate(texts)` is greedy; `translate(texts, beam_size=K)` runs beam search (with a
    finished pool, `tf_transformer.generation.beam_search`).
    """

    def __init__(self, model, source_tokenizer, target_tokenizer, length_penalty=0.6):
        super().__init__(name="translator")
        if not model.built:  # a fresh model has no weights yet; export needs them
            model.build(((None, None), (None, None)))
        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.length_penalty = length_penalty
        self.max_length = model.max_length
        self._compiled = {}

    def source_ids(self, texts):
        ids = self.source_tokenizer.tokenize(texts)[:, : self.max_length - 1]
        # one trailing [PAD] column: an all-empty batch still has a source axis of length 1,
        # and padding never changes the model's outputs
        return tf.pad(ids.to_tensor(), [[0, 0], [0, 1]])

    def token_ids(self, texts, beam_size=1):
        """Target ids `(batch, max_length - 1)`, `[END]` and `[PAD]` included; all `[PAD]`
        for a blank source (nothing but Unicode whitespace)."""
        texts = tf.convert_to_tensor(texts, tf.string)
        source = self.source_ids(texts)
        cache, static = self.model.start_decoding(source, self.max_length)
        prompt = tf.fill([tf.shape(source)[0], 1], self.target_tokenizer.start_id)
        steps = self.max_length - 1
        if beam_size > 1:
            tokens = beam_search(
                self.model.decode_step,
                prompt,
                cache,
                static,
                steps,
                beam_size=beam_size,
                length_penalty=self.length_penalty,
                end_id=self.target_tokenizer.end_id,
            )
        else:
            end = self.target_tokenizer.end_id
            tokens = generate(self.model.decode_step, prompt, cache, static, steps, end_id=end)
        blank = tf.strings.regex_full_match(texts, BLANK)
        return tf.where(blank[:, None], self.target_tokenizer.pad_id, tokens)

    def next_token(self, texts, prefixes, k=10):
        """The `k` likeliest next target tokens of each source text after its translation
        so far (`prefixes`, target text, empty for the first token), as the model scores
        them: `(tokens: string[batch, k], probabilities: float32[batch, k])`, likeliest
        first. A prefix longer than the model's positions keeps its first tokens."""
        texts = tf.convert_to_tensor(texts, tf.string)
        source = self.source_ids(texts)
        prefix = self.target_tokenizer.tokenize(prefixes)[:, : self.max_length - 1]
        start = tf.fill([tf.shape(source)[0], 1], self.target_tokenizer.start_id)
        target = tf.concat([start, tf.cast(prefix.to_tensor(), tf.int32)], axis=1)
        logits = self.model((source, target), training=False)
        last = tf.cast(prefix.row_lengths(), tf.int32)  # the position after the prefix
        k = min(k, self.target_tokenizer.vocab_size)
        probabilities, ids = tf.math.top_k(tf.nn.softmax(tf.gather(logits, last, batch_dims=1)), k)
        return self.target_tokenizer.lookup(ids), probabilities

    def translate(self, texts, beam_size=1):
        """Translations of a `[batch]` string tensor (or list), as a `[batch]` string tensor."""
        return self.target_tokenizer.detokenize(self.token_ids(texts, beam_size))

    def translate_strings(self, texts, beam_size=1):
        """Translations of a list of Python strings, through a compiled `tf.function` (one
        per beam size, traced once), as a list of Python strings."""
        compiled = self._compiled.get(beam_size)
        if compiled is None:
            compiled = tf.function(
                lambda t: self.translate(t, beam_size=beam_size),
                input_signature=[tf.TensorSpec([None], tf.string)],
            )
            self._compiled[beam_size] = compiled
        outputs = compiled(tf.constant(list(texts), tf.string)).numpy()
        return [t.decode("utf-8", errors="replace") for t in outputs]
