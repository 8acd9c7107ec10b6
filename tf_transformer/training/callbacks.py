"""Callbacks for the recipes: sample outputs after each epoch, perplexity, and the
standard set."""

import os
import sys
import time

import keras
import numpy as np

from tf_transformer.training.backup import atomic_write


class SampleOutputs(keras.callbacks.Callback):
    """Prints what the model makes of a few inputs after every epoch, next to references.

    `generate_fn(list of str) -> list of str` is e.g. a `Translator`'s greedy translate.
    Lines go to `stream` (default stdout), or to `log(line)` where it is given.
    """

    def __init__(
        self, generate_fn, inputs, references=None, title="samples", stream=None, log=None
    ):
        super().__init__()
        self.generate_fn = generate_fn
        self.inputs = list(inputs)
        self.references = list(references) if references is not None else None
        self.title = title
        self.stream = stream or sys.stdout
        self.log = log or (lambda line: print(line, file=self.stream))

    def on_epoch_end(self, epoch, logs=None):
        outputs = self.generate_fn(self.inputs)
        self.log(f"{self.title} after epoch {epoch + 1}:")
        for i, (text, output) in enumerate(zip(self.inputs, outputs, strict=True)):
            line = f"  {text!r} -> {output!r}"
            if self.references is not None:
                mark = "ok" if output == self.references[i] else f"expected {self.references[i]!r}"
                line += f"  [{mark}]"
            self.log(line)


class Perplexity(keras.callbacks.Callback):
    """Adds `perplexity` and `val_perplexity` (exp of the mean token cross-entropy) to the
    epoch logs, so the progress bar, the history and TensorBoard all show them."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for key in ("loss", "val_loss"):
            if key in logs:
                logs[key.replace("loss", "perplexity")] = float(np.exp(logs[key]))


class Throughput(keras.callbacks.Callback):
    """Adds `tokens_per_second` (and `ms_per_step`) to the epoch logs: the training steps'
    tokens over their wall-clock time, validation left out. `tokens_per_step` is what one
    step reads (batch x sequence for packed windows; the mean of real tokens a batch for
    padded ones). The first step of a `fit` (tracing, compiling) is not counted."""

    def __init__(self, tokens_per_step: float):
        super().__init__()
        self.tokens_per_step = tokens_per_step

    def on_epoch_begin(self, epoch, logs=None):
        self._steps, self._start, self._elapsed = 0, None, 0.0

    def on_train_batch_begin(self, batch, logs=None):
        if self._start is None and self._seen_first:
            self._start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if self._start is not None:
            self._steps += 1
            self._elapsed = time.monotonic() - self._start
        self._seen_first = True

    def on_train_begin(self, logs=None):
        self._seen_first = False

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._steps and self._elapsed > 0:
            logs["tokens_per_second"] = self.tokens_per_step * self._steps / self._elapsed
            logs["ms_per_step"] = 1000 * self._elapsed / self._steps


class TimeBudget(keras.callbacks.Callback):
    """Stops training gracefully once `seconds` of wall-clock time have passed since
    `fit` began: the current step ends, then the epoch's validation, checkpoint and
    epoch-end callbacks run as after any epoch. `stopped_at` is `(epoch, step)` (1-based)
    where it stopped, or None if the budget was never reached."""

    def __init__(self, seconds: float, log=print):
        super().__init__()
        self.seconds = seconds
        self.log = log
        self.stopped_at = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        if getattr(self, "_start", None) is None:  # a resumed run fits twice: one budget
            self._start = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.stopped_at is None and time.monotonic() - self._start >= self.seconds:
            self.model.stop_training = True
            self.stopped_at = (self._epoch + 1, batch + 1)
            self.log(
                f"\ntime budget of {format_seconds(self.seconds)} reached: training stops "
                f"after step {batch + 1} of epoch {self._epoch + 1}"
            )


def format_seconds(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the weights to `path` (`*.weights.h5`) after every epoch whose `monitor`
    (lower is better) beats `best`, through a temporary file and a rename, so the last
    good checkpoint survives a crash or a full disk mid-write. A resumed run sets `best`
    to the score it had reached."""

    def __init__(self, path, monitor="val_loss", best=None):
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.best = np.inf if best is None else best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not value < self.best:
            return
        self.best = float(value)
        atomic_write(self.path, lambda temporary: self.model.save_weights(temporary))


def standard_callbacks(run_dir, monitor="val_loss", time_budget=None):
    """`[BestCheckpoint, TensorBoard]` under `run_dir`, preceded by a `TimeBudget` that
    ends training once `time_budget` seconds are spent, if given. Backups for resuming
    are `StepBackup`'s (see `pipelines.runs.fit_run`)."""
    budget = [TimeBudget(time_budget)] if time_budget else []
    return budget + [
        BestCheckpoint(os.path.join(run_dir, "checkpoints", "best.weights.h5"), monitor),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")),
    ]
