"""BERT fine-tuning: a pretrained encoder (`pipelines.masked_lm.pretrain`) or a fresh one
trained for sequence classification or token tagging; loading every BERT run and export
of fill-mask, classifier and tagger."""

import dataclasses
import functools
import os

import keras
import tensorflow as tf

from pipelines.corpora import example_key, example_texts, load_corpus, stable_subset
from pipelines.export_checks import bert_requests
from pipelines.finetuning_reports import (
    curve_report,
    evaluate_splits,
    learning_curve,
)
from pipelines.masked_lm import (
    FAMILY,
    FILL_MASK_EXAMPLE,
    TASKS,
    bert_optimizer,
    bert_schedule,
    check_length,
    read_run_config,
    stripped_texts,
)
from pipelines.masked_lm_batches import make_classification_batches, make_tagging_batches
from pipelines.runs import (
    RunOptions,
    begin_run,
    distribution,
    dtype_policy,
    fit_run,
    read_run,
    run_tokenizer,
    write_json,
)
from tf_transformer.errors import InputError
from tf_transformer.models import BertClassifier, BertEncoder, BertTokenTagger
from tf_transformer.models.bert import PRESETS as BERT_PRESETS
from tf_transformer.models.presets import resolve
from tf_transformer.serving import bert as bert_serving
from tf_transformer.text import WordPieceTokenizer, load_tokenizer
from tf_transformer.text.word_features import WordFeatures
from tf_transformer.training import Throughput, masked_accuracy, masked_loss

# Fine-tuning ---------------------------------------------------------------------------

NO_TAG = "[PAD]"  # the tagger's class 0: pieces that carry no tag


@dataclasses.dataclass
class FinetuneConfig(RunOptions):
    """A fine-tuning run: `task` ("classify" or "tag") on `source`, starting from the
    pretrained run `from_run` (or, without it, from random weights of `preset` with a
    tokenizer trained on the task's corpus); `init_from` is a finished fine-tuning run of
    the same task to continue from."""

    task: str = "classify"
    source: str = "cldr-langid"
    from_run: str = None
    preset: str = "bert_small"
    epochs: int = 5
    batch_size: int = 32
    seq_len: int = None  # default: the pretraining run's, else 128
    vocab_size: int = 8000
    learning_rate: float = 3e-4
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    train_limit: int = None  # fine-tune on N training examples (a stable subset) only
    compare_scratch: bool = True
    pooling: str = "cls"  # a classifier's: "cls" (BERT's pooler) or "mean" (of the tokens)
    tag_head: str = "dense"  # a tagger's: "dense" (BERT's) or "lstm" (a BiLSTM, then dense)
    crf: bool = False  # a tagger's: a linear-chain CRF over the words' tags
    word_features: bool = False  # a tagger's: each word's embedding and character CNN too
    truncate: str = "head"  # what a classifier keeps of a longer text: head, tail, head+tail
    keep_markup: bool = False  # False: HTML tags (IMDb's <br />) are stripped from the text
    learning_curve: list = None  # also fine-tune on these numbers of labelled examples


def _task_model(config, encoder, labels, features):
    if config.task == "classify":
        return BertClassifier(encoder, len(labels), labels=labels, pooling=config.pooling)
    return BertTokenTagger(
        encoder,
        len(labels),
        labels=labels,
        head=config.tag_head,
        crf=config.crf,
        word_features=features.sizes if features is not None else None,
    )


FEATURES_DIR = "word_features"  # a run's WordFeatures, beside tokenizer/


def _run_features(config, corpus, run_dir, start):
    """A tagger run's word features (`--word-features`), or None: the ones saved in
    `run_dir` (a resumed run), the ones of the run it continues, or made from the training
    text's words and saved."""
    if not config.word_features:
        return None
    directory = os.path.join(run_dir, FEATURES_DIR)
    for saved in (directory, start and os.path.join(start.path, FEATURES_DIR)):
        if saved and WordFeatures.saved_in(saved):
            features = WordFeatures.load(saved)
            break
    else:
        features = WordFeatures.from_words(w for words, _ in corpus.train for w in words)
    if not WordFeatures.saved_in(directory):
        features.save(directory)
    return features


def _uses_pooler(config):
    return config.task == "classify" and config.pooling == "cls"


def _pretrained_encoder_config(encoder, config, policy):
    settings = {**encoder.get_config(), "use_pooler": _uses_pooler(config), "dtype": policy}
    settings.pop("name", None)
    return settings


def finetune(
    config: FinetuneConfig, run_dir: str = None, log=print, overwrite=False, resume=False
) -> str:
    """Fine-tunes on `config.source` into `run_dir` (default `runs/bert-<task>/<timestamp>`).

    Writes `config.json`, `tokenizer/`, `model.keras`, `metrics.json` (test accuracy and a
    confusion matrix, or per-tag and macro F1) and, for classification,
    `confusion_matrix.png`. With `from_run` and `compare_scratch`, the same fine-tuning
    from random weights runs too (into `scratch/`), and `metrics.json` has both. With
    `init_from` (a finished fine-tuning run of the same task) the model and tokenizer
    start from that run's. `overwrite` and `resume` as in `translation.train`.
    """
    if config.task not in TASKS:
        raise InputError(f"unknown task {config.task!r}; use classify or tag")
    strategy = distribution(config.strategy, config.jit_compile)  # before any other TensorFlow work
    config, corpus, start, pretrained = _read(config)
    root = f"runs/bert-{config.task}"
    run = begin_run(FAMILY, config, run_dir, root, overwrite, resume, log, f"bert {config.task}")
    precision = dtype_policy(config.mixed_precision, log)
    log(f"corpus {corpus.summary()}")
    examples = _examples(corpus, config.task != "classify" or config.keep_markup)
    run.write_config(
        config, family=FAMILY, precision=precision, examples=examples, pairs=corpus.pairs
    )
    run.resumed(config)
    keras.utils.set_random_seed(config.seed)
    for origin in (start, pretrained):
        if origin:
            origin.save_tokenizers(run.dir)
    tokenizer = run_tokenizer(
        WordPieceTokenizer,
        os.path.join(run.dir, "tokenizer"),
        lambda: _vocabulary_texts(corpus, config),
        config.vocab_size,
        config.vocab_sample,
    )
    encoder_config = _encoder_config(config, tokenizer, pretrained, precision["policy"])
    labels = list(corpus.labels) if config.task == "classify" else [NO_TAG, *corpus.labels]
    features = _run_features(config, corpus, run.dir, start)

    counted = {}  # training examples -> real tokens a batch: one pass for every start

    def fine_tune(origin, directory, corpus, config):
        def tokens():
            size = len(corpus.train)
            if size not in counted:
                batches = _batches(config, features)(
                    corpus.dataset("train"), tokenizer, config.seq_len, config.batch_size
                )
                counted[size] = _tokens_per_step(batches)
            return counted[size]

        keras.utils.set_random_seed(config.seed)
        with strategy.scope():
            encoder = BertEncoder(**encoder_config)
            if origin:
                encoder.copy_weights_from(_encoder_of(origin.model))
            model = _task_model(config, encoder, labels, features)
            return _fit_task(
                model, (tokenizer, features), corpus, config, directory, start, run.commit, tokens
            )

    first = "pretrained" if pretrained else "scratch"
    runs = [("continued" if start else first, run.dir, pretrained)]
    if pretrained and config.compare_scratch:  # first: the run's own model.keras,
        # written last, marks the whole run finished (a resumed run skips a finished scratch/)
        runs.insert(0, ("scratch", os.path.join(run.dir, "scratch"), None))
    curve = learning_curve(config, corpus, runs, fine_tune, run.dir, log)
    metrics = {}
    for name, directory, origin in runs:
        what = "the pretrained encoder" if origin else "random weights"
        log(f"fine-tuning from {config.init_from if start else what}")
        predictor = fine_tune(origin, directory, corpus, config)
        metrics[name] = evaluate_splits(predictor, corpus, directory, log)
    metrics = dict(sorted(metrics.items(), key=lambda item: item[0] == "scratch"))
    if curve:
        metrics["learning_curve"] = curve_report(curve, metrics, corpus, run.dir, log)
    write_json(run.dir, "metrics.json", metrics)
    return run.finish()


def _examples(corpus, markup):
    """A few validation texts (training texts without them) to show the model with, as the
    model reads them: `[text, pair]` lists for a corpus of pairs."""
    shown = corpus.texts("validation")[:40] or corpus.texts("train")[:40]
    shown = shown if markup else stripped_texts(shown)
    if not corpus.pairs:
        return example_texts(shown)
    firsts, seconds = example_texts(shown[::2]), example_texts(shown[1::2])
    return [list(pair) for pair in zip(firsts, seconds, strict=False)]


def _vocabulary_texts(corpus, config):
    texts = corpus.texts("train")
    if config.task != "classify" or config.keep_markup:
        return texts
    return stripped_texts(texts)


def _read(config):
    """Everything a fine-tuning run needs, read and checked before its directory is
    decided: the run it continues (`--init-from`) or the pretrained run it starts from
    (`--from`), each read whole, the length and the corpus. Returns `(config, corpus,
    continued FromRun or None, pretrained FromRun or None)`."""
    start = pretrained = None
    if config.init_from:
        start = read_run(config.init_from, FAMILY)
        config = _continuing(config, start.config)
    if config.from_run:
        pretrained = read_run(config.from_run, FAMILY)
        if pretrained.config.get("task") != "pretrain":
            raise InputError(f"{config.from_run}: a fine-tuned run; --from needs a pretrained one")
        config.seq_len = config.seq_len or pretrained.config["seq_len"]
        config.preset = pretrained.config["preset"]
    config.seq_len = config.seq_len or 128
    check_length(config.preset, config.seq_len)
    if config.learning_curve and config.task != "classify":
        raise InputError("--learning-curve draws a classifier's accuracy: use --task classify")
    corpus = load_corpus(config.source, seed=config.seed)
    if corpus.kind != TASKS[config.task]:
        raise InputError(
            f"{config.source}: a {corpus.kind} corpus; --task {config.task} needs a "
            f"{TASKS[config.task]} corpus"
        )
    if not corpus.validation:
        raise InputError(f"{config.source}: no validation examples to report on")
    if start and bool(start.config.get("pairs")) != corpus.pairs:
        what = "pairs of texts" if corpus.pairs else "single texts"
        raise InputError(
            f"--init-from {config.init_from}: trained on the other kind of input than "
            f"{config.source}, which holds {what}"
        )
    if config.train_limit:
        corpus = dataclasses.replace(
            corpus, train=stable_subset(corpus.train, config.train_limit, example_key)
        )
    return config, corpus, start, pretrained


def _encoder_of(model):
    """The encoder of a pretrained run's model (a masked LM; an imported run's encoder)."""
    return model if isinstance(model, BertEncoder) else model.encoder


def _encoder_config(config, tokenizer, pretrained, policy):
    if pretrained:
        return _pretrained_encoder_config(_encoder_of(pretrained.model), config, policy)
    return resolve(
        BERT_PRESETS,
        config.preset,
        dict(vocab_size=tokenizer.vocab_size, use_pooler=_uses_pooler(config), dtype=policy),
        "BERT",
    )


def _continuing(config, saved):
    """`config` with the architecture and settings of the fine-tuned run it continues."""
    if saved.get("task") != config.task:
        raise InputError(
            f"--init-from {config.init_from}: a {saved.get('task')} run, not a {config.task} run"
        )
    return dataclasses.replace(
        config,
        preset=saved["preset"],
        seq_len=saved["seq_len"],
        vocab_size=saved["vocab_size"],
        pooling=saved.get("pooling", "cls"),
        tag_head=saved.get("tag_head", "dense"),
        crf=saved.get("crf", False),
        word_features=saved.get("word_features", False),
        learning_curve=None,
        truncate=saved.get("truncate", "head"),
        keep_markup=saved.get("keep_markup", True),
        from_run=None,
        compare_scratch=False,
    )


def _batches(config, features=None):
    """The task's batch maker: `make(examples, tokenizer, seq_len, batch_size, shuffle=0,
    seed=None)` (a tagger's with the run's word `features`, if any)."""
    if config.task != "classify":
        return functools.partial(make_tagging_batches, features=features)
    return functools.partial(
        make_classification_batches, keep=config.truncate, markup=config.keep_markup
    )


def _tokens_per_step(batches):
    """The mean number of real (not padding) tokens in a batch of `batches` (one pass)."""

    def real(inputs, _):
        ids = inputs["token_ids"] if isinstance(inputs, dict) else inputs
        return tf.math.count_nonzero(ids)

    count = batches.map(real).reduce(
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
        lambda total, n: (total[0] + n, total[1] + 1),
    )
    return float(count[0]) / max(int(count[1]), 1)


def _fit_task(model, readers, corpus, config, run_dir, start, on_backup, tokens):
    """Compiles and fits `model` on the task (or loads the weights a finished `run_dir`
    holds); `readers` are the run's tokenizer and word features (or None); `tokens()`
    gives the mean real tokens of a training batch, for `Throughput`. Returns its
    predictor."""
    tokenizer, features = readers
    make = _batches(config, features)
    examples = corpus.dataset("train")

    def train():  # built anew for every fit: see `pipelines.runs.fit_run`
        data = make(examples, tokenizer, config.seq_len, config.batch_size, 10000, config.seed)
        return data.repeat() if config.steps_per_epoch else data

    validation = make(corpus.dataset("validation"), tokenizer, config.seq_len, config.batch_size)
    steps = config.steps_per_epoch or int(train().cardinality())
    total = steps * config.epochs
    schedule = bert_schedule(config.learning_rate, int(config.warmup_fraction * total), total)
    optimizer = bert_optimizer(schedule, config.weight_decay)
    if config.task == "classify":
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    else:
        loss, metrics = masked_loss, [masked_accuracy]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=config.jit_compile)
    model.build()
    if start:
        start.init_weights(model)
    settings = {**dataclasses.asdict(config), "pairs": corpus.pairs}
    if os.path.isfile(os.path.join(run_dir, "model.keras")):  # finished before a resume
        model.load_weights(os.path.join(run_dir, "model.keras"))
        return _predictor(model, tokenizer, settings, features)
    os.makedirs(run_dir, exist_ok=True)
    fit_run(
        model,
        train,
        steps,
        config.epochs,
        run_dir,
        [Throughput(tokens())],
        validation_data=validation,
        time_budget=config.time_budget,
        backup_every=config.backup_every,
        verbose=2 if os.environ.get("CI") else 1,
        on_backup=on_backup,
    )
    return _predictor(model, tokenizer, settings, features)


def _predictor(model, tokenizer, config: dict, features=None):
    """The predictor of a run's task, reading its text as the run did (`config`: the run's
    settings; runs written before `truncate` and `keep_markup` kept the head, with markup;
    `features`: a tagger's word features)."""
    task, seq_len = config["task"], config["seq_len"]
    if task == "pretrain":
        return bert_serving.FillMask(model, tokenizer, config.get("top_k", 5), seq_len)
    if task == "classify":
        keep, markup = config.get("truncate", "head"), config.get("keep_markup", True)
        if config.get("pairs"):
            return bert_serving.PairClassifier(model, tokenizer, seq_len, markup=markup)
        return bert_serving.TextClassifier(model, tokenizer, seq_len, keep, markup)
    return bert_serving.TokenTagger(model, tokenizer, seq_len, features=features)


# Loading and export ------------------------------------------------------------------------

MODEL_DIRS = {
    "pretrain": "saved_models/fill_mask",
    "classify": "saved_models/classifier",
    "tag": "saved_models/tagger",
}


def load_run(run_dir: str):
    """The predictor of a BERT run (`FillMask` for a pretrained run, `TextClassifier` or
    `TokenTagger` for a fine-tuned one) and the run's config as a dict."""
    config = read_run_config(run_dir)
    tokenizer = load_tokenizer(os.path.join(run_dir, "tokenizer"))
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    if isinstance(model, BertEncoder):
        raise InputError(
            f"{run_dir} holds an imported encoder without a masked-LM head; fine-tune it "
            f"(`tf-transformer bert finetune --from {run_dir}`) and use that run"
        )
    features = None
    if config.get("word_features"):
        features = WordFeatures.load(os.path.join(run_dir, FEATURES_DIR))
    predictor = _predictor(model, tokenizer, config, features)
    return predictor, config


def export_runner(predictor, model_dir: str = None, version: int = None, warmup=None):
    return bert_serving.export_predictor(predictor, model_dir, version, warmup)


def example_input(predictor) -> str:
    """The example of a run that recorded none (imported, or trained before examples were)."""
    if isinstance(predictor, bert_serving.FillMask):
        return FILL_MASK_EXAMPLE
    return "Saturday, June 9, 1984"


conformance_requests = bert_requests


def run_task(run_dir: str) -> str:
    """ "pretrain", "classify" or "tag": what the BERT run in `run_dir` trained."""
    return read_run_config(run_dir)["task"]
