"""Timing helpers for the benchmarks: warm up, then the median of several timed repeats."""

import os
import platform
import statistics
import time


def median_seconds(fn, repeats=5, warmup=1):
    """Median wall time of `fn()` over `repeats` runs after `warmup` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_seconds_interleaved(fns, repeats=5, warmup=1):
    """Median wall time of each of `fns`, their timed runs interleaved (a, b, a, b, ...)
    after `warmup` untimed runs of each, so that the machine's slower and faster spells
    fall on every side alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, own in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            own.append(time.perf_counter() - start)
    return [statistics.median(own) for own in times]


def cpu_model(path="/proc/cpuinfo"):
    """The CPU's model name with its family and model numbers, as Linux reports them
    (a virtual machine may show only the brand), else the platform's processor string."""
    fields = {}
    try:
        with open(path) as handle:
            for line in handle:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
                if not line.strip():
                    break  # the first processor is enough
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    return f"{fields['model name']}, family {fields.get('cpu family')} model {fields.get('model')}"


def machine(precision="float32 unless a row names another policy"):
    """The `Machine:` line of every table: the CPU model and the ISA flags that decide
    its speed (AVX2, AVX-512, AVX512-BF16, AMX), oneDNN's ISA cap if one is set, the
    precision of the measurement, and what `--mixed-precision auto` picks here."""
    import tensorflow as tf

    from tf_transformer.training.precision import choose_precision, cpu_flags, onednn_cap

    flags = cpu_flags()
    isa = ", ".join(
        f"{name} {'yes' if flag in flags else 'no'}"
        for name, flag in (
            ("AVX2", "avx2"),
            ("AVX-512", "avx512f"),
            ("AVX512-BF16", "avx512_bf16"),
            ("AMX-BF16", "amx_bf16"),
        )
    )
    cap = onednn_cap()
    gpus = tf.config.list_physical_devices("GPU")
    auto = choose_precision("auto")[0]
    return (
        f"{cpu_model()} ({platform.machine()}, {os.cpu_count()} cores; {isa}"
        f"{f'; ONEDNN_MAX_CPU_ISA={cap}' if cap else ''}), "
        f"{f'{len(gpus)} GPU' if gpus else 'no GPU'}; precision: {precision} "
        f"(`--mixed-precision auto` picks {auto} here); Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}"
    )


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def saved_results(out_dir):
    """The `results.json` a real-text benchmark saved in `out_dir` (empty: none yet), and a
    function that saves the updated results there."""
    import json

    path = os.path.join(out_dir, "results.json")
    results = {}
    if os.path.exists(path):
        with open(path) as handle:
            results = json.load(handle)

    def save():
        os.makedirs(out_dir, exist_ok=True)
        with open(path, "w") as handle:
            json.dump(results, handle, indent=2)

    return results, save
