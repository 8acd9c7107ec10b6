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

    With `cooldown_steps` and `total_steps`, the rate of the run's last `cooldown_steps`
    steps is also multiplied by `(total_steps - step + 1) / cooldown_steps`, a straight
    line down to 0 at the end of the run (the paper's rate ends near its peak when a run
    is as short as its warm-up; the last update gets `1 / cooldown_steps` of its rate).

    Example:
    ```python
    from tf_transformer.training import CustomSchedule
    float(CustomSchedule(d_model=512)(3999))  # the peak, at step 4000: ~7.0e-4
    ```
    """

    def __init__(self, d_model, warmup_steps=4000, peak=None, total_steps=None, cooldown_steps=0):
        super().__init__()
        if cooldown_steps and not total_steps:
            raise ValueError("cooldown_steps needs total_steps, the step the run ends at")
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        self.peak = peak
        self.total_steps = total_steps
        self.cooldown_steps = cooldown_steps

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        warmup = ops.cast(self.warmup_steps, "float32")
        scale = ops.rsqrt(ops.cast(self.d_model, "float32"))
        if self.peak is not None:  # d_model^-0.5 * warmup^-0.5 is the paper's own peak
            scale = ops.cast(self.peak, "float32") * ops.sqrt(warmup)
        rate = scale * ops.minimum(ops.rsqrt(step), step * warmup**-1.5)
        if self.cooldown_steps:
            left = (float(self.total_steps) + 1.0 - step) / float(self.cooldown_steps)
            rate = rate * ops.clip(left, 0.0, 1.0)
        return rate

    def get_config(self):
        return {
            "d_model": self.d_model,
            "warmup_steps": self.warmup_steps,
            "peak": self.peak,
            "total_steps": self.total_steps,
            "cooldown_steps": self.cooldown_steps,
        }


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


COOLDOWN_FRACTION = 0.2


def cooldown_steps(total_steps: int, fraction: float = COOLDOWN_FRACTION) -> int:
    """The steps of a run of `total_steps` whose rate falls to 0: `fraction` of them."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"the cool-down is a fraction of the run, 0 to 1; got {fraction}")
    return round(fraction * total_steps)


def paper_peak(d_model, warmup_steps=4000):
    """The paper's schedule's highest learning rate: (d_model * warmup_steps)^-0.5."""
    return (d_model * warmup_steps) ** -0.5


def transformer_optimizer(d_model, warmup_steps=4000, peak=None, total_steps=None, cooldown=0):
    """Adam with the paper's beta1 0.9, beta2 0.98, epsilon 1e-9 and `CustomSchedule`
    (`cooldown`: the steps at the end of a run of `total_steps` whose rate falls to 0)."""
    schedule = CustomSchedule(d_model, warmup_steps, peak, total_steps, cooldown)
    return keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
