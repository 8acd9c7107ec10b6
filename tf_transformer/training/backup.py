"""Mid-epoch backups of a `fit`: everything a resumed run needs to continue as if it had
never stopped, written so that a crash or a full disk never leaves a broken backup."""

import json
import os
import signal

import keras
import numpy as np

from tf_transformer.errors import InputError

BACKUP_FILE = "state.npz"
# Fault injection for the resume tests: the process SIGKILLs itself right after writing
# the backup of this global step (a real crash at a known point, not a simulated one).
KILL_AFTER_STEP = "TF_TRANSFORMER_KILL_AFTER_STEP"


def atomic_write(path: str, write):
    """Calls `write(temporary_path)`, then renames the result to `path`: a reader sees the
    old file or the new one, never half of one. On failure the temporary file goes, and
    an `OSError` (a read-only directory, a full disk) becomes a one-line `InputError`
    naming `path`."""
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(directory, ".partial-" + os.path.basename(path))
    try:
        os.makedirs(directory, exist_ok=True)
        write(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        if isinstance(error, OSError):
            reason = error.strerror or str(error)
            raise InputError(f"cannot write {path}: {reason}; its last version is intact") from None
        raise


def _unique(variables):
    seen, out = set(), []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            out.append(variable)
    return out


def training_state(model):
    """The variables a resumed `fit` needs, by group: the model's (weights and dropout
    seeds), the optimizer's (moments and step count) and the running means of the epoch's
    metrics."""
    model_variables = _unique(model.variables)
    known = {id(v) for v in model_variables}
    optimizer = [v for v in _unique(model.optimizer.variables) if id(v) not in known]
    known |= {id(v) for v in optimizer}
    metrics = [v for v in _unique(model.metrics_variables) if id(v) not in known]
    return {"model": model_variables, "optimizer": optimizer, "metrics": metrics}


def read_backup(directory: str):
    """`(metadata, arrays)` of the backup in `directory`, or None if there is none."""
    path = os.path.join(directory, BACKUP_FILE)
    if not os.path.isfile(path):
        return None
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    metadata = json.loads(str(arrays.pop("metadata")))
    return metadata, arrays


class StepBackup(keras.callbacks.Callback):
    """Backs up the training state every `every` steps (counted over the whole run) and
    after every epoch.

    One file, `directory/state.npz`, replaced atomically: the model's variables (weights and
    dropout seed states), the optimizer's, the running metric means of the current epoch,
    and as metadata the position (`epoch` 0-based, `step` done within it, `global_step`),
    the best monitored score so far (from `checkpoint`, a `ModelCheckpoint`) and the
    history of the finished epochs.

    For a resumed run, `restore` is the backup `read_backup` returned: the variables are
    assigned when training begins; the interrupted epoch's metric sums (Keras' `Mean`
    metrics keep a total and a count) are added back after its first resumed step; and
    `step_offset` (the steps that epoch had done) keeps the numbering. `on_save` is called
    after every backup is written.
    """

    def __init__(
        self, directory, every=None, checkpoint=None, restore=None, log=print, on_save=None
    ):
        super().__init__()
        self.on_save = on_save
        self.directory = directory
        self.every = every
        self.checkpoint = checkpoint
        self.log = log
        self.history = dict(restore[0]["history"]) if restore else {}
        self._restore = restore
        self.step_offset = restore[0]["step"] if restore else 0
        self._epoch = restore[0]["epoch"] if restore else 0
        self._step = self.step_offset
        self._global_step = restore[0]["global_step"] if restore else 0

    def on_train_begin(self, logs=None):
        if self._restore is None:
            return
        metadata, arrays = self._restore
        if not self.model.optimizer.built:  # Keras builds it at the first step otherwise
            self.model.optimizer.build(self.model.trainable_variables)
        state = training_state(self.model)
        saved = sum(name.startswith(("model_", "optimizer_")) for name in arrays)
        if saved != len(state["model"]) + len(state["optimizer"]):
            raise InputError(f"the backup in {self.directory} is not of this model")
        for group in ("model", "optimizer"):
            for i, variable in enumerate(state[group]):
                variable.assign(arrays[f"{group}_{i}"])

        if self.checkpoint is not None and metadata.get("best") is not None:
            self.checkpoint.best = metadata["best"]

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._add_saved_means = False
        if self._restore is not None and epoch == self._restore[0]["epoch"]:
            self._add_saved_means = bool(self._restore[0]["step"])
        else:
            self.step_offset = 0
        self._step = self.step_offset

    def on_train_batch_end(self, batch, logs=None):
        if self._add_saved_means:  # the interrupted epoch's running means so far
            # (after the first step: Keras builds the compiled metrics' variables there)
            arrays = self._restore[1]
            for i, variable in enumerate(training_state(self.model)["metrics"]):
                variable.assign(variable + arrays[f"metrics_{i}"])
            self._add_saved_means = False
            self._restore = None
        self._step = self.step_offset + batch + 1
        self._global_step += 1
        if self.every and self._global_step % self.every == 0:
            self.save(self._epoch, self._step)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.step_offset = 0
        self.save(epoch + 1, 0)

    def save(self, epoch, step):
        """Writes the backup: the run continues at step `step` of epoch `epoch`."""
        state = training_state(self.model)
        best = None if self.checkpoint is None else float(self.checkpoint.best)
        metadata = {
            "epoch": epoch,
            "step": step,
            "global_step": self._global_step,
            "best": best if best is None or np.isfinite(best) else None,
            "history": self.history,
        }
        arrays = {
            f"{group}_{i}": np.asarray(keras.ops.convert_to_numpy(variable))
            for group, variables in state.items()
            for i, variable in enumerate(variables)
        }
        arrays["metadata"] = np.asarray(json.dumps(metadata))

        def write(path):
            with open(path, "wb") as handle:
                np.savez(handle, **arrays)

        atomic_write(os.path.join(self.directory, BACKUP_FILE), write)
        if os.environ.get(KILL_AFTER_STEP) == str(metadata["global_step"]):
            os.kill(os.getpid(), signal.SIGKILL)
        if self.on_save is not None:
            self.on_save()
