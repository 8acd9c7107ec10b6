import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _capped_below_bfloat16():
    """`ONEDNN_MAX_CPU_ISA` below bfloat16 on a CPU that has it (how an AVX2-only machine
    is reproduced on an AVX-512 one): TensorFlow reads the CPU, sends bfloat16 matmuls to
    oneDNN, and oneDNN, capped, aborts the process. A real AVX2 CPU gets TensorFlow's
    Eigen kernels for them instead; turning TensorFlow's oneDNN ops off gives the same."""
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or "").upper()
    if not cap or cap in ("ALL", "DEFAULT") or "BF16" in cap or "AMX" in cap:
        return False
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


if _capped_below_bfloat16():
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _import_quietly():
    """TensorFlow's native start-up lines (oneDNN, CUDA stubs) go straight to file
    descriptor 2. Imported here, under pytest's capture of the whole session, they would
    be written out after the closing summary line; they are noise, so they go nowhere."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
        import tensorflow_text  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_quietly()

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_float32_policy():
    """Every test starts seeded and in float32, whatever the previous one set."""
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
