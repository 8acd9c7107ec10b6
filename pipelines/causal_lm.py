"""Causal language modelling: documents to one token stream, cut into shifted windows,
and the recipe that trains, samples from and exports a GPT."""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from pipelines.corpora import load_corpus
from pipelines.runs import (
    RunOptions,
    begin_run,
    check_run,
    distribution,
    dtype_policy,
    fit_run,
    read_config,
    read_run,
    run_tokenizer,
    write_json,
)
from tf_transformer.errors import InputError
from tf_transformer.generation.text_generator import TextGenerator
from tf_transformer.models import GPT
from tf_transformer.models.gpt import PRESETS as GPT_PRESETS
from tf_transformer.models.presets import resolve
from tf_transformer.serving.export import export_generator
from tf_transformer.text import SentencePieceTokenizer, load_tokenizer
from tf_transformer.training import Perplexity, SampleOutputs

AUTOTUNE = tf.data.AUTOTUNE
FAMILY = "gpt"


def token_stream(texts, tokenizer, separator=None, batch_size=512):
    """Every text's ids, each followed by `separator` (default the tokenizer's end id), as
    one int32 numpy array."""
    separator = tokenizer.end_id if separator is None else separator
    pieces = []
    for start in range(0, len(texts), batch_size):
        ids = tokenizer.tokenize(tf.constant(texts[start : start + batch_size]))
        sep = tf.fill([ids.nrows(), 1], tf.constant(separator, ids.dtype))
        pieces.append(tf.concat([ids, sep], axis=1).flat_values.numpy())
    return np.concatenate(pieces).astype("int32") if pieces else np.zeros([0], "int32")


def make_windows(
    stream,
    seq_len: int = 128,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = None,
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """`(x, y)` batches: window `i` is `stream[i*seq_len : i*seq_len + seq_len + 1]`,
    `x` its first `seq_len` tokens and `y` its last `seq_len` (shifted by one). Windows
    overlap by one token, so every next-token transition of the stream is trained."""
    stream = tf.constant(stream, tf.int32)
    count = (int(stream.shape[0]) - 1) // seq_len
    if count < 1:
        raise ValueError(f"the token stream ({stream.shape[0]} tokens) is shorter than one window")
    dataset = tf.data.Dataset.range(count)
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)

    def window(index):
        start = tf.cast(index, tf.int32) * seq_len
        chunk = stream[start : start + seq_len + 1]
        return tf.reshape(chunk[:-1], [seq_len]), tf.reshape(chunk[1:], [seq_len])

    dataset = dataset.map(window, num_parallel_calls=AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)


# The recipe: text source -> tokenizer -> packed windows -> fit -> perplexity -> export ---


def gpt_optimizer(learning_rate, weight_decay):
    """AdamW (beta_2 0.95) that decays the weight matrices only, as GPT-2 and nanoGPT: not
    biases, LayerNorm scales and offsets, or the token and position embeddings."""
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, beta_2=0.95)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "embeddings"])
    return optimizer


@dataclasses.dataclass
class GPTConfig(RunOptions):
    """Everything a causal LM run depends on (its own fields and the shared `RunOptions`);
    saved as the run's `config.json`."""

    source: str = "pydocs"
    preset: str = "gpt_mini"
    epochs: int = 5
    batch_size: int = 16
    seq_len: int = 128
    vocab_size: int = 8000
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    weight_decay: float = 0.1
    architecture: dict = None  # GPT arguments over the preset's (an imported checkpoint's)
    # sampling defaults of `gpt generate` and of the export's serving_default
    max_new_tokens: int = 64
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95


SAMPLE_PROMPTS = ["Return the", "This module provides"]
ROOT = "runs/gpt"


def train(config: GPTConfig, run_dir: str = None, log=print, overwrite=False, resume=False) -> str:
    """Trains a GPT on `config.source` into `run_dir` (default `runs/gpt/<timestamp>`):
    `config.json`, `tokenizer/`, `checkpoints/`, `backup/` (while training), `logs/`,
    `model.keras`, `history.json` and `metrics.json` (validation loss and perplexity).
    `overwrite`, `resume` and `config.init_from` as in `translation.train`."""
    strategy = distribution(config.strategy, config.jit_compile)  # before any other TensorFlow work
    config, corpus, start = _read(config)
    run = begin_run(FAMILY, config, run_dir, ROOT, overwrite, resume, log)
    precision = dtype_policy(config.mixed_precision, log)
    log(f"corpus {corpus.summary()}")
    run.write_config(config, family=FAMILY, precision=precision)
    keras.utils.set_random_seed(config.seed)
    if start:
        start.save_tokenizers(run.dir)
    tokenizer = run_tokenizer(
        SentencePieceTokenizer,
        os.path.join(run.dir, "tokenizer"),
        corpus.texts("train"),
        config.vocab_size,
        config.vocab_sample,
    )
    train_windows, val_windows, steps, val_tokens = _windows(config, corpus, tokenizer, log)
    schedule = _schedule(config, steps)
    run.write_config(config, schedule=schedule)
    run.resumed(config, schedule)
    with strategy.scope():
        model = _model(config, tokenizer, precision["policy"], schedule)
        if start:
            start.init_weights(model, log)
    log(
        f"model: GPT preset {config.preset!r}, {model.num_parameters():,} parameters, "
        f"{model.flops_per_token(config.seq_len) / 1e6:,.1f} MFLOPs per training token"
    )
    generator = generator_of(model, tokenizer, config)
    fit_run(
        model,
        train_windows,
        steps,
        config.epochs,
        run.dir,
        [
            Perplexity(),
            SampleOutputs(
                lambda prompts: generator.complete_strings(prompts, max_new_tokens=24),
                SAMPLE_PROMPTS,
                title="sampled continuations",
            ),
        ],
        validation_data=val_windows,
        time_budget=config.time_budget,
        backup_every=config.backup_every,
        verbose=2 if os.environ.get("CI") else 1,
        log=log,
        on_backup=run.commit,
    )
    loss = float(model.evaluate(val_windows, verbose=0, return_dict=True)["loss"])
    metrics = {
        "validation_loss": loss,
        "validation_perplexity": float(np.exp(loss)),
        "validation_tokens": val_tokens,
        "tokenizer_vocab_size": tokenizer.vocab_size,
        "samples": dict(
            zip(SAMPLE_PROMPTS, generator.complete_strings(SAMPLE_PROMPTS), strict=True)
        ),
    }
    write_json(run.dir, "metrics.json", metrics)
    return run.finish()


def _read(config):
    """Everything a run needs, read and checked before its directory is decided: the
    `--init-from` run (whole: its architecture and tokenizer replace this command's), the
    context length, the corpus. Returns `(config, corpus, FromRun or None)`."""
    start = None
    if config.init_from:
        start = read_run(config.init_from, FAMILY)
        config = dataclasses.replace(
            config,
            preset=start.config["preset"],
            vocab_size=start.config["vocab_size"],
            architecture=start.config.get("architecture"),
        )
    preset_length = resolve(GPT_PRESETS, config.preset, config.architecture or {}, "GPT")[
        "max_length"
    ]
    if config.seq_len > preset_length:
        raise InputError(
            f"--seq-len {config.seq_len} exceeds {config.preset}'s context {preset_length}"
        )
    return config, load_corpus(config.source, seed=config.seed), start


def _windows(config, corpus, tokenizer, log):
    """A function making the training windows (anew for every fit), the validation
    windows, the steps of an epoch and the validation tokens."""
    train_stream = token_stream(corpus.texts("train"), tokenizer)
    val_stream = token_stream(corpus.texts("validation"), tokenizer)
    log(f"tokens: train {len(train_stream):,}, validation {len(val_stream):,}")

    def train_windows():  # built anew for every fit: see `pipelines.runs.fit_run`
        windows = make_windows(train_stream, config.seq_len, config.batch_size, seed=config.seed)
        return windows.repeat() if config.steps_per_epoch else windows

    val_windows = make_windows(
        val_stream, config.seq_len, config.batch_size, shuffle=False, drop_remainder=False
    )
    steps = config.steps_per_epoch or int(train_windows().cardinality())
    return train_windows, val_windows, steps, len(val_stream)


def _schedule(config, steps):
    """Linear warm-up to `learning_rate`, then cosine decay to a tenth of it at the run's
    end, as `config.json` records it."""
    total = max(steps * config.epochs, config.warmup_steps + 1)
    return {
        "warmup_steps": config.warmup_steps,
        "peak_learning_rate": config.learning_rate,
        "total_steps": total,
        "final_learning_rate": config.learning_rate * 0.1,
    }


def _model(config, tokenizer, policy, schedule):
    model = GPT.from_preset(
        config.preset,
        **{"vocab_size": tokenizer.vocab_size, **(config.architecture or {})},
        dtype=policy,
    )
    learning_rate = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=schedule["total_steps"] - schedule["warmup_steps"],
        alpha=0.1,
        warmup_target=schedule["peak_learning_rate"],
        warmup_steps=schedule["warmup_steps"],
    )
    model.compile(
        optimizer=gpt_optimizer(learning_rate, config.weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile,
    )
    model.build((None, None))
    return model


def generator_of(model, tokenizer, config: GPTConfig):
    return TextGenerator(
        model,
        tokenizer,
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        top_k=config.top_k,
        top_p=config.top_p,
    )


def load_run(run_dir: str):
    """The `TextGenerator` of a finished GPT run, and its config."""
    check_run(run_dir, FAMILY)
    model_path = os.path.join(run_dir, "model.keras")
    config = read_config(GPTConfig, run_dir)
    tokenizer = load_tokenizer(os.path.join(run_dir, "tokenizer"))
    model = keras.models.load_model(model_path, compile=False)
    return generator_of(model, tokenizer, config), config


export_runner = export_generator  # what `export` does with a loaded run

EXAMPLE_INPUT = "Return the"


def conformance_requests(generator):
    """Requests for both signatures (per-row options included), with in-process answers."""
    prompts = ["", EXAMPLE_INPUT, "🙂", " ".join(["module"] * 3000)]  # the last: over-long
    per_row = {
        "max_new_tokens": np.array([8, 0, 16, 4], "int32"),
        "temperature": np.array([0.0, 1.0, 0.7, 0.0], "float32"),
        "top_k": np.array([0, 5, 40, 0], "int32"),
        "top_p": np.array([1.0, 0.9, 0.95, 1.0], "float32"),
        "seed": np.arange(len(prompts), dtype="int32"),
    }
    requests = [
        ("serving_default", {"prompt": prompts}),
        ("generate", {"prompt": prompts, **per_row}),
    ]
    expected = [
        {"completion": generator.complete(prompts).numpy()},
        {"completion": generator.complete(prompts, **per_row).numpy()},
    ]
    return requests, expected
