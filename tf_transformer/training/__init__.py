"""Training pieces: the paper's schedule and optimizer, masked loss/accuracy, callbacks."""

from tf_transformer.training.backup import StepBackup, read_backup
from tf_transformer.training.callbacks import (
    BestCheckpoint,
    Perplexity,
    SampleOutputs,
    Throughput,
    TimeBudget,
    standard_callbacks,
)
from tf_transformer.training.losses import MaskedLoss, masked_accuracy, masked_loss
from tf_transformer.training.schedules import (
    CustomSchedule,
    cooldown_steps,
    fitting_warmup,
    paper_peak,
    run_schedule,
    schedule_of,
    transformer_optimizer,
)

__all__ = [
    "BestCheckpoint",
    "StepBackup",
    "read_backup",
    "CustomSchedule",
    "cooldown_steps",
    "fitting_warmup",
    "MaskedLoss",
    "Perplexity",
    "SampleOutputs",
    "Throughput",
    "TimeBudget",
    "masked_accuracy",
    "masked_loss",
    "paper_peak",
    "run_schedule",
    "schedule_of",
    "standard_callbacks",
    "transformer_optimizer",
]
