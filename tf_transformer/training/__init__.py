"""Training pieces: the paper's schedule and optimizer, masked loss/accuracy, callbacks."""

from tf_transformer.training.callbacks import (
    Perplexity,
    SampleOutputs,
    TimeBudget,
    standard_callbacks,
)
from tf_transformer.training.losses import MaskedLoss, masked_accuracy, masked_loss
from tf_transformer.training.schedules import (
    CustomSchedule,
    fitting_warmup,
    transformer_optimizer,
)

__all__ = [
    "CustomSchedule",
    "fitting_warmup",
    "MaskedLoss",
    "Perplexity",
    "SampleOutputs",
    "TimeBudget",
    "masked_accuracy",
    "masked_loss",
    "standard_callbacks",
    "transformer_optimizer",
]
