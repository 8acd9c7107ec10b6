"""Quiet native logs: the CLI drops TensorFlow's C++ INFO lines, CUDA-driver probing on
machines without one and sentencepiece's `LOG(INFO)` lines, unless `--verbose`.

TensorFlow 2.21 logs through Abseil before `absl::InitializeLog()` is called, and such
lines ignore `TF_CPP_MIN_LOG_LEVEL`, so the only place to drop them is file descriptor 2:
it is replaced by a pipe into a small filter process that passes every other line on.
"""

import atexit
import os
import re
import subprocess
import sys

NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|I\d{4} [\d:. ]+\d+ \S+:\d+\] "  # a C++ INFO line
    r"|[WE]\d{4} [\d:. ]+\d+ \S+:\d+\] .*(cuInit|CUDA|cuda|TensorRT|DT_INT64 only on platforms)"
    r"|normalizer\.cc\(\d+\) LOG\(INFO\)"
)

_FILTER = """
import re, sys
noise = re.compile(sys.argv[1])
for line in sys.stdin.buffer:
    if not noise.match(line.decode("utf-8", "replace")):
        sys.stderr.buffer.write(line)
        sys.stderr.buffer.flush()
"""


def is_noise(line: str) -> bool:
    """Whether a stderr line is one the CLI drops without `--verbose`."""
    return NOISE.match(line) is not None


def filter_native_logs():
    """Routes this process's file descriptor 2 (and its children's) through the filter.

    Python's own warnings and errors still reach the terminal, line by line; at exit the
    filter is drained before the process ends, so nothing printed is lost.
    """
    sys.stderr.flush()
    original = os.dup(2)
    process = subprocess.Popen(
        [sys.executable, "-c", _FILTER, NOISE.pattern], stdin=subprocess.PIPE, stderr=original
    )
    os.dup2(process.stdin.fileno(), 2)
    process.stdin.close()

    def drain():
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end this process holds
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a child process still writes into the pipe
            pass

    atexit.register(drain)
