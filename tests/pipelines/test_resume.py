"""Runs that never lose work: a real `tf-transformer ... train` killed mid-epoch resumes to
the weights of an uninterrupted run; finished runs are never overwritten silently; every
run-taking command says in one line what a directory is when it is not the run it needs."""

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

import tf_transformer.models  # noqa: F401  (registers the classes model.keras files name)
from pipelines import causal_lm, translation
from pipelines.runs import check_run
from tf_transformer import cli
from tf_transformer.errors import InputError
from tf_transformer.training.backup import KILL_AFTER_STEP, read_backup

# end-to-end runs: `make test-slow` (with `make test`, in `.ci/run`)
pytestmark = pytest.mark.slow

TRANSLATE = [
    "translate", "train", "--preset", "mini", "--epochs", "2", "--steps-per-epoch", "30",
    "--batch-size", "16", "--max-tokens", "16", "--vocab-size", "400", "--corpus-size", "1500",
    "--warmup-steps", "200", "--backup-every", "10", "--mixed-precision", "float32",
    "--eval-limit", "5",
]  # fmt: skip
GPT = [
    "gpt", "train", "--preset", "gpt_tiny", "--epochs", "2", "--steps-per-epoch", "30",
    "--seq-len", "32", "--vocab-size", "500", "--warmup-steps", "5", "--backup-every", "10",
    "--mixed-precision", "float32",
]  # fmt: skip
KILL_AT = 40  # global step: the backup at step 10 of the second epoch of 30


def _command(args, run_dir, *extra, kill=False):
    env = dict(os.environ, CI="true")
    env.pop(KILL_AFTER_STEP, None)
    if kill:
        env[KILL_AFTER_STEP] = str(KILL_AT)
    command = [sys.executable, "-m", "tf_transformer", *args, "--run-dir", run_dir, *extra]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _kill_and_resume(args, root):
    """An uninterrupted run and a run SIGKILLed after the backup of global step 40 (run
    side by side), then the killed one resumed; returns the three outputs and the dirs."""
    whole, killed = str(root / "whole"), str(root / "killed")
    processes = [_command(args, whole), _command(args, killed, kill=True)]
    outputs = [p.communicate()[0] for p in processes]
    assert processes[0].returncode == 0, outputs[0][-2000:]
    assert processes[1].returncode == -9, outputs[1][-2000:]  # SIGKILL
    metadata, _ = read_backup(os.path.join(killed, "backup"))
    assert (metadata["epoch"], metadata["step"], metadata["global_step"]) == (1, 10, KILL_AT)
    assert not os.path.exists(os.path.join(killed, "model.keras"))
    unfinished = str(root / "unfinished")
    shutil.copytree(killed, unfinished)
    resumed = _command(args, killed, "--resume")
    output = resumed.communicate()[0]
    assert resumed.returncode == 0, output[-2000:]
    return output, whole, killed, unfinished


def _weights(run_dir):
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    return model.get_weights()


def _history(run_dir):
    with open(os.path.join(run_dir, "history.json")) as handle:
        return json.load(handle)


def _assert_same_run(resumed, whole):
    a, b = _history(resumed), _history(whole)
    assert a.keys() == b.keys()
    for key in a:  # each epoch once, the interrupted one's means over all its steps
        assert len(a[key]) == len(b[key]) == 2, key
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, err_msg=key)
    for x, y in zip(_weights(resumed), _weights(whole), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-5)
    assert not os.path.exists(os.path.join(resumed, "backup"))
    assert _logged_epochs(resumed) == _logged_epochs(whole) == [0, 1]


def _logged_epochs(run_dir):
    """The epochs TensorBoard's training logs hold an `epoch_loss` for, in order."""
    import tensorflow as tf

    steps = []
    for directory, _, files in os.walk(os.path.join(run_dir, "logs", "train")):
        for name in sorted(files):
            for event in tf.compat.v1.train.summary_iterator(os.path.join(directory, name)):
                steps += [event.step for value in event.summary.value if value.tag == "epoch_loss"]
    return sorted(steps)


@pytest.fixture(scope="module")
def translation_runs(tmp_path_factory):
    return _kill_and_resume(TRANSLATE, tmp_path_factory.mktemp("translate"))


def test_translation_killed_mid_epoch_resumes_to_the_uninterrupted_weights(translation_runs):
    output, whole, killed, _ = translation_runs
    assert "resuming at epoch 2, step 10 (global step 40)" in output
    history = _history(whole)
    # the best checkpoint is the last epoch's, so model.keras holds the final weights
    assert history["val_loss"][1] < history["val_loss"][0]
    _assert_same_run(killed, whole)


def _tree_hashes(root):
    hashes = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                hashes[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


def test_a_finished_run_is_never_overwritten_silently(translation_runs, capsys):
    _, whole, _, _ = translation_runs
    before = _tree_hashes(whole)
    assert cli.main([*TRANSLATE, "--run-dir", whole]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "holds a finished run; --overwrite replaces it" in error
    assert cli.main([*TRANSLATE, "--run-dir", whole, "--resume"]) == 2
    assert _tree_hashes(whole) == before


def test_an_unfinished_run_resumes_only_when_asked_and_unchanged(translation_runs, capsys):
    _, _, _, unfinished = translation_runs
    before = _tree_hashes(unfinished)
    assert cli.main([*TRANSLATE, "--run-dir", unfinished]) == 2
    assert "holds an unfinished run; --resume continues it" in capsys.readouterr().err
    changed = [*TRANSLATE, "--run-dir", unfinished, "--resume", "--max-tokens", "20"]
    assert cli.main(changed) == 2
    assert capsys.readouterr().err.strip() == (
        "tf-transformer: error: --resume: max_tokens differs: the run has 16, this command 20"
    )
    assert cli.main([*TRANSLATE, "--run-dir", unfinished, "--resume", "--overwrite"]) == 2
    assert _tree_hashes(unfinished) == before


def test_overwrite_replaces_a_finished_run(translation_runs, tmp_path):
    _, whole, _, _ = translation_runs
    copy = str(tmp_path / "copy")
    shutil.copytree(whole, copy)
    stale = os.path.join(copy, "stale.txt")
    with open(stale, "w") as handle:
        handle.write("from the old run")
    config = translation.TranslateConfig(
        preset="tiny", epochs=1, steps_per_epoch=2, batch_size=8, max_tokens=12,
        vocab_size=400, corpus_size=1500, mixed_precision="float32",
    )  # fmt: skip
    translation.train(config, copy, log=lambda line: None, overwrite=True)
    assert not os.path.exists(stale)
    with open(os.path.join(copy, "config.json")) as handle:
        saved = json.load(handle)
    assert saved["preset"] == "tiny"
    # the automatic warm-up: 90% of the run's 2 steps, to the paper's peak for d_model 32
    assert saved["schedule"]["warmup_steps"] == 2
    assert saved["schedule"]["peak_learning_rate"] == pytest.approx((32 * 4000) ** -0.5)


def test_init_from_starts_from_the_finished_runs_validation_loss(translation_runs, tmp_path):
    _, whole, _, _ = translation_runs
    finished = _history(whole)["val_loss"][-1]
    lines = []
    config = translation.TranslateConfig(
        preset="tiny", epochs=1, steps_per_epoch=2, batch_size=16, max_tokens=16,
        vocab_size=400, corpus_size=1500, warmup_steps=1000, mixed_precision="float32",
        init_from=whole,
    )  # fmt: skip
    run_dir = translation.train(config, str(tmp_path / "continued"), log=lines.append)
    assert any("its preset replace this command's" in line for line in lines)
    with open(os.path.join(run_dir, "config.json")) as handle:
        saved = json.load(handle)
    assert saved["run"]["init_from"] == whole and saved["preset"] == "mini"
    for side in ("source", "target"):
        name = os.path.join("tokenizers", side, "sentencepiece.model")
        with open(os.path.join(whole, name), "rb") as a:
            with open(os.path.join(run_dir, name), "rb") as b:
                assert a.read() == b.read()
    # two steps at a tiny learning rate: where the finished run ended, not where a random
    # model starts (log(400) = 6.0 nats)
    assert _history(run_dir)["val_loss"][0] == pytest.approx(finished, abs=0.05)


def test_a_full_disk_stops_the_run_in_one_line_and_keeps_the_last_backup(tmp_path, monkeypatch):
    from tf_transformer.training import backup

    calls = []
    savez = np.savez

    def full_disk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return savez(*args, **kwargs)

    monkeypatch.setattr(backup.np, "savez", full_disk)
    config = translation.TranslateConfig(
        preset="tiny", epochs=1, steps_per_epoch=30, batch_size=8, max_tokens=12,
        vocab_size=400, corpus_size=1500, mixed_precision="float32", backup_every=10,
    )  # fmt: skip
    run_dir = str(tmp_path / "run")
    with pytest.raises(InputError) as error:
        translation.train(config, run_dir, log=lambda line: None)
    path = os.path.join(run_dir, "backup", "state.npz")
    assert str(error.value) == (
        f"cannot write {path}: No space left on device; its last version is intact"
    )
    metadata, _ = read_backup(os.path.join(run_dir, "backup"))
    assert metadata["step"] == 10
    assert sorted(os.listdir(os.path.join(run_dir, "backup"))) == ["state.npz"]


def test_an_unwritable_run_directory_is_one_line(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    run_dir = str(locked / "run")
    if os.access(locked, os.W_OK):  # root ignores modes; sysfs refuses even root
        run_dir = "/sys/tf-transformer-run"
        if os.access("/sys", os.W_OK) and os.path.exists(run_dir):
            pytest.skip("no directory here refuses writes")
    assert cli.main([*TRANSLATE, "--run-dir", run_dir]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"tf-transformer: error: cannot write to run directory {run_dir}:")
    assert "\n" not in error
    assert not os.path.exists(run_dir)


def test_gpt_killed_mid_epoch_resumes_to_the_uninterrupted_weights(tmp_path):
    output, whole, killed, _ = _kill_and_resume(GPT, tmp_path)
    assert "resuming at epoch 2, step 10 (global step 40)" in output
    _assert_same_run(killed, whole)
    assert check_run(killed, "gpt")["family"] == "gpt"
    assert causal_lm.load_run(killed)[1].preset == "gpt_tiny"


# Every run-taking command, on what it cannot take -----------------------------------------

COMMANDS = {
    "translation": [
        ["translate", "eval", "{}"],
        ["translate", "text", "{}", "hello"],
        ["translate", "export", "{}", "--model-dir", "{}/exported"],
        ["plot", "attention", "{}", "hello", "--out", "{}/a.png"],
    ],
    "gpt": [
        ["gpt", "generate", "{}", "Return the"],
        ["gpt", "export", "{}", "--model-dir", "{}/exported"],
    ],
    "bert": [
        ["bert", "predict", "{}", "hello"],
        ["bert", "export", "{}", "--model-dir", "{}/exported"],
        ["bert", "finetune", "--task", "classify", "--from", "{}", "--epochs", "1"],
    ],
    None: [["plot", "curves", "{}", "--out", "{}/c.png"]],  # a finished run of any family
}
CASES = [
    (family, command)
    for family, commands in COMMANDS.items()
    for command in commands
]  # fmt: skip


def _fake_run(root, family, finished=True):
    os.makedirs(root)
    with open(os.path.join(root, "config.json"), "w") as handle:
        json.dump({"family": family, "task": "pretrain"}, handle)
    if finished:
        open(os.path.join(root, "model.keras"), "w").close()
    return root


@pytest.mark.parametrize("family, command", CASES, ids=[" ".join(c[:2]) for _, c in CASES])
def test_run_taking_commands_say_what_a_directory_is(family, command, tmp_path, capsys):
    def run(directory):
        args = [part.replace("{}", directory) for part in command]
        assert cli.main(args) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("tf-transformer: error: ") and "\n" not in error, error
        return error.removeprefix("tf-transformer: error: ")

    empty = str(tmp_path / "empty")
    os.makedirs(empty)
    assert run(empty) == f"{empty}: an empty directory"
    missing = str(tmp_path / "missing")
    assert run(missing) == f"{missing}: no such run directory"
    for other in {"translation", "gpt", "bert"} - {family}:
        if family is None:
            break
        path = _fake_run(str(tmp_path / other), other)
        assert run(path) == f"{path} is a {other} run, not a {family} run"
    half = _fake_run(str(tmp_path / "half"), family or "gpt", finished=False)
    assert run(half).startswith(f"{half} is an unfinished {family or 'gpt'} run (no model.keras)")


def test_fit_run_resumes_in_process_at_the_backup_step(tmp_path):
    """The same guarantee without subprocesses: a `fit_run` interrupted right after the
    backup of step 7 (epoch 2 of 5-step epochs), resumed by a fresh model, ends with an
    uninterrupted run's weights, optimizer step and history."""
    import tensorflow as tf

    from pipelines.runs import fit_run
    from tf_transformer.models import Transformer
    from tf_transformer.training import MaskedLoss, masked_accuracy, transformer_optimizer

    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(40, 7))
    data = tf.data.Dataset.from_tensor_slices(((ids[:, :6], ids[:, :6]), ids[:, 1:]))
    validation = data.batch(20)

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):  # step 8 never runs
            if int(self.model.optimizer.iterations.numpy()) == 7:
                raise KeyboardInterrupt("simulated crash")

    def run(directory, callbacks=()):
        keras.utils.set_random_seed(0)

        def batches():  # a seeded pipeline built anew, as a fresh process would
            return data.shuffle(40, seed=3).batch(8)  # 5 batches an epoch

        model = Transformer.from_preset(
            "tiny", input_vocab_size=20, target_vocab_size=20, dropout=0.2
        )
        model.compile(transformer_optimizer(32, 4), MaskedLoss(0.1), metrics=[masked_accuracy])
        model.build(((None, None), (None, None)))
        history = fit_run(
            model, batches, 5, 3, str(directory), list(callbacks),
            validation_data=validation, backup_every=7, verbose=0, log=lambda line: None,
        )  # fmt: skip
        return model, history

    whole, whole_history = run(tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", [Interrupt()])
    metadata, _ = read_backup(str(tmp_path / "resumed" / "backup"))
    assert (metadata["epoch"], metadata["step"]) == (1, 2)
    resumed, resumed_history = run(tmp_path / "resumed")
    assert int(resumed.optimizer.iterations.numpy()) == 15
    for key, values in whole_history.items():
        np.testing.assert_allclose(resumed_history[key], values, rtol=1e-6, err_msg=key)
    for x, y in zip(resumed.get_weights(), whole.get_weights(), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6)
