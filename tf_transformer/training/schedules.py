"""The paper's learning-rate schedule (section 5.3)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_transformer")
class CustomSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """lrate = d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5).

    `step` counts from 1: the optimizer's iteration 0 (the first update) is step 1, so
    the first update does not get a learning rate of 0.

    Example:
    ```python
    from tf_transformer.training import CustomSchedule
    float(CustomSchedule(d_model=512)(3999))  # the peak, at step 4000: ~7.0e-4
    ```
    """

    def __init__(self, d_model, warmup_steps=4000):
        super().__init__()
        self.d_model = d_model
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        warmup = ops.cast(self.warmup_steps, "float32")
        scale = ops.rsqrt(ops.cast(self.d_model, "float32"))
        return scale * ops.minimum(ops.rsqrt(step), step * warmup**-1.5)

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps}


def transformer_optimizer(d_model, warmup_steps=4000):
    """Adam with the paper's beta1 0.9, beta2 0.98, epsilon 1e-9 and `CustomSchedule`."""
    return keras.optimizers.Adam(
        CustomSchedule(d_model, warmup_steps), beta_1=0.9, beta_2=0.98, epsilon=1e-9
    )
