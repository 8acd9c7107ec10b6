"""BERT-style pretraining: masked-LM batches (BERT's 80/10/10 masking, seeded) and the
recipe that pretrains an encoder on text. Fine-tuning, loading and export of BERT runs
are in `pipelines.finetuning`."""

import dataclasses
import math
import os

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from pipelines.corpora import SPLITS, load_corpus
from pipelines.runs import (
    RunOptions,
    begin_run,
    check_run,
    distribution,
    dtype_policy,
    fit_run,
    flat_config,
    read_run,
    run_tokenizer,
    write_json,
)
from tf_transformer.errors import InputError
from tf_transformer.models import BertMaskedLM
from tf_transformer.models.bert import PRESETS as BERT_PRESETS
from tf_transformer.models.presets import resolve
from tf_transformer.serving import bert as bert_serving
from tf_transformer.serving.client import strings
from tf_transformer.text import MASK_ID, PAD_ID, RESERVED_TOKENS, WordPieceTokenizer
from tf_transformer.text.bert_inputs import encode_texts, word_labels
from tf_transformer.training import Perplexity, masked_accuracy, masked_loss

AUTOTUNE = tf.data.AUTOTUNE
FAMILY = "bert"
TASKS = {"classify": "classification", "tag": "tagging"}  # task -> the corpus kind it needs


# Data ----------------------------------------------------------------------------------


def max_predictions(seq_len, mask_rate=0.15):
    """The most positions `mask_tokens` selects in one sequence of `seq_len` tokens."""
    return max(1, math.ceil(seq_len * mask_rate))


class _SeededChooser(tf_text.MaskValuesChooser):
    """TF Text's chooser (80% `[MASK]`, 10% a random id, 10% unchanged) drawing from a
    stateless generator: the same `seed` gives the same choices."""

    def __init__(self, vocab_size, mask_id, seed):
        super().__init__(vocab_size, mask_id, mask_token_rate=0.8, random_token_rate=0.1)
        self.seed = seed

    def get_mask_values(self, masked_lm_ids):
        ids = masked_lm_ids.flat_values
        seeds = tf.random.experimental.stateless_split(self.seed, 2)
        draw = tf.random.stateless_uniform(tf.shape(ids), seeds[0])
        random_ids = tf.random.stateless_uniform(
            tf.shape(ids), seeds[1], minval=0, maxval=self.vocab_size, dtype=tf.int64
        )
        values = tf.where(
            draw < 0.8,
            tf.cast(self.mask_token, ids.dtype),
            tf.where(draw < 0.9, tf.cast(random_ids, ids.dtype), ids),
        )
        return masked_lm_ids.with_flat_values(values)


def _seeded_shuffle(seed, size):
    """A shuffle of a row's flat token positions (what `RandomItemSelector` shuffles, row
    by row) by one random key a token of the batch, drawn once from `seed`."""
    keys = tf.random.stateless_uniform([size], seed)

    def shuffle(positions):
        return tf.gather(positions, tf.argsort(tf.gather(keys, positions)))

    return shuffle


def mask_tokens(
    ids, vocab_size, seq_len, mask_rate=0.15, seed=None, mask_id=MASK_ID, special_ids=None
):
    """BERT masking of ragged framed `ids` with TF Text's `mask_language_model`.

    Of each row's tokens other than `special_ids` (default the reserved ids 0-4; a
    checkpoint's tokenizer has its own), `ceil(mask_rate * n)` are selected; of those 80%
    become `mask_id`, 10% a random token, 10% stay. Returns `(masked_ids, positions,
    labels)`: `masked_ids` ragged like `ids`; `positions` and `labels` `(batch,
    max_predictions)`, the selected positions and their original ids, padded with 0 (label
    0 is `[PAD]`, which the masked loss ignores).

    `seed` (a shape-`[2]` integer tensor or pair) makes the choices a function of the seed
    (stateless random ops): the same ids and seed mask the same positions the same way.
    Without it, TF's global random state decides.
    """
    width = max_predictions(seq_len, mask_rate)
    special = list(range(len(RESERVED_TOKENS)) if special_ids is None else special_ids)
    if seed is not None:
        seed = tf.cast(seed, tf.int64)
        selection_seed, value_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        chooser = _SeededChooser(vocab_size, mask_id, value_seed)
        shuffle_fn = _seeded_shuffle(selection_seed, tf.size(ids.flat_values))
    else:
        chooser = tf_text.MaskValuesChooser(
            vocab_size, mask_token=mask_id, mask_token_rate=0.8, random_token_rate=0.1
        )
        shuffle_fn = None
    selector = tf_text.RandomItemSelector(
        max_selections_per_batch=width,
        selection_rate=mask_rate,
        unselectable_ids=special,
        shuffle_fn=shuffle_fn,
    )
    masked, positions, original = tf_text.mask_language_model(ids, selector, chooser)

    def is_special(values):  # ragged in, ragged out
        def flat(v):
            return tf.reduce_any(tf.equal(v[:, None], tf.constant(special, v.dtype)[None]), 1)

        return tf.ragged.map_flat_values(flat, values)

    # A random replacement that lands on a special id (e.g. [PAD]) would read as special:
    # keep the original token there instead, which is one of BERT's three outcomes anyway.
    landed = is_special(masked) & (masked != mask_id) & tf.logical_not(is_special(ids))
    masked = tf.where(landed, ids, masked)
    positions = tf.cast(positions, tf.int32).to_tensor(0, shape=[None, width])
    labels = tf.cast(original, tf.int32).to_tensor(PAD_ID, shape=[None, width])
    return masked, positions, labels


def make_mlm_batches(
    texts: tf.data.Dataset,
    tokenizer,
    seq_len: int = 128,
    batch_size: int = 32,
    mask_rate: float = 0.15,
    shuffle: int = 10000,
    seed: int = None,
) -> tf.data.Dataset:
    """`({"token_ids", "mask_positions"}, labels)` batches from a dataset of strings.

    Each text becomes `[START] pieces [END]` (cut to `seq_len`), padded to the longest in
    its batch; masking runs in `map`, so every pass over the data masks anew. With `seed`,
    the order and every pass's masks follow from it (a resumed run sees the masks it
    would have seen).
    """
    dataset = texts.shuffle(shuffle, seed=seed) if shuffle else texts
    dataset = dataset.batch(batch_size)
    special = sorted({i for i in tokenizer.special_ids.values() if i is not None})

    def to_example(batch, batch_seed=None):
        ids = encode_texts(tokenizer, batch, seq_len)
        masked, positions, labels = mask_tokens(
            ids, tokenizer.vocab_size, seq_len, mask_rate, batch_seed, tokenizer.mask_id, special
        )
        return {"token_ids": masked.to_tensor(PAD_ID), "mask_positions": positions}, labels

    if seed is not None:  # a stateless seed a batch, new on every pass
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds)
    return dataset.map(to_example, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def make_classification_batches(
    examples, tokenizer, seq_len=128, batch_size=32, shuffle=0, seed=None
):
    """`(token_ids, label)` batches from a dataset of `(text, label id)`."""
    dataset = examples.shuffle(shuffle, seed=seed) if shuffle else examples

    def to_example(texts, labels):
        return encode_texts(tokenizer, texts, seq_len).to_tensor(PAD_ID), labels

    return dataset.batch(batch_size).map(to_example, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def make_tagging_batches(examples, tokenizer, seq_len=128, batch_size=32, shuffle=0, seed=None):
    """`(token_ids, labels)` batches from a dataset of `(words, tag ids)`: `labels` is
    `tag + 1` at each word's first piece and 0 (ignored) elsewhere."""
    dataset = examples.shuffle(shuffle, seed=seed) if shuffle else examples

    def to_example(words, tags):
        ids, labels = word_labels(tokenizer, words, tags, seq_len)
        return ids.to_tensor(PAD_ID), labels

    batched = dataset.ragged_batch(batch_size)
    return batched.map(to_example, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


# Pretraining ---------------------------------------------------------------------------


@dataclasses.dataclass
class PretrainConfig(RunOptions):
    """Everything a masked-LM run depends on (its own fields and the shared `RunOptions`);
    saved as the run's `config.json`."""

    source: str = "pydocs"
    preset: str = "bert_small"
    epochs: int = 5
    batch_size: int = 32
    seq_len: int = 128
    vocab_size: int = 8000
    mask_rate: float = 0.15
    learning_rate: float = 5e-4
    warmup_steps: int = 200
    weight_decay: float = 0.01
    top_k: int = 5  # fill-mask answers per [MASK]
    task: str = "pretrain"


def bert_schedule(learning_rate, warmup_steps, total_steps) -> dict:
    """Linear warm-up (at most the run's steps but one) to `learning_rate`, then cosine
    decay to a tenth of it at the run's end, as `config.json` records it."""
    return {
        "warmup_steps": min(warmup_steps, max(total_steps - 1, 0)),
        "peak_learning_rate": learning_rate,
        "total_steps": total_steps,
        "final_learning_rate": learning_rate * 0.1,
    }


def bert_optimizer(schedule: dict, weight_decay):
    """AdamW with the `bert_schedule`; no weight decay on biases and LayerNorm parameters,
    as BERT."""
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(schedule["total_steps"] - schedule["warmup_steps"], 1),
        alpha=0.1,
        warmup_target=schedule["peak_learning_rate"],
        warmup_steps=schedule["warmup_steps"],
    )
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay, epsilon=1e-6)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def check_length(preset, seq_len):
    longest = resolve(BERT_PRESETS, preset, {}, "BERT")["max_length"]
    if seq_len > longest:
        raise InputError(f"--seq-len {seq_len} exceeds {preset}'s {longest} positions")


FILL_MASK_EXAMPLE = "Return a [MASK] of the [MASK] in the list."


def pretraining_texts(source: str, seed: int = 0, log=print) -> dict:
    """The strings of every split of `source`: one corpus spec, or several joined by `+`
    (e.g. `pydocs+cldr-langid`). Any kind of corpus gives its text: both sides of a
    parallel one, the texts of a labelled one."""
    texts = {split: [] for split in SPLITS}
    for spec in source.split("+"):
        corpus = load_corpus(spec.strip(), seed=seed)
        log(f"corpus {corpus.summary()}")
        sides = (0, 1) if corpus.kind == "parallel" else (0,)
        for split in SPLITS:
            for side in sides:
                texts[split].extend(corpus.texts(split, side))
    if not texts["validation"]:
        raise InputError(f"{source}: no validation texts to measure perplexity on")
    return texts


def pretrain(
    config: PretrainConfig, run_dir: str = None, log=print, overwrite=False, resume=False
) -> str:
    """Masked-LM pretraining on `config.source` into `run_dir` (default
    `runs/bert/<timestamp>`): `config.json`, `tokenizer/`, `checkpoints/`, `logs/`,
    `model.keras` (a `BertMaskedLM`), `history.json` and `metrics.json`. `overwrite`,
    `resume` and `config.init_from` as in `translation.train`."""
    strategy = distribution(config.strategy, config.jit_compile)  # before any other TensorFlow work
    config, texts, start = _read_pretraining(config, log)
    run = begin_run(FAMILY, config, run_dir, "runs/bert", overwrite, resume, log, PRETRAIN_KIND)
    precision = dtype_policy(config.mixed_precision, log)
    run.write_config(config, family=FAMILY, precision=precision)
    keras.utils.set_random_seed(config.seed)
    if start:
        start.save_tokenizers(run.dir)
    tokenizer = run_tokenizer(
        WordPieceTokenizer,
        os.path.join(run.dir, "tokenizer"),
        texts["train"],
        config.vocab_size,
        config.vocab_sample,
    )

    def batches(split, shuffle):
        return make_mlm_batches(
            tf.data.Dataset.from_tensor_slices(tf.constant(texts[split], tf.string)),
            tokenizer,
            config.seq_len,
            config.batch_size,
            config.mask_rate,
            shuffle=10000 if shuffle else 0,
            seed=config.seed,
        )

    def train():  # built anew for every fit: see `pipelines.runs.fit_run`
        data = batches("train", shuffle=True)
        return data.repeat() if config.steps_per_epoch else data

    validation = batches("validation", shuffle=False).cache()  # the same masks every epoch
    steps = config.steps_per_epoch or int(train().cardinality())
    schedule = bert_schedule(config.learning_rate, config.warmup_steps, steps * config.epochs)
    run.write_config(config, schedule=schedule)
    run.resumed(config, schedule)
    with strategy.scope():
        model = BertMaskedLM.from_preset(
            config.preset, vocab_size=tokenizer.vocab_size, dtype=precision["policy"]
        )
        model.compile(
            optimizer=bert_optimizer(schedule, config.weight_decay),
            loss=masked_loss,
            metrics=[masked_accuracy],
            jit_compile=config.jit_compile,
        )
        model.build()
        if start:
            start.init_weights(model, log)
    log(f"model: BertMaskedLM preset {config.preset!r}, {model.count_params():,} parameters")
    predictor = bert_serving.FillMask(model, tokenizer, config.top_k, config.seq_len)
    fit_run(
        model,
        train,
        steps,
        config.epochs,
        run.dir,
        [Perplexity()],
        validation_data=validation,
        time_budget=config.time_budget,
        backup_every=config.backup_every,
        verbose=2 if os.environ.get("CI") else 1,
        log=log,
        on_backup=run.commit,
    )
    result = model.evaluate(validation, verbose=0, return_dict=True)
    filled = predictor.predict([FILL_MASK_EXAMPLE])
    metrics = {
        "validation_loss": float(result["loss"]),
        "validation_perplexity": float(np.exp(result["loss"])),
        "validation_masked_accuracy": float(result["masked_accuracy"]),
        "tokenizer_vocab_size": tokenizer.vocab_size,
        "samples": {FILL_MASK_EXAMPLE: strings(filled["tokens"][0])},
    }
    write_json(run.dir, "metrics.json", metrics)
    return run.finish()


PRETRAIN_KIND = "bert pretrain"


def _read_pretraining(config, log):
    """Everything a pretraining run needs, read and checked before its directory is
    decided: the `--init-from` run (whole), the length, the texts. Returns `(config,
    texts, FromRun or None)`."""
    start = None
    if config.init_from:
        start = read_run(config.init_from, FAMILY)
        saved = start.config
        if saved.get("task") != "pretrain":
            raise InputError(
                f"--init-from {config.init_from}: a fine-tuned run, not a pretraining run"
            )
        config = dataclasses.replace(
            config, preset=saved["preset"], vocab_size=saved["vocab_size"], seq_len=saved["seq_len"]
        )
    check_length(config.preset, config.seq_len)
    return config, pretraining_texts(config.source, config.seed, log), start


def read_run_config(run_dir):
    config = flat_config(check_run(run_dir, FAMILY))
    if config.get("task") not in ("pretrain", *TASKS):
        raise InputError(f"{run_dir}: a BERT run of unknown task {config.get('task')!r}")
    return config
