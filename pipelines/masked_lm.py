"""BERT-style pretraining: the recipe that pretrains an encoder on text with masked-LM
batches (`pipelines.masked_lm_batches`). Fine-tuning, loading and export of BERT runs
are in `pipelines.finetuning`."""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from pipelines.corpora import SPLITS, load_corpus
from pipelines.masked_lm_batches import make_mlm_batches
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
from tf_transformer.training import Perplexity, masked_accuracy, masked_loss

AUTOTUNE = tf.data.AUTOTUNE
FAMILY = "bert"
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
