"""The `fit` every recipe runs: backups every `--backup-every` steps and after every epoch,
resumed mid-epoch from the last one, and the run's files written when it ends."""

import os
import shutil
import types

from pipelines.runs.directories import finish_run

BACKUP_DIR = "backup"


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
    `monitor`, `time_budget`, `backup_every`, `verbose`, `log`, `on_backup` (called after
    every backup: an `--overwrite` swaps the new run in at its first, `Run.commit`).
    """
    from tf_transformer.training import TimeBudget, standard_callbacks
    from tf_transformer.training.backup import StepBackup, read_backup

    log = options.pop("log", print)
    on_backup = options.pop("on_backup", None)
    monitor = options.pop("monitor", "val_loss")
    directory = os.path.join(run_dir, BACKUP_DIR)
    restore = read_backup(directory)
    budget = options.pop("time_budget", None)
    checkpoint, *others = standard_callbacks(run_dir, monitor)
    backup = StepBackup(
        directory, options.pop("backup_every", None), checkpoint, restore, log, on_backup
    )
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
