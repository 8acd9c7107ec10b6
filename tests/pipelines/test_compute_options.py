"""`--jit-compile`, `--mixed-precision` and `--strategy` on every recipe: XLA and bf16 runs
train to losses close to float32; a mirrored step over two CPU devices computes what one
device computes; two multi-worker processes end with the same weights; and what a run
under a strategy writes loads without one."""

import dataclasses
import json
import math
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines import causal_lm, finetuning, masked_lm, translation
from pipelines.runs import distribution, is_chief, worker_run_dir
from tf_transformer import cli
from tf_transformer.errors import InputError
from tf_transformer.models import GPT as GPTModel
from tf_transformer.models import BertMaskedLM, Transformer
from tf_transformer.training import MaskedLoss, masked_accuracy, masked_loss

from .test_translation_recipe import CONFIG as TRANSLATE_TINY

# end-to-end runs: `make test-slow` (with `make test`, in `.ci/run`)
pytestmark = pytest.mark.slow

# float32 (not `auto`): the same arithmetic on every CPU
# batches of about 128 tokens, with which the mirrored/default tolerance below was measured
# (with 16-pair batches the two runs' second-epoch losses drifted 4.8% apart)
TRANSLATE = dataclasses.replace(
    TRANSLATE_TINY, steps_per_epoch=4, mixed_precision="float32", batch_tokens=128
)
GPT = causal_lm.GPTConfig(preset="gpt_tiny", seq_len=32, mixed_precision="float32")
BERT = masked_lm.PretrainConfig(preset="bert_tiny", seq_len=32, mixed_precision="float32")


def _losses(run_dir):
    with open(os.path.join(run_dir, "history.json")) as handle:
        return json.load(handle)["loss"]


def _family(name, policy):
    """A tiny model of each family, its loss, and a fixed padded batch (dropout off, so
    float32, XLA and bf16 runs differ by arithmetic only)."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 60, size=(8, 12))
    ids[:3, 7:] = 0
    if name == "translator":
        model = Transformer.from_preset(
            "tiny", input_vocab_size=60, target_vocab_size=60, dtype=policy
        )
        return model, MaskedLoss(), ((ids, ids[:, :-1]), ids[:, 1:])
    if name == "gpt":
        model = GPTModel.from_preset("gpt_tiny", vocab_size=61, dtype=policy)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return model, loss, (ids[:, :-1] + 1, ids[:, 1:] + 1)
    model = BertMaskedLM.from_preset("bert_tiny", vocab_size=60, dropout=0.0, dtype=policy)
    inputs = {"token_ids": ids, "mask_positions": np.tile([1, 4, 6], (8, 1))}
    return model, masked_loss, (inputs, ids[:, [1, 4, 6]])


def _fit(name, policy="float32", jit_compile=False, steps=3):
    keras.utils.set_random_seed(0)
    model, loss, batch = _family(name, policy)
    model.compile(keras.optimizers.Adam(1e-3), loss, jit_compile=jit_compile)
    data = tf.data.Dataset.from_tensors(batch).repeat(steps)
    losses = [float(model.train_on_batch(*next(iter(data)))) for _ in range(steps)]
    return model, losses


@pytest.mark.parametrize("name", ["translator", "gpt", "bert"])
def test_xla_bf16_and_fp16_train_to_losses_close_to_float32(name):
    _, float32 = _fit(name)
    _, xla = _fit(name, jit_compile=True)
    model, bf16 = _fit(name, policy="mixed_bfloat16")
    scaled, fp16 = _fit(name, policy="mixed_float16")
    assert all(math.isfinite(loss) for loss in xla + bf16 + fp16)
    assert float32[-1] < float32[0]  # three steps did train
    assert xla == pytest.approx(float32, rel=1e-4)  # the same float32 arithmetic, fused
    assert bf16 == pytest.approx(float32, rel=3e-2)  # activations rounded to 8 bits
    assert fp16 == pytest.approx(float32, rel=1e-2)  # 11 bits, gradients loss-scaled
    assert isinstance(scaled.optimizer, keras.optimizers.LossScaleOptimizer)
    assert not isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert all(weight.dtype == "float32" for weight in model.trainable_weights)


@pytest.mark.parametrize(
    ("command", "cls"),
    [
        (["translate", "train"], translation.TranslateConfig),
        (["gpt", "train"], causal_lm.GPTConfig),
        (["bert", "pretrain"], masked_lm.PretrainConfig),
        (["bert", "finetune", "--task", "tag"], finetuning.FinetuneConfig),
    ],
)
def test_every_recipe_takes_the_compute_options(command, cls):
    flags = ["--jit-compile", "--mixed-precision", "fp16", "--strategy", "multi-worker"]
    args = cli.build_parser().parse_args([*command, *flags, "--time-budget", "1h30m"])
    config = cli.config_from(cls, args)
    assert (config.jit_compile, config.mixed_precision, config.strategy) == (
        True,
        "fp16",
        "multi-worker",
    )
    assert config.time_budget == 5400
    assert cls().strategy == "default" and not cls().jit_compile
    assert cls().mixed_precision == "auto" and cls().time_budget is None
    default = cli.config_from(cls, cli.build_parser().parse_args(command))
    assert default.mixed_precision == "auto"


def test_bad_compute_options_are_input_errors_before_any_file(tmp_path, monkeypatch):
    run_dir = str(tmp_path / "run")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(InputError, match="TF_CONFIG"):
        translation.train(dataclasses.replace(TRANSLATE, strategy="multi-worker"), run_dir)
    with pytest.raises(InputError, match="unknown strategy 'tpu'"):
        masked_lm.pretrain(dataclasses.replace(BERT, strategy="tpu"), run_dir)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(InputError, match="TF_CONFIG is not"):
        causal_lm.train(dataclasses.replace(GPT, strategy="multi-worker"), run_dir)
    assert not os.path.exists(run_dir)
    assert cli.main(["gpt", "train", "--strategy", "multi-worker", "--run-dir", run_dir]) == 2
    assert not os.path.exists(run_dir)


def test_only_the_chief_writes_the_run_directory(monkeypatch):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    for task, chief in ((("worker", 0), True), (("worker", 1), False)):
        config = {"cluster": cluster, "task": {"type": task[0], "index": task[1]}}
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
        assert is_chief("multi-worker") is chief
        assert is_chief("default")  # TF_CONFIG matters to the multi-worker strategy only
        expected = "runs/x" if chief else os.path.join("runs/x", "workers", "1")
        assert worker_run_dir("runs/x", "multi-worker") == expected
    with_chief = {"cluster": {"chief": ["127.0.0.1:1"], **cluster}, "task": {"type": "worker"}}
    with_chief["task"]["index"] = 0
    monkeypatch.setenv("TF_CONFIG", json.dumps(with_chief))
    assert not is_chief("multi-worker")


def test_one_device_loss_is_the_global_token_mean():
    """Outside a strategy the masked loss and accuracy are plain means over real tokens."""
    assert distribution("default").num_replicas_in_sync == 1
    labels = np.array([[3, 1, 0, 0], [2, 2, 2, 1]])
    logits = np.log(np.full((2, 4, 4), 0.25, "float32"))
    assert float(masked_loss(labels, logits)) == pytest.approx(math.log(4.0), rel=1e-6)
    logits[0, :, 3] = 5.0  # row 0 predicts 3 everywhere: one hit of 6 real tokens
    assert float(masked_accuracy(labels, logits)) == pytest.approx(1 / 6, rel=1e-6)


# Two logical CPU devices must be configured before TensorFlow starts, so this part runs in
# a fresh interpreter: the same recipe with and without MirroredStrategy, then one step of
# a hand-made batch whose halves have different numbers of real tokens.
MIRRORED = """
import dataclasses, json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from pipelines import translation
from pipelines.runs import distribution
from tf_transformer.errors import InputError
from tf_transformer.models import Transformer
from tf_transformer.training import MaskedLoss, masked_accuracy

config = translation.TranslateConfig(**json.loads(sys.argv[1]))
root = sys.argv[2]
translation.train(config, root + "/default")
translation.train(dataclasses.replace(config, strategy="mirrored"), root + "/mirrored")
try:
    xla = dataclasses.replace(config, strategy="mirrored", jit_compile=True)
    translation.train(xla, root + "/x")
except InputError as error:
    print("jit refused:", error)

rng = np.random.default_rng(0)
source = rng.integers(1, 50, size=(8, 10))
target = rng.integers(1, 50, size=(8, 9))
source[:4, 6:] = 0
target[:3, 3:] = 0  # the first replica's half has far fewer real target tokens
batch = ((source, target[:, :-1]), target[:, 1:])

def step(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = Transformer.from_preset("tiny", input_vocab_size=50, target_vocab_size=50)
        model.compile(keras.optimizers.SGD(0.5), MaskedLoss(), metrics=[masked_accuracy])
        model.build(((None, None), (None, None)))
    data = tf.data.Dataset.from_tensors(batch).repeat(2)
    history = model.fit(data, verbose=0).history
    return history, [w.tolist() for w in model.get_weights()[:4]]

def crf_step(strategy):  # a CRF tagger: its loss divides by the global batch's words
    from tf_transformer.models import BertTokenTagger

    keras.utils.set_random_seed(0)
    ids = rng.integers(4, 50, size=(8, 10))
    labels = rng.integers(1, 4, size=(8, 10)) * (rng.random((8, 10)) < 0.6)
    labels[:4, 3:] = 0  # the first replica's half has far fewer words
    with strategy.scope():
        model = BertTokenTagger.from_preset(
            "bert_tiny", num_tags=4, crf=True, vocab_size=50, num_layers=1, d_model=16,
            num_heads=2, dff=32, max_length=16, dropout=0.0,
        )
        model.head_dropout.rate = 0.0  # no random masks: the two runs see the same numbers
        model.compile(keras.optimizers.SGD(0.5), "mse")
        model.build()
    data = tf.data.Dataset.from_tensors((ids, labels)).repeat(2)
    history = model.fit(data, verbose=0).history
    return history, model.crf.transitions.numpy().tolist()

one = step(distribution("default"))
two = step(distribution("mirrored"))
replicas = distribution("mirrored").num_replicas_in_sync
rng = np.random.default_rng(1)
crf_one = crf_step(distribution("default"))
rng = np.random.default_rng(1)
crf_two = crf_step(distribution("mirrored"))
print(json.dumps({"replicas": replicas, "one": one, "two": two, "crf": [crf_one, crf_two]}))
"""


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirrored")
    config = json.dumps(dataclasses.asdict(TRANSLATE))
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, config, str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CI": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    return root, json.loads(lines[-1]), "\n".join(lines)


def test_mirrored_over_two_cpus_computes_what_one_device_computes(mirrored):
    _, steps, _ = mirrored
    assert steps["replicas"] == 2
    (one_history, one_weights), (two_history, two_weights) = steps["one"], steps["two"]
    # uneven real-token counts across the replicas: the global-count loss keeps it exact
    assert two_history["loss"] == pytest.approx(one_history["loss"], rel=1e-5)
    assert two_history["masked_accuracy"] == pytest.approx(one_history["masked_accuracy"], abs=1e-6)
    for ours, theirs in zip(one_weights, two_weights, strict=True):
        np.testing.assert_allclose(np.array(theirs), np.array(ours), atol=1e-5)


def test_a_crf_taggers_mirrored_step_is_the_one_device_step(mirrored):
    _, steps, _ = mirrored
    (one_history, one_crf), (two_history, two_crf) = steps["crf"]
    assert two_history["loss"] == pytest.approx(one_history["loss"], rel=1e-5)
    np.testing.assert_allclose(np.array(two_crf), np.array(one_crf), atol=1e-5)


def test_the_mirrored_recipe_trains_as_the_default_one(mirrored):
    root, _, _ = mirrored
    losses = _losses(root / "mirrored")
    assert all(math.isfinite(loss) for loss in losses) and losses[1] < losses[0]
    # the same global batches, split over the replicas; the step is exact (above), but
    # Adam turns the different summation order's rounding in near-zero gradients into
    # full-size steps, so the two runs drift apart a little (0.9% measured)
    assert losses == pytest.approx(_losses(root / "default"), rel=2e-2)


def test_mirrored_with_xla_on_cpu_is_refused_before_any_file(mirrored):
    root, _, output = mirrored
    assert "jit refused: --jit-compile with --strategy mirrored" in output
    assert not (root / "x").exists()


def test_what_a_mirrored_run_writes_restores_without_a_strategy(mirrored):
    root, _, _ = mirrored
    run = root / "mirrored"
    model = keras.models.load_model(run / "model.keras")
    translator, _ = translation.load_run(str(run))  # built outside any strategy
    fresh = translator.model
    fresh.load_weights(run / "checkpoints" / "best.weights.h5")
    for ours, theirs in zip(model.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(theirs, ours)
    assert len(translator.translate_strings(["3 kilometers"])) == 1


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_two_multi_worker_processes_end_with_identical_weights(tmp_path):
    run_dir = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    args = [
        *("translate", "train", "--preset", "tiny", "--epochs", "2", "--steps-per-epoch", "4"),
        *("--batch-size", "16", "--max-tokens", "16", "--vocab-size", "400"),
        *("--warmup-steps", "10", "--corpus-size", "1500", "--eval-limit", "10"),
        *("--strategy", "multi-worker", "--run-dir", str(run_dir)),
    ]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tf_transformer.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={
                **os.environ,
                "CI": "1",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                ),
            },
        )
        for i in range(2)
    ]
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-3000:]
    assert "exact match" in outputs[0]  # the chief evaluates
    assert "this worker's part is done" in outputs[1]
    other = run_dir / "workers" / "1"
    chief_model = keras.models.load_model(run_dir / "model.keras")
    other_model = keras.models.load_model(other / "model.keras")
    for ours, theirs in zip(chief_model.get_weights(), other_model.get_weights(), strict=True):
        np.testing.assert_array_equal(theirs, ours)
    # both workers fed the same vocabulary; the loss is the cluster's, and it went down
    for side in ("source", "target"):
        model_file = os.path.join("tokenizers", side, "sentencepiece.model")
        assert (run_dir / model_file).read_bytes() == (other / model_file).read_bytes()
    assert _losses(run_dir) == _losses(other)
    assert _losses(run_dir)[1] < _losses(run_dir)[0]


BF16_XLA = ["--mixed-precision", "bf16", "--jit-compile", "--epochs", "1", "--steps-per-epoch"]
TRAIN_TINY = {
    "translate": ["translate", "train", "--preset", "tiny", "--corpus-size", "1500",
                  "--vocab-size", "400", "--max-tokens", "16", "--batch-size", "16"],
    "gpt": ["gpt", "train", "--preset", "gpt_tiny", "--seq-len", "32", "--vocab-size", "500"],
    "bert": ["bert", "pretrain", "--preset", "bert_tiny", "--seq-len", "32"],
    "bert-classify": ["bert", "finetune", "--task", "classify", "--seq-len", "32"],
}  # fmt: skip


@pytest.mark.parametrize("family", ["translate", "gpt", "bert"])
def test_bf16_xla_runs_export_with_a_passing_check(family, tmp_path, capsys):
    """Forced bfloat16 and XLA, on this CPU (under `ONEDNN_MAX_CPU_ISA=AVX2` too: the suite
    then runs bfloat16 on TensorFlow's own kernels, as the CLI does): every family's export
    passes its check against the live bfloat16 model, and its example is the run's own."""
    runs = [(family, tmp_path / family)]
    if family == "bert":  # the pretraining's fill-mask export, then a classifier's
        runs.append(("bert-classify", tmp_path / "classify"))
    for kind, run in runs:
        origin = ["--from", str(tmp_path / "bert")] if kind == "bert-classify" else []
        args = [*TRAIN_TINY[kind], *origin, *BF16_XLA, "4", "--run-dir", str(run)]
        assert cli.main([*args, "--export", str(tmp_path / "models" / kind)]) == 0
        out = capsys.readouterr().out
        assert "conformance check passed" in out
        assert "answers as the run's model" in out and "tolerance 0.02 for bfloat16" in out
        with open(run / "config.json") as handle:
            config = json.load(handle)
        assert config["precision"]["policy"] == "mixed_bfloat16"
        curl = next(line for line in out.splitlines() if "curl -d" in line)
        assert json.dumps({"instances": [config["examples"][0]]}) in curl
