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


def machine():
    import tensorflow as tf

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, no GPU"
    )


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
