"""How a run starts: nothing that is not a run is ever deleted; `--overwrite` replaces only a
run of the same kind, and only once the new run has its first backup; `--init-from R
--run-dir R` is safe; a resume says what it changes; runs written by the code of
2026-12-02 (before the run options had their own key) still resume, evaluate and export."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from pipelines import translation
from pipelines.runs import begin_run, read_config
from pipelines.runs.start import STAGING_MARK
from tests.pipelines.test_resume import _tree_hashes as _tree
from tf_transformer import cli
from tf_transformer.errors import InputError
from tf_transformer.training.backup import KILL_AFTER_STEP

# end-to-end runs: `make test-slow` (with `make test`, in `.ci/run`)
pytestmark = pytest.mark.slow

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "main-2026-12-02")
# the options the fixtures were trained with (tests/pipelines/fixtures/README.md)
TRANSLATE = [
    "translate", "train", "--preset", "tiny", "--epochs", "2", "--steps-per-epoch", "4",
    "--batch-size", "8", "--max-tokens", "12", "--vocab-size", "400", "--corpus-size", "1500",
    "--mixed-precision", "float32", "--backup-every", "2", "--eval-limit", "4",
]  # fmt: skip


def _copy(name, tmp_path):
    target = str(tmp_path / name)
    shutil.copytree(os.path.join(FIXTURES, name), target)
    return target


def _config(run_dir):
    with open(os.path.join(run_dir, "config.json")) as handle:
        return json.load(handle)


def _finished_run(path, family="translation", **fields):
    os.makedirs(path)
    with open(os.path.join(path, "config.json"), "w") as handle:
        json.dump({"family": family, **fields}, handle)
    with open(os.path.join(path, "model.keras"), "w") as handle:
        handle.write("the old weights")
    return str(path)


# Deciding the directory: unit tests of begin_run -----------------------------------------


def test_a_directory_without_a_run_is_refused_whatever_the_flags(tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "thesis.tex").write_text("years of work")
    config = translation.TranslateConfig()
    for flags in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(InputError, match="is not empty and holds no run") as error:
            begin_run("translation", config, str(thesis), "runs", log=print, **flags)
        assert "\n" not in str(error.value)
    assert (thesis / "thesis.tex").read_text() == "years of work"
    assert os.listdir(thesis) == ["thesis.tex"]


def test_a_run_of_another_kind_is_refused_whatever_the_flags(tmp_path):
    run = _finished_run(tmp_path / "translation")
    bert = _finished_run(tmp_path / "bert", family="bert", task="pretrain")
    before = _tree(tmp_path)
    for flags in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(InputError, match="is a translation run, not a gpt run"):
            begin_run("gpt", translation.TranslateConfig(), run, "runs", **flags)
        with pytest.raises(InputError, match="is a bert pretrain run, not a bert classify run"):
            begin_run("bert", translation.TranslateConfig(), bert, "runs", kind="bert classify")
    assert _tree(tmp_path) == before


def test_overwrite_builds_beside_the_run_and_swaps_at_the_first_backup(tmp_path):
    final = _finished_run(tmp_path / "run")
    lines = []
    run = begin_run(
        "translation", translation.TranslateConfig(), final, "runs", True, log=lines.append
    )
    assert run.dir != final and os.path.dirname(run.dir) == str(tmp_path)
    assert os.path.isfile(os.path.join(run.dir, STAGING_MARK))
    with open(os.path.join(run.dir, "config.json"), "w") as handle:
        handle.write('{"family": "translation"}')
    assert (tmp_path / "run" / "model.keras").read_text() == "the old weights"
    staging = run.dir
    run.commit()  # the first backup
    assert os.listdir(final) == ["config.json"]  # the new run, without the mark
    assert os.path.islink(staging) and os.path.realpath(staging) == os.path.realpath(final)
    with open(os.path.join(staging, "later.txt"), "w") as handle:  # old paths still work
        handle.write("written after the swap")
    run.commit()  # later backups: nothing more
    assert run.finish() == final
    assert sorted(os.listdir(tmp_path)) == ["run"]
    assert sorted(os.listdir(final)) == ["config.json", "later.txt"]
    assert any("it replaced" in line for line in lines)


def test_what_a_killed_overwrite_left_is_put_right(tmp_path):
    final = _finished_run(tmp_path / "run")
    # killed before its first backup: the staging directory is dropped, the run stays
    run = begin_run("translation", translation.TranslateConfig(), final, "runs", True)
    staging = run.dir
    begin_run("translation", translation.TranslateConfig(), final, "runs", True)
    assert (tmp_path / "run" / "model.keras").read_text() == "the old weights"
    # killed between the swap's two renames: the old run is put back
    os.rename(final, tmp_path / ".run.replaced")
    lines = []
    with pytest.raises(InputError, match="holds a finished run"):
        begin_run("translation", translation.TranslateConfig(), final, "runs", log=lines.append)
    assert (tmp_path / "run" / "model.keras").read_text() == "the old weights"
    assert any("put back the run" in line for line in lines)
    assert not os.path.exists(staging)  # what the killed overwrite left went with it
    # killed after the swap, before the old run was deleted: it goes; a non-run stays
    replaced = tmp_path / ".run.replaced"
    _finished_run(replaced)
    begin_run("translation", translation.TranslateConfig(), final, "runs", True).finish()
    assert not replaced.exists()
    os.makedirs(replaced)
    (replaced / "notes.txt").write_text("a user's")
    with pytest.raises(InputError, match="is in the way of --overwrite and is not a run"):
        begin_run("translation", translation.TranslateConfig(), final, "runs", True)
    assert (replaced / "notes.txt").read_text() == "a user's"
    shutil.rmtree(replaced)
    # a directory of that name that is not ours is never deleted
    os.makedirs(staging)
    (tmp_path / ".run.overwrite" / "mine.txt").write_text("a user's")
    with pytest.raises(InputError, match="is in the way of --overwrite and is not ours"):
        begin_run("translation", translation.TranslateConfig(), final, "runs", True)
    assert (tmp_path / ".run.overwrite" / "mine.txt").read_text() == "a user's"


def test_overwrite_of_a_multi_worker_run_is_refused(tmp_path):
    final = _finished_run(tmp_path / "run")
    config = translation.TranslateConfig(strategy="multi-worker")
    with pytest.raises(InputError, match="--overwrite with --strategy multi-worker"):
        begin_run("translation", config, final, "runs", True)
    assert sorted(os.listdir(tmp_path)) == ["run"]


# As a black box, through the command line ------------------------------------------------


def test_overwrite_of_a_folder_that_holds_no_run_exits_2_and_keeps_it(tmp_path, capsys):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "thesis.tex").write_text("years of work")
    assert cli.main([*TRANSLATE, "--run-dir", str(thesis), "--overwrite"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "holds no run" in error and "Traceback" not in error
    assert os.listdir(thesis) == ["thesis.tex"]
    assert (thesis / "thesis.tex").read_text() == "years of work"


def test_gpt_overwrite_of_a_finished_translation_run_changes_no_byte(tmp_path, capsys):
    run = _copy("finished", tmp_path)
    before = _tree(run)
    gpt = ["gpt", "train", "--preset", "gpt_tiny", "--epochs", "1", "--steps-per-epoch", "2"]
    assert cli.main([*gpt, "--run-dir", run, "--overwrite"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("is a translation run, not a gpt run; choose another --run-dir "
                          "(nothing in it was touched)")  # fmt: skip
    assert _tree(run) == before and sorted(os.listdir(tmp_path)) == ["finished"]


def test_init_from_a_run_into_itself_with_overwrite_is_safe(tmp_path, capsys):
    run = _copy("finished", tmp_path)
    argv = [*TRANSLATE, "--epochs", "1", "--steps-per-epoch", "2", "--warmup-steps", "4000"]
    assert cli.main([*argv, "--init-from", run, "--run-dir", run, "--overwrite"]) == 0
    assert "it replaced" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["finished"]
    saved = _config(run)
    assert saved["run"]["init_from"] == run and saved["run"]["steps_per_epoch"] == 2
    assert os.path.isfile(os.path.join(run, "model.keras"))
    assert cli.main(["translate", "eval", run, "--limit", "8"]) == 0
    metrics = json.loads((tmp_path / "finished" / "metrics.json").read_text())
    assert metrics["pairs"] == 8


def test_an_overwrite_killed_before_its_first_backup_leaves_the_old_run_whole(tmp_path):
    """A real `translate train --overwrite` SIGKILLed right after writing its first backup,
    before the swap: the old run is as it was, byte for byte; the next overwrite drops
    what the killed one left and replaces the run."""
    run = _copy("finished", tmp_path)
    before = _tree(run)
    env = dict(os.environ, CI="true", **{KILL_AFTER_STEP: "2"})
    command = [sys.executable, "-m", "tf_transformer", *TRANSLATE, "--run-dir", run]
    killed = subprocess.run([*command, "--overwrite"], env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stdout[-2000:] + killed.stderr[-2000:]
    assert _tree(run) == before
    staging = tmp_path / ".finished.overwrite"
    assert (staging / "backup" / "state.npz").is_file()  # the new run had its backup
    assert cli.main([*TRANSLATE, "--epochs", "1", "--run-dir", run, "--overwrite"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["finished"]
    assert _config(run)["epochs"] == 1 and _tree(run) != before


# Runs written before the run options had their own key -----------------------------------


def test_a_run_written_by_the_earlier_code_evaluates_and_continues(tmp_path):
    run = _copy("finished", tmp_path)
    config = read_config(translation.TranslateConfig, run)
    assert (config.seed, config.backup_every, config.preset) == (0, 2, "tiny")
    metrics = translation.evaluate(run, limit=8)
    assert metrics["pairs"] == 8 and 0 <= metrics["bleu"] <= 100
    assert cli.main([*TRANSLATE, "--init-from", run, "--run-dir", str(tmp_path / "next")]) == 0


def test_an_unfinished_run_of_the_earlier_code_resumes_says_what_changed_and_exports(
    tmp_path, capsys
):
    run = _copy("unfinished", tmp_path)
    assert cli.main([*TRANSLATE, "--run-dir", run, "--resume", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    # 2 -> 3 epochs of 4 steps: 8 -> 12 steps, the cool-down 2 -> 2 (round(2.4)); the warm-up
    # ends before it now (7 -> 6 -> 10: the paper's cap, fitted)
    line = next(line for line in out.splitlines() if line.startswith("--resume:"))
    assert line.startswith("--resume: epochs 2 -> 3; the schedule: ")
    assert "total_steps 8 -> 12" in line and "warmup_steps 7 -> 10" in line
    assert "resuming at epoch 2, step 2 (global step 6)" in out
    saved = _config(run)
    assert saved["run"]["seed"] == 0 and "seed" not in saved  # the options under "run"
    (resume,) = saved["resumes"]
    assert resume["changed"] == {"epochs": [2, 3]}
    assert resume["schedule"]["total_steps"] == [8, 12]
    with open(os.path.join(run, "history.json")) as handle:
        assert len(json.load(handle)["loss"]) == 3
    model_dir = str(tmp_path / "served")
    assert cli.main(["translate", "export", run, "--model-dir", model_dir]) == 0
    assert "conformance check passed" in capsys.readouterr().out
