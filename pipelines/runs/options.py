"""The run options every recipe shares, one dataclass: each recipe's config extends it, and
`config.json` keeps these fields under its "run" key (`directories.config_record`)."""

import dataclasses

BACKUP_EVERY = 200


@dataclasses.dataclass
class RunOptions:
    """How a run computes, is seeded, backed up and started; the same for every family."""

    steps_per_epoch: int = None  # default: one pass over the training split
    vocab_sample: int = 200_000  # texts the vocabulary is learned from, at most
    jit_compile: bool = False
    mixed_precision: str = "auto"  # bf16 where the hardware has it; or bf16, fp16, float32
    time_budget: float = None  # seconds of training, then a graceful stop
    strategy: str = "default"  # or "mirrored", "multi-worker"
    seed: int = 0
    backup_every: int = BACKUP_EVERY  # steps between backups (and one after every epoch)
    init_from: str = None  # a finished run of the same family whose model starts this one
