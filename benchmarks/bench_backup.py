"""What the mid-epoch backups cost: the time of one `StepBackup` write (weights, optimizer
state, dropout seeds, metric sums; written to a temporary file, then renamed) against the
time of a training step, for each family's default model at its recipe's batch shape.

    .venv/bin/python -m benchmarks.bench_backup
"""

import os
import tempfile

import keras
import numpy as np

from benchmarks.common import machine, median_seconds, table
from pipelines.runs.options import BACKUP_EVERY
from tf_transformer.models import GPT, BertMaskedLM, Transformer
from tf_transformer.training import StepBackup, masked_accuracy, masked_loss


def _translation():
    model = Transformer.from_preset("tutorial", input_vocab_size=8000, target_vocab_size=8000)
    rng = np.random.default_rng(0)
    x = (rng.integers(5, 8000, (64, 24)), rng.integers(5, 8000, (64, 24)))
    return model, x, rng.integers(5, 8000, (64, 24)), masked_loss


def _gpt():
    model = GPT.from_preset("gpt_mini", vocab_size=8000)
    rng = np.random.default_rng(0)
    x = rng.integers(5, 8000, (16, 128))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return model, x, rng.integers(5, 8000, (16, 128)), loss


def _bert():
    model = BertMaskedLM.from_preset("bert_small", vocab_size=8000)
    rng = np.random.default_rng(0)
    x = {
        "token_ids": rng.integers(5, 8000, (32, 128)),
        "mask_positions": rng.integers(1, 127, (32, 20)),
    }
    return model, x, rng.integers(5, 8000, (32, 20)), masked_loss


MODELS = [
    ("translation `tutorial`, batch 64 x 24", _translation),
    ("GPT `gpt_mini`, batch 16 x 128", _gpt),
    ("BERT `bert_small`, batch 32 x 128", _bert),
]


def main():
    rows = []
    for name, make in MODELS:
        model, x, y, loss = make()
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss, metrics=[masked_accuracy])
        model.train_on_batch(x, y)  # builds the optimizer and the metrics
        step = median_seconds(lambda model=model, x=x, y=y: model.train_on_batch(x, y), repeats=20)
        with tempfile.TemporaryDirectory() as directory:
            backup = StepBackup(directory)
            backup.set_model(model)
            save = median_seconds(lambda backup=backup: backup.save(0, 1), repeats=5)
            size = os.path.getsize(os.path.join(directory, "state.npz"))
        cost = save / (BACKUP_EVERY * step)
        rows.append(
            [
                name,
                f"{model.count_params():,}",
                f"{1000 * step:.0f}",
                f"{1000 * save:.0f}",
                f"{size / 2**20:.0f}",
                f"{100 * cost:.2f}%",
            ]
        )
    print(f"Machine: {machine('float32')}\n")
    header = [
        "model",
        "parameters",
        "step (ms, median)",
        "backup write (ms, median)",
        "backup MB",
        f"cost at --backup-every {BACKUP_EVERY}",
    ]
    print(table(header, rows))


if __name__ == "__main__":
    main()
