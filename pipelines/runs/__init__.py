"""Run directories: how a run starts (`start`: the one check-before-write path, `--overwrite`
and `--resume`), the options every recipe shares (`options`), the `fit` with backups every
recipe runs (`fitting`), how a run computes (`compute`) and the files it writes
(`directories`). Importing this package does not import TensorFlow."""

from pipelines.runs.compute import distribution, dtype_policy, is_chief, worker_run_dir
from pipelines.runs.directories import (
    finish_run,
    flat_config,
    new_run_dir,
    read_config,
    read_json,
    run_tokenizer,
    write_config,
    write_json,
)
from pipelines.runs.fitting import BACKUP_DIR, fit_run
from pipelines.runs.options import BACKUP_EVERY, RunOptions
from pipelines.runs.start import (
    FAMILIES,
    FromRun,
    Run,
    begin_run,
    check_run,
    read_run,
    run_family,
)

__all__ = [
    "BACKUP_DIR",
    "BACKUP_EVERY",
    "FAMILIES",
    "FromRun",
    "Run",
    "RunOptions",
    "begin_run",
    "check_run",
    "distribution",
    "dtype_policy",
    "finish_run",
    "fit_run",
    "flat_config",
    "is_chief",
    "new_run_dir",
    "read_config",
    "read_json",
    "read_run",
    "run_family",
    "run_tokenizer",
    "worker_run_dir",
    "write_config",
    "write_json",
]
