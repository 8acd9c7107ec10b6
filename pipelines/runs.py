"""What every recipe shares: run directories and the mixed-precision choice."""

import json
import os
import time

from tf_transformer.errors import InputError

PRECISIONS = {None: None, "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def new_run_dir(root: str) -> str:
    """`root/<timestamp>` (with a suffix if that exists already)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(root, stamp)
    suffix = 1
    while os.path.exists(path):
        suffix += 1
        path = os.path.join(root, f"{stamp}-{suffix}")
    return path


def dtype_policy(mixed_precision):
    """The Keras dtype policy for `--mixed-precision` (None, "bf16" or "fp16")."""
    if mixed_precision not in PRECISIONS:
        raise InputError(f"unknown mixed precision {mixed_precision!r}; use bf16 or fp16")
    return PRECISIONS[mixed_precision]


def run_tokenizer(tokenizer_cls, directory: str, texts, vocab_size: int):
    """The run's tokenizer: the one saved in `directory` (a resumed run keeps its
    vocabulary), or one trained on `texts` and saved there."""
    if os.path.isfile(os.path.join(directory, tokenizer_cls.file_name)):
        return tokenizer_cls.load(directory)
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


def read_json(run_dir: str, name: str):
    with open(os.path.join(run_dir, name)) as handle:
        return json.load(handle)


def finish_run(model, history, run_dir: str):
    """After `fit`: the best checkpoint's weights (if one was written) saved as the run's
    `model.keras`, and the history as `history.json`."""
    best = os.path.join(run_dir, "checkpoints", "best.weights.h5")
    if os.path.exists(best):
        model.load_weights(best)
    model.save(os.path.join(run_dir, "model.keras"))
    write_json(
        run_dir, "history.json", {k: [float(v) for v in vs] for k, vs in history.history.items()}
    )
