"""Runs that never lose work: what a train command may do with its run directory
(`--overwrite`, `--resume`), what a run-taking command accepts, and the `fit` every recipe
runs, which backs up every `--backup-every` steps and resumes mid-epoch."""

import dataclasses
import os
import shutil
import types

from pipelines.runs import finish_run, is_chief, new_run_dir, read_json, worker_run_dir
from tf_transformer.errors import InputError

FAMILIES = {"translation": "translate", "gpt": "gpt", "bert": "bert"}
# Fields a resumed run may change: how long it trains and how often it backs up.
RESUMABLE_CHANGES = ("epochs", "time_budget", "backup_every")
BACKUP_DIR = "backup"
BACKUP_EVERY = 200


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


def _check_writable(run_dir):
    try:
        os.makedirs(run_dir, exist_ok=True)
        probe = os.path.join(run_dir, ".write-test")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as error:
        raise InputError(f"cannot write to run directory {run_dir}: {error.strerror}") from None


def start_run(run_dir, root, config, family, overwrite=False, resume=False, log=print) -> str:
    """The run directory a train command may write, checked before anything is written.

    A finished run (`model.keras`) is refused unless `overwrite` (which deletes it); an
    unfinished one (`config.json`) resumes only with `resume`, and only with the same
    configuration (fields other than `RESUMABLE_CHANGES`); any other non-empty directory
    is refused unless `overwrite`. Returns the directory (`root/<timestamp>` if None), or
    for a multi-worker run's other workers their own copy under it (`worker_run_dir`).
    """
    strategy = getattr(config, "strategy", "default")
    if not is_chief(strategy):  # the chief checks the run; this worker writes its own copy
        return worker_run_dir(run_dir or new_run_dir(root), strategy)
    if run_dir is None:
        if resume:
            raise InputError("--resume needs the --run-dir of the run to continue")
        run_dir = new_run_dir(root)
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise InputError(f"--run-dir {run_dir} is a file, not a directory")

    def has(name):
        return os.path.exists(os.path.join(run_dir, name))

    # other workers of a multi-worker run may have made their `workers/` copies already
    busy = os.path.isdir(run_dir) and bool(set(os.listdir(run_dir)) - {"workers"})
    if busy and overwrite:
        if resume:
            raise InputError("--overwrite and --resume exclude each other")
        log(f"--overwrite: deleting the run in {run_dir}")
        try:
            shutil.rmtree(run_dir)
        except OSError as error:
            raise InputError(f"cannot delete {run_dir}: {error.strerror}") from None
    elif has("model.keras"):
        raise InputError(
            f"{run_dir} holds a finished run; --overwrite replaces it, --init-from {run_dir} "
            "with a new --run-dir continues from it"
        )
    elif has("config.json"):
        if not resume:
            raise InputError(
                f"{run_dir} holds an unfinished run; --resume continues it, --overwrite "
                "starts again"
            )
        _check_same_config(run_dir, config, family)
        log(f"resuming the run in {run_dir}")
    elif busy:
        raise InputError(f"{run_dir} is not empty and holds no run; --overwrite empties it")
    elif resume:
        log(f"--resume: no run in {run_dir} yet, starting one")
    _check_writable(run_dir)
    return run_dir


def _check_same_config(run_dir, config, family):
    saved = _read_run_config(run_dir)
    found = run_family(saved)
    if found != family:
        raise InputError(f"--resume: {run_dir} is a {found} run, not a {family} run")
    for field in dataclasses.fields(config):
        if field.name in RESUMABLE_CHANGES or field.name not in saved:
            continue
        new = getattr(config, field.name)
        if saved[field.name] != new:
            raise InputError(
                f"--resume: {field.name} differs: the run has {saved[field.name]!r}, "
                f"this command {new!r}"
            )


def init_weights(model, from_run: str, log=print):
    """Loads the finished run's weights into `model` (built, same architecture)."""
    path = os.path.join(from_run, "model.keras")
    try:
        model.load_weights(path)
    except ValueError as error:
        message = str(error).splitlines()[0]
        raise InputError(f"--init-from {from_run}: weights do not fit ({message})") from None
    log(f"initialised from {path}")


def copy_tokenizers(from_run: str, run_dir: str, names):
    """The finished run's tokenizer directories, copied into the new run."""
    for name in names:
        target = os.path.join(run_dir, name)
        if not os.path.isdir(target):
            shutil.copytree(os.path.join(from_run, name), target)


def fit_run(model, batches, steps_per_epoch, epochs, run_dir, callbacks=(), **options):
    """`model.fit` with backups every `backup_every` steps and after every epoch, resuming
    from the backup in `run_dir/backup` if there is one (at the step it was written).

    `batches` makes the training data: a function returning a new dataset (one epoch of
    `steps_per_epoch` batches, or an endless `repeat()`ed stream) each time it is called,
    or one such dataset. The order is the dataset's, fixed by its seeds; a resumed run
    skips the batches the backup had seen. Pass a function when the data is shuffled: a
    dataset's seeded shuffle draws a new order for every new iterator, so only a freshly
    built one replays the orders of a fresh process (a resumed run fits twice: the rest
    of the interrupted epoch, then the remaining epochs).

    `callbacks` come before the standard set (`standard_callbacks`: budget, best
    checkpoint, TensorBoard), so what they add to the epoch's logs is checkpointed and
    logged. Ends with `finish_run` (the best weights as `model.keras`, `history.json`
    with every epoch once) and deletes the backup. `options`: `validation_data`,
    `monitor`, `time_budget`, `backup_every`, `verbose`, `log`.
    """
    from tf_transformer.training import TimeBudget, standard_callbacks
    from tf_transformer.training.backup import StepBackup, read_backup

    log = options.pop("log", print)
    monitor = options.pop("monitor", "val_loss")
    directory = os.path.join(run_dir, BACKUP_DIR)
    restore = read_backup(directory)
    budget = options.pop("time_budget", None)
    checkpoint, *others = standard_callbacks(run_dir, monitor)
    backup = StepBackup(directory, options.pop("backup_every", None), checkpoint, restore, log)
    callbacks = [*callbacks, *([TimeBudget(budget)] if budget else []), checkpoint, *others, backup]
    make = batches if callable(batches) else (lambda: batches)

    def stream():
        data = make()
        return data if data.cardinality() < 0 else data.repeat()

    epoch, step = (restore[0]["epoch"], restore[0]["step"]) if restore else (0, 0)
    if restore:
        done = epoch * steps_per_epoch + step
        log(f"resuming at epoch {epoch + 1}, step {step} (global step {done})")

    def fit(first, length, last):
        return model.fit(
            stream().skip(first * steps_per_epoch + (steps_per_epoch - length)),
            steps_per_epoch=length,
            initial_epoch=first,
            epochs=last,
            callbacks=callbacks,
            shuffle=False,
            **options,
        )

    if restore and epoch >= epochs:  # killed after its last epoch's backup
        backup.set_model(model)
        backup.on_train_begin()
    if step and epoch < epochs:  # the rest of the interrupted epoch
        fit(epoch, steps_per_epoch - step, epoch + 1)
        epoch += 1
    if epoch < epochs and not model.stop_training:
        fit(epoch, steps_per_epoch, epochs)
    finish_run(model, types.SimpleNamespace(history=backup.history), run_dir)
    shutil.rmtree(directory, ignore_errors=True)
    return backup.history
