"""The causal-LM recipe: a text source -> a tokenizer -> packed windows
(`pipelines.causal_lm_batches`) -> fit -> perplexity and bits a character -> export."""

import dataclasses
import os

import keras
import numpy as np

from pipelines.causal_lm_batches import make_windows, token_stream
from pipelines.corpora import load_corpus
from pipelines.export_checks import generator_requests
from pipelines.runs import (
    RunOptions,
    begin_run,
    check_run,
    distribution,
    dtype_policy,
    fit_run,
    flat_config,
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
from tf_transformer.text import (
    ByteTokenizer,
    CharacterTokenizer,
    SentencePieceTokenizer,
    load_tokenizer,
)
from tf_transformer.training import Perplexity, SampleOutputs

FAMILY = "gpt"


# The recipe: text source -> tokenizer -> packed windows -> fit -> perplexity -> export ---


TOKENIZERS = {
    "sentencepiece": SentencePieceTokenizer,
    "char": CharacterTokenizer,
    "byte": ByteTokenizer,
}
# GPT arguments the command line may set over the preset's
ARCHITECTURE_OPTIONS = (
    "num_layers",
    "num_heads",
    "d_model",
    "dropout",
    "activation",
    "initialization",
)


def gpt_optimizer(learning_rate, weight_decay, beta_2=0.95):
    """AdamW that decays the weight matrices only, as GPT-2 and nanoGPT: not biases,
    LayerNorm scales and offsets, or the token and position embeddings."""
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, beta_2=beta_2)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "embeddings"])
    return optimizer


@dataclasses.dataclass
class GPTConfig(RunOptions):
    """Everything a causal LM run depends on (its own fields and the shared `RunOptions`);
    saved as the run's `config.json`."""

    source: str = "pydocs"
    tokenizer: str = "sentencepiece"  # or "char", "byte"
    preset: str = "gpt_mini"
    # over the preset's (None: the preset's)
    num_layers: int = None
    num_heads: int = None
    d_model: int = None
    dropout: float = None
    activation: str = None  # "gelu" or "gelu_tanh"
    initialization: str = None  # "keras" or "gpt2"
    epochs: int = 5
    batch_size: int = 16
    seq_len: int = 128
    vocab_size: int = 8000
    learning_rate: float = 1e-3
    min_learning_rate: float = None  # the cosine's floor (default a tenth of the peak)
    warmup_steps: int = 200
    weight_decay: float = 0.1
    beta_2: float = 0.95
    sample_prompts: list = None  # default: the start of the validation text's first lines
    architecture: dict = None  # GPT arguments over the preset's (an imported checkpoint's)
    # sampling defaults of `gpt generate` and of the export's serving_default
    max_new_tokens: int = 64
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    # "end": prompts start with the end id (as trained here, and KerasHub); "none": as
    # Hugging Face's generate (an import from Hugging Face)
    prompt_start: str = "end"


SAMPLE_PROMPTS = ["Return the", "This module provides"]  # pydocs'
ROOT = "runs/gpt"


def train(
    config: GPTConfig,
    run_dir: str = None,
    log=print,
    overwrite=False,
    resume=False,
    callbacks=(),
) -> str:
    """Trains a GPT on `config.source` into `run_dir` (default `runs/gpt/<timestamp>`):
    `config.json`, `tokenizer/`, `checkpoints/`, `backup/` (while training), `logs/`,
    `model.keras`, `history.json` and `metrics.json` (validation loss, perplexity and bits
    per character). `overwrite`, `resume`, `config.init_from` and `callbacks` (more Keras
    callbacks) as in `translation.train`."""
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
        TOKENIZERS[config.tokenizer],
        os.path.join(run.dir, "tokenizer"),
        lambda: vocabulary_texts(corpus),
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
    log(f"model: GPT preset {config.preset!r}{_overrides(config)}, {_size(model, config)}")
    generator = generator_of(model, tokenizer, config)
    prompts = sample_prompts(config, corpus)
    run.write_config(config, examples=prompts)  # the export's example and warm-up prompts
    sampling = SampleOutputs(
        lambda prompts: generator.complete_strings(prompts, max_new_tokens=48),
        prompts,
        title="sampled continuations",
        log=log,
    )
    fit_run(
        model,
        train_windows,
        steps,
        config.epochs,
        run.dir,
        [Perplexity(), sampling, *callbacks],
        validation_data=val_windows,
        time_budget=config.time_budget,
        backup_every=config.backup_every,
        verbose=2 if os.environ.get("CI") else 1,
        log=log,
        on_backup=run.commit,
    )
    loss = float(model.evaluate(val_windows, verbose=0, return_dict=True)["loss"])
    characters = sum(len(text) for text in corpus.texts("validation"))
    metrics = {
        **validation_figures(loss, val_tokens, characters, log),
        "tokenizer": config.tokenizer,
        "tokenizer_vocab_size": tokenizer.vocab_size,
        "samples": dict(zip(prompts, generator.complete_strings(prompts), strict=True)),
    }
    write_json(run.dir, "metrics.json", metrics)
    return run.finish()


def validation_figures(loss, tokens, characters, log=None) -> dict:
    """Validation loss per token (mean nats), perplexity, and bits per character: the
    loss times tokens over characters, over ln 2, which compares across tokenizers."""
    figures = {
        "validation_loss": loss,
        "validation_perplexity": float(np.exp(loss)),
        "validation_tokens": tokens,
        "validation_characters": characters,
        "bits_per_character": loss * tokens / max(characters, 1) / float(np.log(2)),
    }
    if log:
        log(
            f"validation: {loss:.4f} nats a token, "
            f"perplexity {figures['validation_perplexity']:.2f}, "
            f"{figures['bits_per_character']:.4f} bits a character"
        )
    return figures


def vocabulary_texts(corpus):
    """The training text a vocabulary is learned from, a line a text (newlines kept): a
    corpus cut by position is one long document."""
    return [line for text in corpus.texts("train") for line in text.splitlines(keepends=True)]


def sample_prompts(config, corpus):
    """`config.sample_prompts`, or pydocs' two, or the first three words of the first
    non-blank lines of the validation text (at most two)."""
    if config.sample_prompts:
        return list(config.sample_prompts)
    if corpus.spec == "pydocs":
        return SAMPLE_PROMPTS
    lines = [line for text in corpus.texts("validation") for line in text.splitlines()]
    prompts = [" ".join(line.split()[:3]) for line in lines if line.strip()][:2]
    return prompts or SAMPLE_PROMPTS


def _size(model, config):
    parameters = f"{model.num_parameters():,} parameters"
    return f"{parameters}, {model.flops_per_token(config.seq_len) / 1e6:,.1f} MFLOPs a token"


def _chosen(values: dict) -> dict:
    """The architecture options `values` sets (not None)."""
    return {name: values[name] for name in ARCHITECTURE_OPTIONS if values.get(name) is not None}


def _overrides(config):
    chosen = _chosen(vars(config))
    return f" ({', '.join(f'{k} {v}' for k, v in chosen.items())})" if chosen else ""


def architecture(config) -> dict:
    """GPT arguments over the preset's: an imported checkpoint's, then the command line's."""
    return {**(config.architecture or {}), **_chosen(vars(config))}


def _saved_architecture(saved: dict) -> dict:
    flat = flat_config(saved)
    return {**(flat.get("architecture") or {}), **_chosen(flat)}


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
            tokenizer=start.config.get("tokenizer", "sentencepiece"),
            architecture=_saved_architecture(start.config),
            **{name: None for name in ARCHITECTURE_OPTIONS},
        )
    if config.tokenizer not in TOKENIZERS:
        raise InputError(f"--tokenizer {config.tokenizer!r}; use {', '.join(TOKENIZERS)}")
    size = resolve(GPT_PRESETS, config.preset, architecture(config), "GPT")
    if size["d_model"] % size["num_heads"]:
        raise InputError(
            f"the width {size['d_model']} is not a multiple of the heads {size['num_heads']}"
        )
    if config.seq_len > size["max_length"]:
        raise InputError(
            f"--seq-len {config.seq_len} exceeds {config.preset}'s context {size['max_length']}"
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
    """Linear warm-up to `learning_rate`, then cosine decay to `min_learning_rate` (a
    tenth of the peak by default) at the run's end, as `config.json` records it."""
    total = max(steps * config.epochs, config.warmup_steps + 1)
    final = config.min_learning_rate
    return {
        "warmup_steps": config.warmup_steps,
        "peak_learning_rate": config.learning_rate,
        "total_steps": total,
        "final_learning_rate": config.learning_rate * 0.1 if final is None else final,
    }


def _model(config, tokenizer, policy, schedule):
    model = GPT.from_preset(
        config.preset,
        **{"vocab_size": tokenizer.vocab_size, **architecture(config)},
        dtype=policy,
    )
    peak = schedule["peak_learning_rate"]
    learning_rate = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=schedule["total_steps"] - schedule["warmup_steps"],
        alpha=schedule["final_learning_rate"] / peak,
        warmup_target=peak,
        warmup_steps=schedule["warmup_steps"],
    )
    model.compile(
        optimizer=gpt_optimizer(learning_rate, config.weight_decay, config.beta_2),
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
        prompt_start=config.prompt_start,
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

EXAMPLE_INPUT = "Return the"  # for runs that recorded no examples
conformance_requests = generator_requests
