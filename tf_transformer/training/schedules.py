"""The paper's learning-rate schedule (section 5.3)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_transformer")
class CustomSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """lrate = d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5).

    `step` counts from 1: the optimizer's iteration 0 (the first update) is step 1, so
    the first update does not get a learning rate of 0.

    With `peak`, the same shape is scaled to reach `peak` at `warmup_steps`:
    `peak * min(step / warmup_steps, sqrt(warmup_steps / step))` (the paper's formula is
    the case `peak = (d_model * warmup_steps)^-0.5`). A warm-up shortened to fit a short
    run then keeps the peak a longer warm-up would have had, instead of raising it.

    Example:
    ```python
    from tf_transformer.training import CustomSchedule
    float(CustomSchedule(d_model=512)(3999))  # the peak, at step 4000: ~7.0e-4
    ```
    """

    def __init__(self, d_model, warmup_steps=4000, peak=None):
        super().__init__()
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        self.peak = peak

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        warmup = ops.cast(self.warmup_steps, "float32")
        scale = ops.rsqrt(ops.cast(self.d_model, "float32"))
        if self.peak is not None:  # d_model^-0.5 * warmup^-0.5 is the paper's own peak
            scale = ops.cast(self.peak, "float32") * ops.sqrt(warmup)
        return scale * ops.minimum(ops.rsqrt(step), step * warmup**-1.5)

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps, "peak": self.peak}


WARMUP_FRACTION = 0.9


def fitting_warmup(total_steps: int, warmup_steps: int = 4000, fraction: float = WARMUP_FRACTION):
    """`(steps, reason)`: the paper's `warmup_steps`, capped at `fraction` of a run of
    `total_steps`, so that the learning rate reaches its peak within the run (the paper
    warmed up for 4,000 of 100,000 steps; 10 epochs of a 30k-pair corpus are ~4,500).
    A capped warm-up keeps the paper's peak (`CustomSchedule(peak=paper_peak(...))`):
    on real text, raising the peak with a shorter warm-up made training worse."""
    cap = max(1, round(fraction * total_steps))
    if warmup_steps <= cap:
        return warmup_steps, f"{warmup_steps:,} steps, within the run's {total_steps:,}"
    return cap, (
        f"{cap:,} steps: {fraction:.0%} of the run's {total_steps:,}, to the peak of the "
        f"paper's {warmup_steps:,} (which would not reach it within the run)"
    )


def paper_peak(d_model, warmup_steps=4000):
    """The paper's schedule's highest learning rate: (d_model * warmup_steps)^-0.5."""
    return (d_model * warmup_steps) ** -0.5


def transformer_optimizer(d_model, warmup_steps=4000, peak=None):
    """Adam with the paper's beta1 0.9, beta2 0.98, epsilon 1e-9 and `CustomSchedule`."""
    return keras.optimizers.Adam(
        CustomSchedule(d_model, warmup_steps, peak), beta_1=0.9, beta_2=0.98, epsilon=1e-9
    )
