import subprocess
import sys

import pytest

from tf_transformer import __version__, cli


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tf-transformer {__version__}"
    assert cli.main([]) == 0
    assert "usage: tf-transformer" in capsys.readouterr().out


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "tf_transformer", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and __version__ in result.stdout


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2


def test_native_log_noise_only_with_verbose(tmp_path):
    """TensorFlow's import prints C++ INFO and CUDA lines that `TF_CPP_MIN_LOG_LEVEL`
    cannot stop; the CLI drops them unless `--verbose`, and keeps its own errors."""
    command = [sys.executable, "-m", "tf_transformer"]
    plot = ["plot", "positional-encoding", "--length", "8", "--depth", "4"]
    out = ["--out", str(tmp_path / "pe.png")]
    quiet = subprocess.run([*command, *plot, *out], capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr
    assert [line for line in quiet.stderr.splitlines() if line.strip()] == []
    loud = subprocess.run([*command, "--verbose", *plot, *out], capture_output=True, text=True)
    assert loud.returncode == 0 and "wrote" in loud.stdout
    bad = subprocess.run([*command, *plot[:2], "--length", "0"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "tf-transformer: error: --length must be at least 1, got 0"


@pytest.mark.parametrize(
    "text, seconds", [("90", 90), ("90s", 90), ("6m", 360), ("1.5h", 5400), ("1h30m", 5400)]
)
def test_durations(text, seconds):
    assert cli.duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "6 minutes", "0s", "-5m"])
def test_bad_durations_exit_2(text, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["translate", "train", "--time-budget", text])
    assert exit_info.value.code == 2
    assert "--time-budget" in capsys.readouterr().err


def test_the_cli_imports_tensorflow_only_once_a_command_runs():
    # TensorFlow's first log lines are written as it loads; the console script can only
    # filter them (tf_transformer.native_logs) if building the parser leaves it unloaded
    code = (
        "import sys, tf_transformer.cli as c\nc.build_parser()\nprint('tensorflow' in sys.modules)"
    )
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert answer.stdout.strip() == "False", answer.stderr[-500:]


@pytest.mark.parametrize(
    "option, message",
    [
        (["--tag-head", "lstm"], "--tag-head lstm"),
        (["--crf"], "--crf"),
        (["--word-features"], "--word-features"),
    ],
)
def test_a_tag_head_for_a_classifier_exits_2(capsys, option, message):
    args = ["bert", "finetune", "--task", "classify", *option, "--epochs", "1"]
    assert cli.main(args) == 2
    assert capsys.readouterr().err.strip() == f"tf-transformer: error: {message} is for --task tag"
