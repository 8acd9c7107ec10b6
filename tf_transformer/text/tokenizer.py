"""The interface every tokenizer here shares: a `tf.Module` that knows its special ids."""

import contextlib
import os
import re
import sys
import time

import tensorflow as tf
import tensorflow_text as tf_text

RESERVED_TOKENS = ("[PAD]", "[UNK]", "[START]", "[END]", "[MASK]")
PAD_ID, UNK_ID, START_ID, END_ID, MASK_ID = range(len(RESERVED_TOKENS))


class Tokenizer(tf.Module):
    """Strings to ids and back, in the graph, so it runs in `tf.data` and in a SavedModel.

    `tokenize(strings[None]) -> RaggedTensor[int32]`, `detokenize(ids) -> strings[None]`
    (reserved tokens, `[PAD]` included, are dropped; ids may be ragged or padded),
    `lookup(ids) -> token strings`, `vocab_size`, and the special ids `pad_id`, `unk_id`,
    `start_id`, `end_id`, `mask_id` (`None` where the vocabulary has no such token).
    Vocabularies learned here reserve the same ids: `[PAD]`=0, `[UNK]`=1, `[START]`=2,
    `[END]`=3, `[MASK]`=4; a published checkpoint's tokenizer passes `special_ids`, the
    ids its own files give those roles (BERT's `[CLS]` is its `start_id`, GPT-2's
    `<|endoftext|>` its `start_id` and `end_id`).

    `special_text` lists tokens that, written literally in a text, are read as their own
    id (as Hugging Face's tokenizers read `[MASK]` or `<|endoftext|>`); by default every
    text is only text (as Google's BERT and KerasHub read it).
    """

    pad_id, unk_id, start_id, end_id, mask_id = PAD_ID, UNK_ID, START_ID, END_ID, MASK_ID
    reserved_tokens = RESERVED_TOKENS
    # whether `train` may learn from a sample of a large corpus (a learned vocabulary) or
    # must read every text (a character set, where a sample could miss a rare character)
    learns_from_sample = True
    ROLES = ("pad", "unk", "start", "end", "mask")

    def __init__(self, vocab, name=None, special_ids=None, special_text=()):
        super().__init__(name=name)
        vocab = list(vocab)
        missing = [token for token in special_text if token not in vocab]
        if missing:
            raise ValueError(f"special_text {missing[0]!r} is not in the vocabulary")
        self.special_text = {token: vocab.index(token) for token in special_text}
        if special_ids is None:
            if tuple(vocab[: len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
                raise ValueError(f"the vocabulary must start with {', '.join(RESERVED_TOKENS)}")
        else:
            for role in self.ROLES:
                setattr(self, f"{role}_id", special_ids.get(role))
        self.vocab = tf.Variable(vocab, dtype=tf.string, trainable=False, name="vocab")
        self._vocab_size = len(vocab)

    @property
    def special_ids(self) -> dict:
        """`{"pad": id, "unk": id, "start": id, "end": id, "mask": id}` (`None`: absent)."""
        return {role: getattr(self, f"{role}_id") for role in self.ROLES}

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(self, strings):
        if not self.special_text:
            return self._tokenize(strings)
        return self._tokenize_with_special_text(strings)

    def _tokenize_with_special_text(self, strings):
        """Each text cut at the `special_text` literals; those are their ids, the pieces
        between them tokenized on their own (as Hugging Face splits added tokens out)."""
        pattern = "|".join(re.escape(token) for token in self.special_text)
        pieces = tf_text.regex_split(strings, pattern, pattern)  # (batch, (pieces))
        flat = pieces.flat_values
        special = tf.fill(tf.shape(flat), -1)
        for token, index in self.special_text.items():
            special = tf.where(tf.equal(flat, token), index, special)
        is_special = special >= 0
        ids = self._tokenize(tf.where(is_special, "", flat))  # (pieces, (tokens))
        own = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(special, is_special), tf.cast(is_special, tf.int64)
        )
        return pieces.with_flat_values(tf.concat([own, ids], axis=1)).merge_dims(1, 2)

    def detokenize(self, ids):
        if isinstance(ids, tf.RaggedTensor):
            return self.detokenize_ragged(ids)
        return self.detokenize_dense(ids)

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.int32, 1)])
    def detokenize_ragged(self, ids):
        distinct = sorted({i for i in self.special_ids.values() if i is not None})
        specials = tf.constant(distinct, tf.int32)
        special = tf.equal(ids.flat_values[:, None], specials[None, :])
        keep = ids.with_flat_values(tf.logical_not(tf.reduce_any(special, axis=1)))
        return self._detokenize(tf.ragged.boolean_mask(ids, keep))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def detokenize_dense(self, ids):
        return self.detokenize_ragged(tf.RaggedTensor.from_tensor(ids))

    @tf.function(input_signature=[tf.TensorSpec(None, tf.int32)])
    def lookup(self, ids):
        return tf.gather(self.vocab, ids)

    # Saving alone: one file a tokenizer (`file_name`), which then also travels as an asset
    # in every SavedModel that tracks the tokenizer.
    file_name: str = None

    def file_bytes(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def from_file_bytes(cls, data: bytes):
        raise NotImplementedError

    def save(self, directory):
        """Writes the tokenizer's file into `directory`."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, self.file_name)
        with open(path, "wb") as handle:
            handle.write(self.file_bytes())
        self.asset = tf.saved_model.Asset(path)

    @classmethod
    def load(cls, directory):
        """The tokenizer `save` wrote into `directory`."""
        path = os.path.join(directory, cls.file_name)
        with open(path, "rb") as handle:
            tokenizer = cls.from_file_bytes(handle.read())
        tokenizer.asset = tf.saved_model.Asset(path)
        return tokenizer

    def _tokenize(self, strings):
        raise NotImplementedError

    def _detokenize(self, ids):
        raise NotImplementedError


class TrainingProgress:
    """A progress bar over the texts a vocabulary is learned from, and a closing line."""

    def __init__(self, what, total):
        import keras

        self.what, self.total, self.start = what, total, time.time()
        print(f"{what}: reading {total:,} texts", file=sys.stderr)
        self.bar = keras.utils.Progbar(total, unit_name="text")

    def batches(self, texts, batch_size=1024):
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            yield batch
            with contextlib.redirect_stdout(sys.stderr):  # progress is not output
                self.bar.add(len(batch))

    def done(self, vocab_size):
        elapsed = time.time() - self.start
        print(f"{self.what}: {vocab_size:,} tokens in {elapsed:.1f}s", file=sys.stderr)
