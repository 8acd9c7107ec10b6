"""The files of a run directory: its name, `config.json` (the recipe's fields with the run
options under "run"), its tokenizer, other JSON records, and `model.keras` at the end."""

import dataclasses
import json
import os
import time

RUN_OPTIONS_KEY = "run"


def new_run_dir(root: str) -> str:
    """`root/<timestamp>` (with a suffix if that exists already)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(root, stamp)
    suffix = 1
    while os.path.exists(path):
        suffix += 1
        path = os.path.join(root, f"{stamp}-{suffix}")
    return path


def run_tokenizer(tokenizer_cls, directory: str, texts, vocab_size: int, sample: int = None):
    """The run's tokenizer: the one saved in `directory` (a resumed run keeps its
    vocabulary), or one trained on (at most `sample` of, where the class learns from a
    sample) `texts` and saved there. `texts`
    may be a function returning them, called only when the tokenizer is trained."""
    from pipelines.corpora.splits import VOCAB_SAMPLE, vocab_sample
    from tf_transformer.text.loading import load_tokenizer, saved_tokenizer_class

    if saved_tokenizer_class(directory) is not None:  # any kind: an imported one, too
        return load_tokenizer(directory)
    texts = texts() if callable(texts) else texts
    if tokenizer_cls.learns_from_sample:
        texts = vocab_sample(texts, sample or VOCAB_SAMPLE)
    tokenizer = tokenizer_cls.train(texts, vocab_size)
    tokenizer.save(directory)
    return tokenizer


def write_json(run_dir: str, name: str, data) -> str:
    """Writes `data` as `run_dir/name` (config, metrics, history); returns the path."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, name)
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
    return path


def config_record(config, **chosen) -> dict:
    """What `config.json` holds: the recipe's own fields, the run options every recipe
    shares (`RunOptions`) under "run", and what the run chose (`precision=`, `schedule=`,
    ...: each a dict with the choice and its reason)."""
    from pipelines.runs.options import RunOptions

    shared = {field.name for field in dataclasses.fields(RunOptions)}
    fields = dataclasses.asdict(config)
    own = {k: v for k, v in fields.items() if k not in shared}
    run = {k: v for k, v in fields.items() if k in shared}
    return {**own, RUN_OPTIONS_KEY: run, **chosen}


def write_config(run_dir: str, config, **chosen) -> str:
    """The run's `config.json` (`config_record`)."""
    return write_json(run_dir, "config.json", config_record(config, **chosen))


def flat_config(saved: dict) -> dict:
    """A `config.json`'s fields in one dict: the run options next to the recipe's own (runs
    written before the options had their own key have them there already)."""
    run = saved.get(RUN_OPTIONS_KEY)
    return {**saved, **run} if isinstance(run, dict) else dict(saved)


def read_config(cls, run_dir: str):
    """A run's config dataclass from its `config.json` (keys the class lacks, such as the
    recorded precision, are left out)."""
    names = {field.name for field in dataclasses.fields(cls)}
    saved = flat_config(read_json(run_dir, "config.json"))
    return cls(**{k: v for k, v in saved.items() if k in names})


def read_json(run_dir: str, name: str):
    with open(os.path.join(run_dir, name)) as handle:
        return json.load(handle)


def finish_run(model, history, run_dir: str):
    """After `fit`: the best checkpoint's weights (if one was written) saved as the run's
    `model.keras`, and the history as `history.json`."""
    from tf_transformer.training.backup import atomic_write

    best = os.path.join(run_dir, "checkpoints", "best.weights.h5")
    if os.path.exists(best):
        model.load_weights(best)
    atomic_write(os.path.join(run_dir, "model.keras"), model.save)
    write_json(
        run_dir, "history.json", {k: [float(v) for v in vs] for k, vs in history.history.items()}
    )
