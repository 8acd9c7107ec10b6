"""Translation: the recipe that trains, evaluates and exports a translator (its batches
are made by `pipelines.translation_batches`, whose functions this module offers too)."""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from pipelines.corpora import example_texts, load_corpus
from pipelines.export_checks import translator_requests
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
from pipelines.translation_batches import (  # noqa: F401 (make_batches & co. live here too)
    count_truncated,
    make_batches,
    padding_fraction,
    tokenize_pairs,
    with_length,
)
from tf_transformer.errors import InputError
from tf_transformer.generation.translator import Translator
from tf_transformer.models import Transformer
from tf_transformer.models.presets import resolve
from tf_transformer.models.transformer import PRESETS as TRANSFORMER_PRESETS
from tf_transformer.plotting import plot_attention_heads
from tf_transformer.serving.export import export_translator
from tf_transformer.text import SentencePieceTokenizer, WordPieceTokenizer
from tf_transformer.training import (
    MaskedLoss,
    SampleOutputs,
    masked_accuracy,
    run_schedule,
    schedule_of,
    transformer_optimizer,
)
from tf_transformer.training.schedules import COOLDOWN_FRACTION

FAMILY = "translation"


# The recipe: source -> tokenizers -> datasets -> fit -> evaluate -> export --------------


@dataclasses.dataclass
class TranslateConfig(RunOptions):
    """Everything a translation run depends on (its own fields and the shared `RunOptions`);
    saved as the run's `config.json`."""

    source: str = "cldr:en-pt"
    preset: str = "tutorial"
    epochs: int = 10
    batch_size: int = 64
    batch_tokens: int = None  # bucketed batches of about this many tokens, not batch_size pairs
    bucket: bool = True  # batches of similar lengths; False: random ones, padded to their longest
    max_tokens: int = 64
    tokenizer: str = "sentencepiece"
    vocab_size: int = 8000
    shared_vocab: bool = None  # one tokenizer for both sides, tied embeddings (paper presets)
    warmup_steps: int = None  # the paper's 4,000, ending before the cool-down (same peak)
    learning_rate: float = None  # the schedule's peak; default the paper's (at 4,000 steps)
    cooldown: float = COOLDOWN_FRACTION  # the run's last fifth: the rate falls linearly toward 0
    label_smoothing: float = 0.1
    corpus_size: int = None
    validation_size: int = 2000  # pairs checked after every epoch (the test split is apart)
    overrides: dict = dataclasses.field(default_factory=dict)


TOKENIZERS = {"sentencepiece": SentencePieceTokenizer, "wordpiece": WordPieceTokenizer}
TOKENIZER_DIRS = ("tokenizers/source", "tokenizers/target")
ROOT = "runs/translate"


def train(
    config: TranslateConfig,
    run_dir: str = None,
    log=print,
    overwrite=False,
    resume=False,
    callbacks=(),
) -> str:
    """Runs the recipe up to a trained model in `run_dir`; returns `run_dir`.

    The run directory gets `config.json`, `tokenizers/`, `checkpoints/` (best weights),
    `backup/` while it trains (so an interrupted run resumes, `pipelines.runs`), `logs/`
    (TensorBoard), `model.keras`, `history.json`; `evaluate` adds `metrics.json` and
    `attention.png`. A finished run is replaced only with `overwrite`, an unfinished one
    continued only with `resume`. With `config.init_from` (a finished translation run),
    the model and its tokenizers start from that run's. `callbacks` join the recipe's.
    """
    strategy = distribution(config.strategy, config.jit_compile)  # before any other TensorFlow work
    config, corpus, start = _read(config, log)
    run = begin_run(FAMILY, config, run_dir, ROOT, overwrite, resume, log)
    precision = dtype_policy(config.mixed_precision, log)
    log(f"corpus {corpus.summary()}")
    run.write_config(config, family=FAMILY, precision=precision)

    keras.utils.set_random_seed(config.seed)
    if start:
        start.save_tokenizers(run.dir)
    tokenizers = _run_tokenizers(config, corpus, run.dir)
    train_batches, val_batches, steps_per_epoch = _datasets(config, corpus, tokenizers, log)
    schedule = _schedule(config, steps_per_epoch, log)
    run.write_config(config, schedule=schedule)
    run.resumed(config, schedule)

    with strategy.scope():
        model = _model(config, tokenizers, precision["policy"], schedule)
        if start:
            start.init_weights(model, log)
    log(f"model: Transformer preset {config.preset!r}, {model.count_params():,} parameters")

    translator = Translator(model, *tokenizers)
    samples = corpus.head("validation", 3)
    shown = corpus.head("validation", 20) or corpus.head("train", 20)
    run.write_config(config, examples=example_texts(source for source, _ in shown))
    sample_callback = SampleOutputs(
        translator.translate_strings,
        [s for s, _ in samples],
        [t for _, t in samples],
        title="sample translations",
    )
    fit_run(
        model,
        train_batches,
        steps_per_epoch,
        config.epochs,
        run.dir,
        [*callbacks, sample_callback],
        validation_data=val_batches,
        time_budget=config.time_budget,
        backup_every=config.backup_every,
        verbose=2 if os.environ.get("CI") else 1,
        log=log,
        on_backup=run.commit,
    )
    return run.finish()


def _read(config, log):
    """Everything a run needs, read and checked before its directory is decided: the
    `--init-from` run (whole: its architecture replaces this command's), the options, the
    corpus. Returns `(config, corpus, FromRun or None)`."""
    start = None
    if config.init_from:
        start = read_run(config.init_from, FAMILY, TOKENIZER_DIRS)
        config = _with_architecture_of(config, start.config, log)
    # an unknown preset is a one-line error
    resolve(TRANSFORMER_PRESETS, config.preset, config.overrides, "Transformer")
    if not 0 <= config.cooldown <= 1:
        raise InputError(
            f"--cooldown is a fraction of the run's steps, 0 to 1; got {config.cooldown}"
        )
    if config.batch_tokens and not config.bucket:
        raise InputError("--batch-tokens fills bucketed batches; it cannot go with --no-bucket")
    if config.tokenizer not in TOKENIZERS:
        raise InputError(f"unknown tokenizer {config.tokenizer!r}; use {' or '.join(TOKENIZERS)}")
    corpus = load_corpus(config.source, seed=config.seed, size=config.corpus_size)
    if corpus.kind != "parallel":
        raise InputError(f"{config.source} is a {corpus.kind} corpus; translation needs pairs")
    return config, corpus, start


def _model(config, tokenizers, policy, schedule):
    model = Transformer.from_preset(
        config.preset,
        input_vocab_size=tokenizers[0].vocab_size,
        target_vocab_size=tokenizers[1].vocab_size,
        max_length=config.max_tokens,
        dtype=policy,
        **{"share_embeddings": shares_vocabulary(config), **config.overrides},
    )
    model.compile(
        optimizer=transformer_optimizer(schedule=schedule_of(model.d_model, schedule)),
        loss=MaskedLoss(config.label_smoothing),
        metrics=[masked_accuracy],
        jit_compile=config.jit_compile,
    )
    model.build(((None, None), (None, None)))
    return model


# Fields `--init-from` takes from the run it starts from: the model and its tokenizers.
ARCHITECTURE = (
    "preset", "max_tokens", "tokenizer", "vocab_size", "shared_vocab", "overrides"
)  # fmt: skip


def _with_architecture_of(config, saved, log):
    changed = {name: saved[name] for name in ARCHITECTURE if name in saved}
    differing = [n for n, v in changed.items() if getattr(config, n) != v]
    if differing:
        log(f"--init-from {config.init_from}: its {', '.join(differing)} replace this command's")
    return dataclasses.replace(config, **changed)


def _schedule(config, steps_per_epoch, log):
    """The learning-rate schedule of a run, said and returned as `config.json` records it
    (`run_schedule`): the warm-up (`--warmup-steps`, default the paper's 4,000) fitted to
    end before the cool-down over the run's last `--cooldown` fraction of steps starts."""
    d_model = resolve(TRANSFORMER_PRESETS, config.preset, config.overrides, "Transformer")[
        "d_model"
    ]
    schedule = run_schedule(
        d_model,
        steps_per_epoch * config.epochs,
        config.cooldown,
        config.warmup_steps,
        config.learning_rate,
    )
    log(f"warm-up: {schedule['reason']}; peak learning rate {schedule['peak_learning_rate']:.3g}")
    if schedule["cooldown_steps"]:
        log(
            f"cool-down: the rate falls linearly toward 0 over the last "
            f"{schedule['cooldown_steps']:,} steps"
        )
    return {**schedule, "steps_per_epoch": steps_per_epoch}


def shares_vocabulary(config) -> bool:
    """`--shared-vocab`, or what the preset does (the paper's presets share one)."""
    if config.shared_vocab is not None:
        return config.shared_vocab
    return bool(TRANSFORMER_PRESETS[config.preset].get("share_embeddings"))


def _run_tokenizers(config, corpus, run_dir):
    """(source, target) tokenizers: the run's own if it has them, else learned on (a
    sample of at most `vocab_sample` texts a side of) train; with a shared vocabulary, one
    tokenizer learned on both sides (saved as both)."""
    tokenizer_cls = TOKENIZERS[config.tokenizer]
    directories = [os.path.join(run_dir, "tokenizers", name) for name in ("source", "target")]

    sample = config.vocab_sample

    def learn(directory, *sides):
        def texts():  # read only when the tokenizer is learned, not when it is loaded
            return [t for side in sides for t in corpus.sample_texts("train", side, sample)]

        return run_tokenizer(
            tokenizer_cls, directory, texts, config.vocab_size, len(sides) * sample
        )

    if shares_vocabulary(config):
        shared = learn(directories[0], 0, 1)
        shared.save(directories[1])
        return shared, shared
    return tuple(learn(directory, side) for side, directory in enumerate(directories))


def _datasets(config, corpus, tokenizers, log):
    """A function making the training batches (anew for every fit, see
    `pipelines.runs.fit_run`), the validation batches, and the number of steps an epoch."""
    options = dict(
        batch_size=config.batch_size,
        batch_tokens=config.batch_tokens,
        max_tokens=config.max_tokens,
        seed=config.seed,
        bucket=config.bucket,
    )
    train_pairs = corpus.dataset("train")
    truncated = count_truncated(train_pairs, *tokenizers, config.max_tokens)
    if truncated:
        share = truncated / corpus.size("train")
        log(
            f"{truncated:,} training pairs ({share:.1%}) are longer than --max-tokens "
            f"{config.max_tokens} on a side and are truncated"
        )
    val_pairs = corpus.dataset("validation", limit=config.validation_size)
    val_batches = with_length(
        make_batches(val_pairs, *tokenizers, shuffle=0, cache=True, **options)
    )

    def train_batches():  # built anew for every fit: see `pipelines.runs.fit_run`
        return make_batches(train_pairs, *tokenizers, **options)

    if config.steps_per_epoch:
        return lambda: train_batches().repeat(), val_batches, config.steps_per_epoch
    steps = len(with_length(train_batches()))
    log(f"an epoch is {steps:,} batches")
    known = tf.data.experimental.assert_cardinality(steps)
    return lambda: train_batches().apply(known), val_batches, steps


def load_run(run_dir: str):
    """The `Translator` of a finished translation run, and its config."""
    check_run(run_dir, FAMILY)
    model_path = os.path.join(run_dir, "model.keras")
    config = read_config(TranslateConfig, run_dir)
    tokenizer_cls = TOKENIZERS[config.tokenizer]
    source = tokenizer_cls.load(os.path.join(run_dir, "tokenizers", "source"))
    target = tokenizer_cls.load(os.path.join(run_dir, "tokenizers", "target"))
    model = keras.models.load_model(model_path, compile=False)
    return Translator(model, source, target), config


def evaluate(
    run_dir: str,
    split: str = "test",
    beam_size: int = 1,
    limit: int = None,
    source: str = None,
):
    """BLEU and chrF (sacreBLEU, with their signatures) and the exact-match rate on a split
    of the run's corpus, or of any parallel corpus `source` (a spec); writes `metrics.json`
    and `attention.png` into the run directory and returns the metrics."""
    from sacrebleu.metrics import BLEU, CHRF

    translator, config = load_run(run_dir)
    spec = source or config.source
    corpus = load_corpus(spec, seed=config.seed, size=None if source else config.corpus_size)
    if corpus.kind != "parallel":
        raise InputError(f"{spec} is a {corpus.kind} corpus; translation needs pairs")
    pairs = corpus.split(split)[:limit] if limit else corpus.split(split)
    if not pairs:
        raise InputError(f"{spec}: the {split} split is empty")
    hypotheses = []
    progress = keras.utils.Progbar(len(pairs), unit_name="pair")
    for start in range(0, len(pairs), 256):
        batch = [s for s, _ in pairs[start : start + 256]]
        hypotheses += translator.translate_strings(batch, beam_size)
        progress.add(len(batch))
    references = [t for _, t in pairs]
    bleu, chrf = BLEU(), CHRF()
    metrics = {
        "source": spec,
        "split": split,
        "pairs": len(pairs),
        "beam_size": beam_size,
        "bleu": bleu.corpus_score(hypotheses, [references]).score,
        "chrf": chrf.corpus_score(hypotheses, [references]).score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "exact_match": sum(h == r for h, r in zip(hypotheses, references, strict=True))
        / len(pairs),
        "samples": [
            {"source": s, "reference": r, "translation": h}
            for (s, r), h in list(zip(pairs, hypotheses, strict=True))[:5]
        ],
    }
    write_json(run_dir, "metrics.json", metrics)
    plot_attention(translator, pairs[0][0], os.path.join(run_dir, "attention.png"))
    return metrics


def plot_attention(translator, text, path):
    """The last decoder block's cross-attention heads for `text`, tutorial style."""
    source = translator.source_ids(tf.constant([text]))
    output = translator.token_ids(tf.constant([text]))[0].numpy()
    start, end = translator.target_tokenizer.start_id, translator.target_tokenizer.end_id
    length = int(np.argmax(output == end)) + 1 if end in output else len(output)
    target_in = np.concatenate([[start], output[: length - 1]])[None].astype("int32")
    translator.model((source, target_in), training=False)
    attention = keras.ops.convert_to_numpy(translator.model.last_attention_scores)[0]
    source_tokens = [t.decode() for t in translator.source_tokenizer.lookup(source[0]).numpy()]
    target_tokens = [t.decode() for t in translator.target_tokenizer.lookup(target_in[0]).numpy()]
    real = [i for i, token in enumerate(source[0].numpy()) if token != 0]
    return plot_attention_heads(
        [source_tokens[i] for i in real],
        target_tokens,
        attention[:, :, real],
        path,
        title=text,
    )


export_runner = export_translator  # what `export` does with a loaded run

EXAMPLE_INPUT = "Saturday, June 9, 1984"  # for runs that recorded no examples
conformance_requests = translator_requests
