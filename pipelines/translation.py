"""Translation: the recipe that trains, evaluates and exports a translator (its batches
are made by `pipelines.translation_batches`, whose functions this module offers too)."""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from pipelines import resume as resumable
from pipelines.runs import (
    distribution,
    dtype_policy,
    read_config,
    run_tokenizer,
    write_config,
    write_json,
)
from pipelines.sources import load_corpus
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
    cooldown_steps,
    fitting_warmup,
    masked_accuracy,
    paper_peak,
    transformer_optimizer,
)
from tf_transformer.training.schedules import COOLDOWN_FRACTION

FAMILY = "translation"


# The recipe: source -> tokenizers -> datasets -> fit -> evaluate -> export --------------


@dataclasses.dataclass
class TranslateConfig:
    """Everything a translation run depends on; saved as the run's `config.json`."""

    source: str = "cldr:en-pt"
    preset: str = "tutorial"
    epochs: int = 10
    batch_size: int = 64
    batch_tokens: int = None  # bucketed batches of about this many tokens, not batch_size pairs
    bucket: bool = True  # batches of similar lengths; False: random ones, padded to their longest
    max_tokens: int = 64
    tokenizer: str = "sentencepiece"
    vocab_size: int = 8000
    vocab_sample: int = 200_000  # texts the vocabulary is learned from, at most
    shared_vocab: bool = None  # one tokenizer for both sides, tied embeddings (paper presets)
    warmup_steps: int = None  # the paper's 4,000, capped at 90% of the run's steps (same peak)
    learning_rate: float = None  # the schedule's peak; default the paper's (at 4,000 steps)
    cooldown: float = COOLDOWN_FRACTION  # the run's last fifth: the rate falls linearly to 0
    label_smoothing: float = 0.1
    corpus_size: int = None
    steps_per_epoch: int = None
    validation_size: int = 2000  # pairs checked after every epoch (the test split is apart)
    jit_compile: bool = False
    mixed_precision: str = "auto"  # bf16 where the hardware has it; or bf16, fp16, float32
    time_budget: float = None  # seconds of training, then a graceful stop
    strategy: str = "default"  # or "mirrored", "multi-worker"
    seed: int = 0
    backup_every: int = resumable.BACKUP_EVERY  # steps between backups (and one after every epoch)
    init_from: str = None  # a finished translation run whose model and tokenizers start this
    overrides: dict = dataclasses.field(default_factory=dict)


TOKENIZERS = {"sentencepiece": SentencePieceTokenizer, "wordpiece": WordPieceTokenizer}


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
    `backup/` while it trains (so an interrupted run resumes, `pipelines.resume`), `logs/`
    (TensorBoard), `model.keras`, `history.json`; `evaluate` adds `metrics.json` and
    `attention.png`. A finished run is replaced only with `overwrite`, an unfinished one
    continued only with `resume`. With `config.init_from` (a finished translation run),
    the model and its tokenizers start from that run's. `callbacks` join the recipe's.
    """
    strategy = distribution(config.strategy, config.jit_compile)  # before any other TensorFlow work
    if config.init_from:
        config = _with_architecture_of(config, config.init_from, log)
    # before any file is written: an unknown preset is a one-line error
    architecture = resolve(TRANSFORMER_PRESETS, config.preset, config.overrides, "Transformer")
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
    run_dir = resumable.start_run(run_dir, "runs/translate", config, FAMILY, overwrite, resume, log)
    precision = dtype_policy(config.mixed_precision, log)
    log(f"corpus {corpus.summary()}")
    write_config(run_dir, config, family=FAMILY, precision=precision)

    keras.utils.set_random_seed(config.seed)
    if config.init_from:
        resumable.copy_tokenizers(config.init_from, run_dir, ["tokenizers"])
    tokenizers = _run_tokenizers(config, corpus, run_dir)
    train_batches, val_batches, steps_per_epoch = _datasets(config, corpus, tokenizers, log)
    schedule = _schedule(config, architecture["d_model"], steps_per_epoch, log)
    write_config(run_dir, config, family=FAMILY, precision=precision, schedule=schedule)

    with strategy.scope():
        model = Transformer.from_preset(
            config.preset,
            input_vocab_size=tokenizers[0].vocab_size,
            target_vocab_size=tokenizers[1].vocab_size,
            max_length=config.max_tokens,
            dtype=precision["policy"],
            **{"share_embeddings": shares_vocabulary(config), **config.overrides},
        )
        model.compile(
            optimizer=transformer_optimizer(
                model.d_model,
                schedule["warmup_steps"],
                schedule["peak_learning_rate"],
                schedule["total_steps"],
                schedule["cooldown_steps"],
            ),
            loss=MaskedLoss(config.label_smoothing),
            metrics=[masked_accuracy],
            jit_compile=config.jit_compile,
        )
        model.build(((None, None), (None, None)))
        if config.init_from:
            resumable.init_weights(model, config.init_from, log)
    log(f"model: Transformer preset {config.preset!r}, {model.count_params():,} parameters")

    translator = Translator(model, *tokenizers)
    samples = corpus.head("validation", 3)
    sample_callback = SampleOutputs(
        translator.translate_strings,
        [s for s, _ in samples],
        [t for _, t in samples],
        title="sample translations",
    )
    resumable.fit_run(
        model,
        train_batches,
        steps_per_epoch,
        config.epochs,
        run_dir,
        [*callbacks, sample_callback],
        validation_data=val_batches,
        time_budget=config.time_budget,
        backup_every=config.backup_every,
        verbose=2 if os.environ.get("CI") else 1,
        log=log,
    )
    return run_dir


# Fields `--init-from` takes from the run it starts from: the model and its tokenizers.
ARCHITECTURE = (
    "preset", "max_tokens", "tokenizer", "vocab_size", "shared_vocab", "overrides"
)  # fmt: skip


def _with_architecture_of(config, from_run, log):
    saved = resumable.check_run(from_run, FAMILY)
    changed = {name: saved[name] for name in ARCHITECTURE if name in saved}
    differing = [n for n, v in changed.items() if getattr(config, n) != v]
    if differing:
        log(f"--init-from {from_run}: its {', '.join(differing)} replace this command's")
    return dataclasses.replace(config, **changed)


def _schedule(config, d_model, steps_per_epoch, log):
    """The learning-rate schedule of a run, said and returned as `config.json` records it:
    the warm-up fitted to the run (`fitting_warmup`) unless `--warmup-steps`, and the
    cool-down over the run's last `--cooldown` fraction of steps."""
    total_steps = steps_per_epoch * config.epochs
    warmup, reason, peak = config.warmup_steps, "--warmup-steps", config.learning_rate
    if warmup is None:
        warmup, reason = fitting_warmup(total_steps)
        peak = peak or paper_peak(d_model)
    cooldown = cooldown_steps(total_steps, config.cooldown)
    log(f"warm-up: {reason}")
    if cooldown:
        log(f"cool-down: the rate falls linearly to 0 over the last {cooldown:,} steps")
    return {
        "warmup_steps": warmup,
        "peak_learning_rate": peak,
        "steps_per_epoch": steps_per_epoch,
        "reason": reason,
        "total_steps": total_steps,
        "cooldown_steps": cooldown,
    }


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
    `pipelines.resume.fit_run`), the validation batches, and the number of steps an epoch."""
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

    def train_batches():  # built anew for every fit: see `pipelines.resume.fit_run`
        return make_batches(train_pairs, *tokenizers, **options)

    if config.steps_per_epoch:
        return lambda: train_batches().repeat(), val_batches, config.steps_per_epoch
    steps = len(with_length(train_batches()))
    log(f"an epoch is {steps:,} batches")
    known = tf.data.experimental.assert_cardinality(steps)
    return lambda: train_batches().apply(known), val_batches, steps


def load_run(run_dir: str):
    """The `Translator` of a finished translation run, and its config."""
    resumable.check_run(run_dir, FAMILY)
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

EXAMPLE_INPUT = "Saturday, June 9, 1984"


def conformance_requests(translator):
    """Requests for every signature of the export, with the in-process answers."""
    texts = ["", EXAMPLE_INPUT, "3 kilometers", "🙂"]
    requests = [("serving_default", {"text": texts}), ("beam_search", {"text": texts})]
    expected = [
        {"translation": translator.translate_strings(texts)},
        {"translation": translator.translate_strings(texts, beam_size=4)},
    ]
    return requests, expected
