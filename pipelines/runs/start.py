"""How every run starts, one path for every command that writes a run: read and check what
it needs (`read_run` reads an `--init-from` run whole), then decide the run directory
(`begin_run`), then write. Nothing that is not a run is ever deleted: `--overwrite` replaces
only a run of the same family, built beside it and swapped in by rename at its first backup."""

import dataclasses
import os
import shutil
import time

from pipelines.runs.compute import is_chief, worker_run_dir
from pipelines.runs.directories import (
    config_record,
    flat_config,
    new_run_dir,
    read_json,
    write_json,
)
from tf_transformer.errors import InputError

FAMILIES = {"translation": "translate", "gpt": "gpt", "bert": "bert"}
# Fields a resumed run may change: how long it trains and how often it backs up. What a
# change does to the schedule is said and recorded (`Run.resumed`).
RESUMABLE_CHANGES = ("epochs", "time_budget", "backup_every")
STAGING_MARK = ".tf-transformer-overwrite"


def run_family(config: dict):
    """`translation`, `gpt` or `bert` for a run's `config.json` contents (runs written
    before the family was recorded are recognised by their fields), or None."""
    if config.get("family"):
        return config["family"]
    if "task" in config:
        return "bert"
    if "label_smoothing" in config and "max_tokens" in config:
        return "translation"
    if "max_new_tokens" in config:
        return "gpt"
    return None


def run_kind(config: dict) -> str:
    """The family of a run, with its task for BERT (`bert pretrain`, `bert classify`):
    `--overwrite` replaces only a run of the same kind."""
    family = run_family(config)
    return f"{family} {config['task']}" if family == "bert" and config.get("task") else family


def _read_run_config(run_dir):
    path = os.path.join(run_dir, "config.json")
    try:
        return read_json(run_dir, "config.json")
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a readable run configuration ({error})") from None


def check_run(run_dir: str, family: str = None) -> dict:
    """The `config.json` of the finished `family` run (any family's if None) in `run_dir`,
    or an `InputError` saying what `run_dir` is instead (missing, empty, not a run,
    another family's run, unfinished)."""
    if not os.path.isdir(run_dir):
        raise InputError(f"{run_dir}: no such run directory")
    if not os.path.isfile(os.path.join(run_dir, "config.json")):
        what = "an empty directory" if not os.listdir(run_dir) else "not a run (no config.json)"
        raise InputError(f"{run_dir}: {what}")
    config = _read_run_config(run_dir)
    found = run_family(config)
    if found is None or (family and found != family):
        kind = f"a {found} run" if found else "not a run of this package"
        raise InputError(f"{run_dir} is {kind}, not a {family or 'training'} run")
    if not os.path.isfile(os.path.join(run_dir, "model.keras")):
        command = f"tf-transformer {FAMILIES[found]} train"
        raise InputError(
            f"{run_dir} is an unfinished {found} run (no model.keras); "
            f"finish it with `{command} --resume --run-dir {run_dir}`"
        )
    return config


# Reading a run a new one starts from -----------------------------------------------------


@dataclasses.dataclass
class FromRun:
    """A finished run read whole into memory (`read_run`): its config, its tokenizers by
    directory name and its model, so that the new run never reads it again (it may be the
    run being replaced)."""

    path: str
    config: dict
    tokenizers: dict
    model: object

    def save_tokenizers(self, run_dir: str):
        for name, tokenizer in self.tokenizers.items():
            directory = os.path.join(run_dir, *name.split("/"))
            if not os.path.isdir(directory):  # a resumed run has its own already
                tokenizer.save(directory)

    def init_weights(self, model, log=print):
        """Gives `model` (built, the same architecture) this run's weights."""
        try:
            model.set_weights(self.model.get_weights())
        except ValueError as error:
            message = str(error).splitlines()[0]
            raise InputError(f"--init-from {self.path}: weights do not fit ({message})") from None
        log(f"initialised from {os.path.join(self.path, 'model.keras')}")


def read_run(path: str, family: str, tokenizers=("tokenizer",)) -> FromRun:
    """The finished `family` run in `path`, read whole (config, `tokenizers`, model), or a
    one-line `InputError` saying what is missing."""
    import keras

    from tf_transformer.text.loading import load_tokenizer

    config = check_run(path, family)
    loaded = {}
    for name in tokenizers:
        directory = os.path.join(path, *name.split("/"))
        try:
            loaded[name] = load_tokenizer(directory)
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: cannot read its tokenizer {name}/ ({error})") from None
    try:
        model = keras.models.load_model(os.path.join(path, "model.keras"), compile=False)
    except Exception as error:  # a damaged file: Keras raises several kinds
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f"{path}/model.keras: cannot be loaded ({first})") from None
    return FromRun(path, flat_config(config), loaded, model)


# Deciding the run directory --------------------------------------------------------------


class Run:
    """The directory a run writes (`dir`) and the one it ends in (`final`): the same, or for
    an `--overwrite`, a staging directory beside `final` that `commit` swaps in by rename
    once the new run has its first backup (or at its end). Until then the replaced run is
    untouched; a killed overwrite leaves it as it was."""

    def __init__(self, final, staging=None, saved=None, log=print):
        self.final = final
        self.staging = staging
        self.dir = staging or final
        self.saved = saved  # a resumed run's config.json
        self.chosen = {}
        self.log = log

    @property
    def replacing(self) -> bool:
        return self.staging is not None and not os.path.islink(self.staging)

    def commit(self):
        """Swaps the new run in for the one it replaces (once; a no-op otherwise). The
        staging name stays as a link to the run for the rest of this process."""
        if not self.replacing:
            return
        old = _sibling(self.final, "replaced")
        os.remove(os.path.join(self.staging, STAGING_MARK))
        os.rename(self.final, old)
        os.rename(self.staging, self.final)
        os.symlink(os.path.basename(self.final), self.staging)
        shutil.rmtree(old)
        self.log(f"--overwrite: the new run has its first backup; it replaced {self.final}")

    def finish(self) -> str:
        """The run is complete: swapped in if it replaces one; returns its directory."""
        self.commit()
        if self.staging is not None and os.path.islink(self.staging):
            os.remove(self.staging)
        return self.final

    def write_config(self, config, **chosen) -> str:
        """`config.json` (`config_record`), with what the run chose so far and, for a
        resumed run, the history of its resumes."""
        self.chosen.update(chosen)
        if self.saved and self.saved.get("resumes"):
            self.chosen.setdefault("resumes", self.saved["resumes"])
        return write_json(self.dir, "config.json", config_record(config, **self.chosen))

    def resumed(self, config, schedule: dict = None):
        """For a resumed run: what its changed fields (`RESUMABLE_CHANGES`) do to the
        `schedule` record, said in one line and added to `config.json`'s "resumes"."""
        if not self.saved:
            return
        saved = flat_config(self.saved)
        changed = {
            name: [saved[name], getattr(config, name)]
            for name in RESUMABLE_CHANGES
            if name in saved and saved[name] != getattr(config, name)
        }
        moved = {}
        for key, value in (schedule or {}).items():
            before = (saved.get("schedule") or {}).get(key, value)
            if key != "reason" and before != value:
                moved[key] = [before, value]
        entry = {"at": time.strftime("%Y-%m-%d %H:%M:%S"), "changed": changed, "schedule": moved}
        self.chosen["resumes"] = [*(self.saved.get("resumes") or []), entry]
        if changed or moved:
            said = ", ".join(f"{k} {_show(a)} -> {_show(b)}" for k, (a, b) in changed.items())
            effect = ", ".join(f"{k} {_show(a)} -> {_show(b)}" for k, (a, b) in moved.items())
            self.log(f"--resume: {said or 'same options'}; the schedule: {effect or 'unchanged'}")
        self.write_config(config)


def _show(value):
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.3g}" if isinstance(value, float) else repr(value)


def _sibling(path, what):
    parent, name = os.path.split(os.path.abspath(path))
    return os.path.join(parent, f".{name}.{what}")


def _recover(final, log):
    """Puts back what a killed `--overwrite` left beside `final`: the replaced run if the
    swap stopped between its two renames, and the staging directory (ours, marked) or
    the link to the new run."""
    old, staging = _sibling(final, "replaced"), _sibling(final, "overwrite")
    if os.path.isdir(old):
        if os.path.exists(final):  # the swap was done; its clean-up was not
            if not os.path.isfile(os.path.join(old, "config.json")):
                raise InputError(f"{old} is in the way of --overwrite and is not a run; move it")
            shutil.rmtree(old)
        else:
            os.rename(old, final)
            log(f"{final}: put back the run an interrupted --overwrite had moved aside")
    if os.path.islink(staging):
        os.remove(staging)
    elif os.path.isdir(staging):
        if not os.path.isfile(os.path.join(staging, STAGING_MARK)):
            raise InputError(f"{staging} is in the way of --overwrite and is not ours; move it")
        shutil.rmtree(staging)


def _check_writable(run_dir):
    try:
        os.makedirs(run_dir, exist_ok=True)
        probe = os.path.join(run_dir, ".write-test")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as error:
        raise InputError(f"cannot write to run directory {run_dir}: {error.strerror}") from None


def begin_run(
    family, config, run_dir, root, overwrite=False, resume=False, log=print, kind=None
) -> Run:
    """The directory a run writes, decided after everything it needs was read and checked,
    before anything is written.

    A run of another kind (`kind`, default `family`; `run_kind`) and a non-empty directory
    that holds no run are refused whatever the flags. A finished run of the same kind is
    replaced only with `overwrite`; an unfinished one resumes only with `resume`, with the
    same configuration but for `RESUMABLE_CHANGES`, or is replaced with `overwrite`. A
    replaced run stays whole until the new one, built in a staging directory beside it, has
    its first backup (`Run.commit`). Without `run_dir`, `root/<timestamp>`; a multi-worker
    run's other workers get their own copy under it (`worker_run_dir`).
    """
    kind = kind or family
    strategy = getattr(config, "strategy", "default")
    if not is_chief(strategy):  # the chief checks the run; this worker writes its own copy
        return Run(worker_run_dir(run_dir or new_run_dir(root), strategy), log=log)
    if overwrite and resume:
        raise InputError("--overwrite and --resume exclude each other")
    if run_dir is None:
        if resume:
            raise InputError("--resume needs the --run-dir of the run to continue")
        run_dir = new_run_dir(root)
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise InputError(f"--run-dir {run_dir} is a file, not a directory")
    _recover(run_dir, log)
    # other workers of a multi-worker run may have made their `workers/` copies already
    entries = set(os.listdir(run_dir)) - {"workers"} if os.path.isdir(run_dir) else set()
    if not entries:
        if resume:
            log(f"--resume: no run in {run_dir} yet, starting one")
        _check_writable(run_dir)
        return Run(run_dir, log=log)
    if "config.json" not in entries:
        raise InputError(
            f"{run_dir} is not empty and holds no run; choose a new or empty --run-dir "
            "(nothing in it was touched)"
        )
    saved = _read_run_config(run_dir)
    found = run_kind(saved)
    if found != kind:
        what = f"a {found} run" if found else "not a run of this package"
        raise InputError(
            f"{run_dir} is {what}, not a {kind} run; choose another --run-dir "
            "(nothing in it was touched)"
        )
    finished = "model.keras" in entries
    if overwrite:
        return _staged(run_dir, strategy, log)
    if finished:
        raise InputError(
            f"{run_dir} holds a finished run; --overwrite replaces it, --init-from {run_dir} "
            "with a new --run-dir continues from it"
        )
    if not resume:
        raise InputError(
            f"{run_dir} holds an unfinished run; --resume continues it, --overwrite starts again"
        )
    _check_same_config(run_dir, saved, config)
    log(f"resuming the run in {run_dir}")
    _check_writable(run_dir)
    return Run(run_dir, saved=saved, log=log)


def _staged(run_dir, strategy, log):
    if strategy == "multi-worker":
        raise InputError(
            "--overwrite with --strategy multi-worker: the workers cannot share a staging "
            "directory; give a new --run-dir"
        )
    staging = _sibling(run_dir, "overwrite")
    _check_writable(staging)
    with open(os.path.join(staging, STAGING_MARK), "w") as handle:
        handle.write(f"the new run that replaces {run_dir} at its first backup\n")
    log(f"--overwrite: building the new run beside {run_dir}; it replaces it at its first backup")
    return Run(run_dir, staging=staging, log=log)


def _check_same_config(run_dir, saved, config):
    saved = flat_config(saved)
    for field in dataclasses.fields(config):
        if field.name in RESUMABLE_CHANGES or field.name not in saved:
            continue
        new = getattr(config, field.name)
        if saved[field.name] != new:
            raise InputError(
                f"--resume: {field.name} differs: the run has {saved[field.name]!r}, "
                f"this command {new!r}"
            )
