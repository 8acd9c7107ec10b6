"""`make test` ends with pytest's closing summary: nothing a process wrote at start-up
(TensorFlow's native log lines, under pytest's capture of the session) comes after it."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_closing_summary_is_the_last_line():
    # one quick test of this suite, through this suite's conftest and settings (2 workers)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["tests/test_plotting.py", "-k", "peaks_at_the_warmup"]
    result = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, lines[-20:]
    assert re.fullmatch(r"1 passed.* in [\d.]+s.*", lines[-1]), lines[-5:]
