"""Which precision a run computes in: `auto` picks bfloat16 only where the hardware has it.

On a CPU without native bfloat16 (AVX2, or AVX-512 without the BF16 extension) oneDNN
emulates it, and a mixed-precision step is several times slower than a float32 one.
"""

import os

from tf_transformer.cpu import (
    BF16_CPU_FLAGS,
    ONEDNN_ISAS,
    below_bfloat16,
    cpu_flags,
    onednn_cap,
)

__all__ = [
    "BF16_CPU_FLAGS",
    "ONEDNN_ISAS",
    "choose_precision",
    "cpu_flags",
    "native_bfloat16",
    "onednn_cap",
]

POLICIES = {"float32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
CHOICES = ("auto", *POLICIES)


def native_bfloat16(flags=None, accelerators=None, environ=None):
    """`(True/False, reason)`: whether the device computes bfloat16 natively.

    `accelerators` is a list of `(kind, name, bf16)` for the GPUs/TPUs TensorFlow sees
    (default: asked of TensorFlow); `flags` the CPU flags (default: `/proc/cpuinfo`).
    """
    accelerators = _accelerators() if accelerators is None else accelerators
    if accelerators:
        kind, name, bf16 = accelerators[0]
        if bf16:
            return True, f"the {kind} ({name}) computes bfloat16 natively"
        return False, f"the {kind} ({name}) has no native bfloat16"
    flags = cpu_flags() if flags is None else set(flags)
    native = [flag for flag in BF16_CPU_FLAGS if flag in flags]
    if not native:
        isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "its ISA"
        return False, f"the CPU has {isa} but no native bfloat16 (no amx_bf16 or avx512_bf16 flag)"
    cap = onednn_cap(environ)
    if below_bfloat16(cap):
        return False, f"oneDNN is capped at {cap} (ONEDNN_MAX_CPU_ISA), below bfloat16"
    return True, f"the CPU computes bfloat16 natively ({', '.join(native)})"


def _accelerators():
    """`(kind, name, bf16)` for each GPU and TPU TensorFlow sees; GPUs of compute
    capability 8.0 (Ampere) and later, and every TPU, compute bfloat16 natively."""
    import tensorflow as tf

    # physical devices only: listing logical ones would start the runtime before a
    # tf.distribute strategy is configured
    found = [("TPU", device.name, True) for device in tf.config.list_physical_devices("TPU")]
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capability = details.get("compute_capability") or (0, 0)
        found.append(("GPU", details.get("device_name", gpu.name), tuple(capability) >= (8, 0)))
    return found


def choose_precision(requested: str = "auto", **detect):
    """`(keras dtype policy, reason)` for `--mixed-precision` (`auto`, `bf16`, `fp16` or
    `float32`); `detect` goes to `native_bfloat16` (tests fake the hardware with it)."""
    from tf_transformer.errors import InputError

    if requested is None:
        requested = "float32"
    if requested not in CHOICES:
        raise InputError(f"unknown mixed precision {requested!r}; use {', '.join(CHOICES)}")
    if requested != "auto":
        reason = f"--mixed-precision {requested}"
        if requested == "bf16" and os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0":
            reason += " on TensorFlow's own kernels (oneDNN's rewrites off)"
        return POLICIES[requested], reason
    native, reason = native_bfloat16(**detect)
    return ("mixed_bfloat16" if native else "float32"), f"auto: {reason}"
