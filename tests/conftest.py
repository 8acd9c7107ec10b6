import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tf_transformer.cpu import bfloat16_without_onednn  # noqa: E402 I001 (no TensorFlow)

# Under `ONEDNN_MAX_CPU_ISA=AVX2` on a CPU with bfloat16 (how an AVX2-only machine is
# reproduced on an AVX-512 one), the suite's bfloat16 runs need TensorFlow's own kernels:
# see `tf_transformer.cpu.bfloat16_without_onednn`, which the CLI calls too.
bfloat16_without_onednn()


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
