"""Callbacks for the recipes: sample outputs after each epoch, perplexity, and the
standard set."""

import os
import sys

import keras
import numpy as np


class SampleOutputs(keras.callbacks.Callback):
    """Prints what the model makes of a few inputs after every epoch, next to references.

    `generate_fn(list of str) -> list of str` is e.g. a `Translator`'s greedy translate.
    """

    def __init__(self, generate_fn, inputs, references=None, title="samples", stream=None):
        super().__init__()
        self.generate_fn = generate_fn
        self.inputs = list(inputs)
        self.references = list(references) if references is not None else None
        self.title = title
        self.stream = stream or sys.stdout

    def on_epoch_end(self, epoch, logs=None):
        outputs = self.generate_fn(self.inputs)
        print(f"{self.title} after epoch {epoch + 1}:", file=self.stream)
        for i, (text, output) in enumerate(zip(self.inputs, outputs, strict=True)):
            line = f"  {text!r} -> {output!r}"
            if self.references is not None:
                mark = "ok" if output == self.references[i] else f"expected {self.references[i]!r}"
                line += f"  [{mark}]"
            print(line, file=self.stream)


class Perplexity(keras.callbacks.Callback):
    """Adds `perplexity` and `val_perplexity` (exp of the mean token cross-entropy) to the
    epoch logs, so the progress bar, the history and TensorBoard all show them."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for key in ("loss", "val_loss"):
            if key in logs:
                logs[key.replace("loss", "perplexity")] = float(np.exp(logs[key]))


def standard_callbacks(run_dir, monitor="val_loss"):
    """Best checkpoint, `BackupAndRestore` (an interrupted `fit` resumes at the epoch
    where it stopped) and TensorBoard logs, all under `run_dir`."""
    return [
        keras.callbacks.ModelCheckpoint(
            os.path.join(run_dir, "checkpoints", "best.weights.h5"),
            monitor=monitor,
            save_best_only=True,
            save_weights_only=True,
        ),
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup")),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")),
    ]
