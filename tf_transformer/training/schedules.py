"""The paper's learning-rate schedule (section 5.3), fitted to a run: a warm-up that ends
before the cool-down starts, so the recorded peak is the rate the run reaches."""

import keras
from keras import ops

COOLDOWN_FRACTION = 0.2


@keras.saving.register_keras_serializable(package="tf_transformer")
class CustomSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """lrate = d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5).

    `step` counts from 1: the optimizer's iteration 0 (the first update) is step 1, so
    the first update does not get a learning rate of 0.

    With `peak`, the same shape is scaled to reach `peak` at `warmup_steps`:
    `peak * min(step / warmup_steps, sqrt(warmup_steps / step))` (the paper's formula is
    the case `peak = (d_model * warmup_steps)^-0.5`). A warm-up shortened to fit a short
    run then keeps the peak a longer warm-up would have had, instead of raising it.

    With `cooldown_steps` (n) and `total_steps`, the rate of the run's last n steps is
    also multiplied by `(total_steps - step + 1) / (n + 1)`: n/(n+1), ..., 2/(n+1),
    1/(n+1), a straight line from the rate before the cool-down to 0 one step after the
    run (the paper's rate ends near its peak when a run is as short as its warm-up).
    Every cool-down step is slower than the one before, so even a one-step cool-down
    halves the last update; past the run the rate is 0.

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
            left = (float(self.total_steps) + 1.0 - step) / (self.cooldown_steps + 1.0)
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


def cooldown_steps(total_steps: int, fraction: float = COOLDOWN_FRACTION) -> int:
    """The steps at the end of a run of `total_steps` whose rate falls toward 0:
    `fraction` of them, rounded, and never the whole run (its first step warms up)."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"the cool-down is a fraction of the run, 0 to 1; got {fraction}")
    return min(round(fraction * total_steps), max(total_steps - 1, 0))


def fitting_warmup(
    total_steps: int,
    warmup_steps: int = 4000,
    cooldown: int = 0,
    fraction: float = WARMUP_FRACTION,
):
    """`(steps, reason)`: the paper's `warmup_steps`, capped so that the rate reaches its
    peak within a run of `total_steps` and before its last `cooldown` steps start (and at
    `fraction` of the run without a cool-down). The paper warmed up for 4,000 of 100,000
    steps; 10 epochs of a 30k-pair corpus are ~4,500. A capped warm-up keeps the paper's
    peak (`CustomSchedule(peak=paper_peak(...))`): on real text, raising the peak with a
    shorter warm-up made training worse."""
    cap = max(1, min(round(fraction * total_steps), total_steps - cooldown))
    if warmup_steps <= cap:
        return warmup_steps, f"{warmup_steps:,} steps, within the run's {total_steps:,}"
    where = (
        "the cool-down's start"
        if cooldown and cap == total_steps - cooldown
        else (f"{fraction:.0%} of the run's {total_steps:,}")
    )
    return cap, (
        f"{cap:,} steps (up to {where}), to the peak of the paper's {warmup_steps:,} "
        f"(which the run of {total_steps:,} steps would not reach)"
    )


def paper_peak(d_model, warmup_steps=4000):
    """The paper's schedule's highest learning rate: (d_model * warmup_steps)^-0.5."""
    return (d_model * warmup_steps) ** -0.5


def run_schedule(
    d_model: int,
    total_steps: int,
    cooldown: float = COOLDOWN_FRACTION,
    warmup_steps: int = None,
    peak: float = None,
) -> dict:
    """The schedule of a run of `total_steps`, as `config.json` records it and
    `schedule_of` rebuilds it: `warmup_steps`, `peak_learning_rate` (the highest rate of
    the run, reached at the warm-up's last step), `total_steps`, `cooldown_steps` (the
    last `cooldown` fraction of the steps) and `reason`.

    The warm-up is `warmup_steps` (default the paper's 4,000), fitted to the run
    (`fitting_warmup`: it ends before the cool-down starts) with the peak the unfitted
    warm-up has in the paper's formula, or `peak`."""
    cool = cooldown_steps(total_steps, cooldown)
    asked = warmup_steps or 4000
    warmup, reason = fitting_warmup(total_steps, asked, cool)
    if warmup_steps:
        reason = f"--warmup-steps {reason}"
    return {
        "warmup_steps": warmup,
        "peak_learning_rate": peak or paper_peak(d_model, asked),
        "total_steps": total_steps,
        "cooldown_steps": cool,
        "reason": reason,
    }


def schedule_of(d_model: int, record: dict) -> CustomSchedule:
    """The `CustomSchedule` a `run_schedule` record describes."""
    return CustomSchedule(
        d_model,
        record["warmup_steps"],
        record["peak_learning_rate"],
        record["total_steps"],
        record["cooldown_steps"],
    )


def transformer_optimizer(
    d_model=None, warmup_steps=4000, peak=None, total_steps=None, cooldown=0, schedule=None
):
    """Adam with the paper's beta1 0.9, beta2 0.98, epsilon 1e-9 and `schedule` (a
    `CustomSchedule`), or one of `d_model` with the other arguments (`cooldown`: the steps
    at the end of a run of `total_steps` whose rate falls toward 0)."""
    if schedule is None:
        schedule = CustomSchedule(d_model, warmup_steps, peak, total_steps, cooldown)
    return keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
