"""BERT-style pretraining: the recipe that pretrains an encoder on text with masked-LM
batches (`pipelines.masked_lm_batches`). Fine-tuning, loading and export of BERT runs
are in `pipelines.finetuning`."""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from pipelines.corpora import example_texts, with_mask
from pipelines.corpora.documents import load_documents
from pipelines.masked_lm_batches import count_windows, make_pretraining_batches, pack_documents
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
from tf_transformer.text import WordPieceTokenizer
from tf_transformer.text.bert_inputs import strip_markup
from tf_transformer.training import Perplexity, Throughput, masked_accuracy, masked_loss

AUTOTUNE = tf.data.AUTOTUNE
FAMILY = "bert"
DEFAULT_SEQ_LEN = 128
TASKS = {"classify": "classification", "tag": "tagging"}  # task -> the corpus kind it needs


# Pretraining ---------------------------------------------------------------------------


@dataclasses.dataclass
class PretrainConfig(RunOptions):
    """Everything a masked-LM run depends on (its own fields and the shared `RunOptions`);
    saved as the run's `config.json`."""

    source: str = "pydocs"
    preset: str = "bert_small"
    epochs: int = 5
    batch_size: int = 32
    seq_len: int = None  # None: DEFAULT_SEQ_LEN, or the --init-from run's
    vocab_size: int = 8000
    mask_rate: float = 0.15
    learning_rate: float = 5e-4
    warmup_steps: int = 200
    weight_decay: float = 0.01
    top_k: int = 5  # fill-mask answers per [MASK]
    whole_word_masking: bool = True  # mask every piece of a chosen word together
    keep_markup: bool = False  # False: HTML tags (IMDb's <br />) are stripped from the text
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
    if seq_len < 3:
        raise InputError(f"--seq-len {seq_len} leaves no room for a token between [CLS] and [SEP]")
    longest = resolve(BERT_PRESETS, preset, {}, "BERT")["max_length"]
    if seq_len > longest:
        raise InputError(f"--seq-len {seq_len} exceeds {preset}'s {longest} positions")


FILL_MASK_EXAMPLE = "Return a [MASK] of the [MASK] in the list."


VALIDATION_BATCHES = 64  # at most: validation windows are masked once and cached


def pretraining_documents(source: str, seed: int = 0, log=print):
    """The unlabelled documents of `source` (`pipelines.corpora.documents`: plain text
    files, one document a line, `text:` files, labelled files' texts, any corpus spec;
    several joined by `+`), checked: a validation split to measure the masked LM on."""
    documents = load_documents(source, seed, log)
    if not documents.size("validation"):
        raise InputError(f"{source}: no validation texts to measure the masked LM on")
    return documents


def pretrain(
    config: PretrainConfig, run_dir: str = None, log=print, overwrite=False, resume=False
) -> str:
    """Masked-LM pretraining on `config.source` into `run_dir` (default
    `runs/bert/<timestamp>`): `config.json`, `tokenizer/`, `checkpoints/`, `logs/`,
    `model.keras` (a `BertMaskedLM`), `history.json` and `metrics.json`. `overwrite`,
    `resume` and `config.init_from` as in `translation.train`."""
    strategy = distribution(config.strategy, config.jit_compile)  # before any other TensorFlow work
    config, documents, start = _read_pretraining(config, log)
    run = begin_run(FAMILY, config, run_dir, "runs/bert", overwrite, resume, log, PRETRAIN_KIND)
    precision = dtype_policy(config.mixed_precision, log)
    run.write_config(config, family=FAMILY, precision=precision)
    keras.utils.set_random_seed(config.seed)
    if start:
        start.save_tokenizers(run.dir)

    def vocabulary_texts():  # called only when the tokenizer is trained
        texts = documents.sample_texts(config.vocab_sample)
        return texts if config.keep_markup else stripped_texts(texts)

    tokenizer = run_tokenizer(
        WordPieceTokenizer,
        os.path.join(run.dir, "tokenizer"),
        vocabulary_texts,
        config.vocab_size,
        config.vocab_sample,
    )
    train, validation, steps, count = pretraining_data(config, documents, tokenizer, log)
    schedule = bert_schedule(config.learning_rate, config.warmup_steps, steps * config.epochs)
    text = {"sources": documents.shares(), "training_windows": count}
    shown = [d.decode() for d in documents.dataset("validation").take(20).as_numpy_iterator()]
    shown = shown if config.keep_markup or not shown else stripped_texts(shown)
    examples = [with_mask(text) for text in example_texts(shown)]
    run.write_config(config, schedule=schedule, text=text, examples=examples)
    run.resumed(config, schedule)
    with strategy.scope():
        model = _masked_lm(config, tokenizer, precision["policy"], schedule, start, log)
    log(f"model: BertMaskedLM preset {config.preset!r}, {model.count_params():,} parameters")
    predictor = bert_serving.FillMask(model, tokenizer, config.top_k, config.seq_len)
    fit_run(
        model,
        train,
        steps,
        config.epochs,
        run.dir,
        [Perplexity(), Throughput(config.batch_size * config.seq_len)],
        validation_data=validation,
        time_budget=config.time_budget,
        backup_every=config.backup_every,
        verbose=2 if os.environ.get("CI") else 1,
        log=log,
        on_backup=run.commit,
    )
    metrics = _final_metrics(model, validation, predictor, tokenizer)
    write_json(run.dir, "metrics.json", metrics)
    return run.finish()


def _masked_lm(config, tokenizer, policy, schedule, start, log):
    """The compiled, built `BertMaskedLM` of a run (weights from `start`, a FromRun)."""
    model = BertMaskedLM.from_preset(config.preset, vocab_size=tokenizer.vocab_size, dtype=policy)
    model.compile(
        optimizer=bert_optimizer(schedule, config.weight_decay),
        loss=masked_loss,
        metrics=[masked_accuracy],
        jit_compile=config.jit_compile,
    )
    model.build()
    if start:
        start.init_weights(model, log)
    return model


def _final_metrics(model, validation, predictor, tokenizer):
    result = model.evaluate(validation, verbose=0, return_dict=True)
    filled = predictor.predict([FILL_MASK_EXAMPLE])
    return {
        "validation_loss": float(result["loss"]),
        "validation_perplexity": float(np.exp(result["loss"])),
        "validation_masked_accuracy": float(result["masked_accuracy"]),
        "tokenizer_vocab_size": tokenizer.vocab_size,
        "samples": {FILL_MASK_EXAMPLE: strings(filled["tokens"][0])},
    }


def _cleaner(config):
    """What a run does to its text before tokenizing: strip markup, unless kept."""
    return None if config.keep_markup else strip_markup


def pretraining_batches(config, documents, tokenizer):
    """`batches(split, shuffle)`: a split's packed, masked batches as the run `config`
    makes them (its windows, masking, markup and seed); shuffled training batches are
    full, validation keeps its last one."""
    clean = _cleaner(config)

    def batches(split, shuffle):
        return make_pretraining_batches(
            pack_documents(documents.dataset(split), tokenizer, config.seq_len, clean=clean),
            tokenizer,
            config.seq_len,
            config.batch_size,
            config.mask_rate,
            shuffle=4096 if shuffle else 0,
            seed=config.seed,
            whole_words=config.whole_word_masking,
            drop_remainder=shuffle,
        )

    return batches


def pretraining_data(config, documents, tokenizer, log):
    """`(train, validation, steps, windows)`: a function making the (endless) training
    batches, the cached validation batches, the steps of an epoch and the number of
    training windows (counted in one pass of tokenizing)."""
    batches = pretraining_batches(config, documents, tokenizer)

    def train():  # built anew for every fit: see `pipelines.runs.fit_run`
        return batches("train", shuffle=True).repeat()

    log("counting the training windows (one pass of tokenizing) ...")
    count = count_windows(documents.dataset("train"), tokenizer, config.seq_len, _cleaner(config))
    if count < config.batch_size:
        raise InputError(
            f"{config.source}: {count} windows of {config.seq_len} tokens, fewer than one "
            f"batch of {config.batch_size}; give more text or a smaller --seq-len/--batch-size"
        )
    steps = config.steps_per_epoch or count // config.batch_size
    log(
        f"{count:,} windows of {config.seq_len} tokens ({count * config.seq_len:,} tokens): "
        f"{steps:,} steps an epoch of batch {config.batch_size}"
    )
    validation = _validation(batches("validation", shuffle=False), config)
    return train, validation, steps, count


PRETRAIN_KIND = "bert pretrain"


def _read_pretraining(config, log):
    """Everything a pretraining run needs, read and checked before its directory is
    decided: the `--init-from` run (whole), the length, the documents. Returns `(config,
    Documents, FromRun or None)`."""
    start = None
    if config.init_from:
        start = read_run(config.init_from, FAMILY)
        saved = start.config
        if saved.get("task") != "pretrain":
            raise InputError(
                f"--init-from {config.init_from}: a fine-tuned run, not a pretraining run"
            )
        # the model and vocabulary are the run's; the windows may grow (BERT's own recipe:
        # short windows first, then long ones, which train the positions beyond)
        config = dataclasses.replace(config, preset=saved["preset"], vocab_size=saved["vocab_size"])
        if config.seq_len not in (None, saved["seq_len"]):
            log(
                f"--init-from {config.init_from}: trained on windows of {saved['seq_len']}, "
                f"continues on windows of {config.seq_len}"
            )
    if config.seq_len is None:
        config = dataclasses.replace(
            config, seq_len=start.config["seq_len"] if start else DEFAULT_SEQ_LEN
        )
    check_length(config.preset, config.seq_len)
    return config, pretraining_documents(config.source, config.seed, log), start


def _validation(batches, config):
    """The first `VALIDATION_BATCHES` validation batches, masked once and cached (the same
    masks every epoch, so that validation figures compare across epochs), their number
    known (Keras then reads them without running past their end)."""
    batches = batches.take(VALIDATION_BATCHES).cache()
    count = int(batches.reduce(0, lambda count, _: count + 1))  # fills the cache
    if not count:
        raise InputError(
            f"{config.source}: the validation texts fill no window of {config.seq_len} tokens"
        )
    return batches.apply(tf.data.experimental.assert_cardinality(count))


def stripped_texts(texts: list) -> list:
    """Python strings with their markup stripped, as `strip_markup` strips it in the graph
    (the vocabulary is learned from the text the model reads)."""
    return [text.decode() for text in strip_markup(tf.constant(texts, tf.string)).numpy()]


def read_run_config(run_dir):
    config = flat_config(check_run(run_dir, FAMILY))
    if config.get("task") not in ("pretrain", *TASKS):
        raise InputError(f"{run_dir}: a BERT run of unknown task {config.get('task')!r}")
    return config
