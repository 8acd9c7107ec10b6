import keras
import numpy as np
import pytest

from tf_transformer.models import Transformer
from tf_transformer.training import (
    CustomSchedule,
    MaskedLoss,
    TimeBudget,
    cooldown_steps,
    fitting_warmup,
    masked_accuracy,
    masked_loss,
    transformer_optimizer,
)
from tf_transformer.training.schedules import paper_peak, run_schedule, schedule_of


@pytest.mark.parametrize("step", [1, 10, 100, 3999, 4000, 4001, 10_000, 100_000])
def test_schedule_equals_the_paper_formula(step):
    schedule = CustomSchedule(d_model=512, warmup_steps=4000)
    expected = 512**-0.5 * min(step**-0.5, step * 4000**-1.5)
    # the optimizer's iteration i is the paper's step i + 1
    assert float(schedule(step - 1)) == pytest.approx(expected, rel=1e-5)


def test_schedule_peaks_at_the_end_of_warmup_and_round_trips():
    schedule = CustomSchedule(d_model=128, warmup_steps=100)
    rates = [float(schedule(i)) for i in range(300)]
    assert int(np.argmax(rates)) == 99
    again = CustomSchedule.from_config(schedule.get_config())
    assert float(again(50)) == rates[50]


@pytest.mark.parametrize("step", [1, 50, 914, 915, 3656, 10_000])
def test_a_given_peak_scales_the_papers_shape(step):
    """`peak` sets the rate at the end of the warm-up, the shape stays the paper's: a
    warm-up shortened to 914 steps that keeps the peak of 4,000."""
    peak = paper_peak(128, 4000)
    schedule = CustomSchedule(d_model=128, warmup_steps=914, peak=peak)
    expected = peak * min(step / 914, (914 / step) ** 0.5)
    assert float(schedule(step - 1)) == pytest.approx(expected, rel=1e-5)
    again = CustomSchedule.from_config(schedule.get_config())
    assert float(again(step - 1)) == float(schedule(step - 1))
    paper = CustomSchedule(d_model=128, warmup_steps=914, peak=paper_peak(128, 914))
    assert float(paper(step - 1)) == pytest.approx(
        float(CustomSchedule(128, 914)(step - 1)), rel=1e-6
    )


def test_the_fitting_warmup_ends_before_the_cooldown_starts():
    assert fitting_warmup(4570) == (4000, "4,000 steps, within the run's 4,570")
    steps, reason = fitting_warmup(1000)
    assert steps == 900
    assert reason == (
        "900 steps (up to 90% of the run's 1,000), to the peak of the paper's 4,000 (which "
        "the run of 1,000 steps would not reach)"
    )
    # the Multi30K run: 4,570 steps, the last 914 cool down, so the warm-up ends at 3,656
    steps, reason = fitting_warmup(4570, cooldown=914)
    assert steps == 3656 and reason.startswith("3,656 steps (up to the cool-down's start)")
    assert fitting_warmup(5000, cooldown=1000) == (4000, "4,000 steps, within the run's 5,000")


@pytest.mark.parametrize("step", [1, 900, 3000, 3001, 3002, 4000, 4569, 4570])
def test_the_cooldown_falls_linearly_toward_zero_one_step_past_the_run(step):
    """The run's last 1,570 of 4,570 steps after a 3,000-step warm-up: the paper's rate
    times (4,570 - step + 1) / 1,571."""
    peak = paper_peak(128, 4000)
    schedule = CustomSchedule(128, 3000, peak, total_steps=4570, cooldown_steps=1570)
    paper = peak * min(step / 3000, (3000 / step) ** 0.5)
    expected = paper * min(1.0, (4570 - step + 1) / 1571)
    assert float(schedule(step - 1)) == pytest.approx(expected, rel=1e-5)
    again = CustomSchedule.from_config(schedule.get_config())
    assert float(again(step - 1)) == float(schedule(step - 1))


def test_every_cooldown_step_is_slower_and_the_run_ends_above_zero():
    schedule = CustomSchedule(128, 10, None, total_steps=100, cooldown_steps=20)
    rates = [float(schedule(i)) for i in range(110)]
    assert all(rate > 0 for rate in rates[:100])  # the last update (step 100) still moves
    assert rates[100:] == [0.0] * 10
    assert rates[79] > rates[80] > rates[81]  # step 81 is the first of the last 20
    assert rates[79] == float(CustomSchedule(128, 10)(79))
    assert rates[99] == pytest.approx(float(CustomSchedule(128, 10)(99)) / 21, rel=1e-6)
    # a one-step cool-down halves the last update (it used to leave it as it was)
    one = CustomSchedule(128, 10, None, total_steps=100, cooldown_steps=1)
    assert float(one(99)) == pytest.approx(float(CustomSchedule(128, 10)(99)) / 2, rel=1e-6)
    assert float(one(98)) == float(CustomSchedule(128, 10)(98))
    assert cooldown_steps(4570) == 914 and cooldown_steps(4570, 0.0) == 0
    assert cooldown_steps(10, 1.0) == 9  # never the whole run: its first step warms up
    with pytest.raises(ValueError, match="needs total_steps"):
        CustomSchedule(128, 10, cooldown_steps=5)
    with pytest.raises(ValueError, match="fraction of the run, 0 to 1; got 1.5"):
        cooldown_steps(100, 1.5)


RUN_LENGTHS = [1, 2, 3, 4, 5, 7, 10, 50, 99, 1000, 4570, 4999, 5000, 5001, 20_000]


@pytest.mark.parametrize("cooldown", [0.0, 0.2, 0.5, 1.0])
@pytest.mark.parametrize("total", RUN_LENGTHS)
def test_the_recorded_peak_is_the_highest_rate_of_every_run(total, cooldown):
    """Over every step of a run, the schedule's highest rate is the recorded peak, reached
    at the warm-up's last step, and the last step's rate is the cool-down line's end."""
    record = run_schedule(128, total, cooldown)
    rates = np.asarray(schedule_of(128, record)(np.arange(total)))
    assert rates.max() == pytest.approx(record["peak_learning_rate"], rel=1e-5)
    assert int(np.argmax(rates)) + 1 == record["warmup_steps"]
    assert record["warmup_steps"] <= total - record["cooldown_steps"]
    paper = record["peak_learning_rate"] * min(
        total / record["warmup_steps"], (record["warmup_steps"] / total) ** 0.5
    )
    last = paper / (record["cooldown_steps"] + 1) if record["cooldown_steps"] else paper
    assert rates[-1] == pytest.approx(last, rel=1e-5)


def test_a_given_warmup_is_fitted_too_and_keeps_its_peak():
    record = run_schedule(128, 1000, 0.2, warmup_steps=800)
    assert (record["warmup_steps"], record["cooldown_steps"]) == (800, 200)
    assert record["peak_learning_rate"] == pytest.approx(paper_peak(128, 800))
    record = run_schedule(128, 1000, 0.2, warmup_steps=2000, peak=1e-3)
    assert (record["warmup_steps"], record["peak_learning_rate"]) == (800, 1e-3)
    assert record["reason"].startswith("--warmup-steps 800 steps (up to the cool-down's start)")


def test_optimizer_has_the_paper_hyperparameters():
    optimizer = transformer_optimizer(d_model=512)
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.9, 0.98, 1e-9)
    assert isinstance(optimizer._learning_rate, CustomSchedule)
    assert float(optimizer.learning_rate) == pytest.approx(512**-0.5 * 4000**-1.5)


def numpy_cross_entropy(labels, logits, smoothing=0.0):
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    vocab = logits.shape[-1]
    targets = np.eye(vocab)[labels] * (1 - smoothing) + smoothing / vocab
    return -(targets * log_probs).sum(-1)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_masked_loss_is_the_mean_over_real_tokens(smoothing):
    rng = np.random.default_rng(0)
    labels = np.array([[4, 7, 1, 0, 0], [3, 0, 0, 0, 0]])
    logits = rng.normal(size=(2, 5, 9)).astype("float32")
    loss = float(masked_loss(labels, logits, smoothing))
    per_token = numpy_cross_entropy(labels, logits, smoothing)
    assert loss == pytest.approx(per_token[labels != 0].mean(), rel=1e-5)

    # appending [PAD] positions (with any logits) leaves the loss unchanged
    padded_labels = np.pad(labels, ((0, 0), (0, 3)))
    padded_logits = np.concatenate([logits, rng.normal(size=(2, 3, 9)).astype("float32")], 1)
    assert float(masked_loss(padded_labels, padded_logits, smoothing)) == pytest.approx(
        loss, rel=1e-6
    )
    assert float(MaskedLoss(smoothing)(padded_labels, padded_logits)) == pytest.approx(
        loss, rel=1e-6
    )


@pytest.mark.parametrize("shape", [(7,), (3, 5)])
def test_sparse_cross_entropy_and_its_gradient_are_the_softmax_formulas(shape):
    import tensorflow as tf

    from tf_transformer.training.losses import sparse_cross_entropy

    rng = np.random.default_rng(1)
    vocab = 11
    labels = rng.integers(0, vocab, size=shape)
    logits = tf.constant(rng.normal(scale=4.0, size=(*shape, vocab)).astype("float32"))
    weights = tf.constant(rng.normal(size=shape).astype("float32"))  # any upstream gradient
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = sparse_cross_entropy(labels, logits)
        weighted = tf.reduce_sum(loss * weights)
    gradient = tape.gradient(weighted, logits).numpy()

    np.testing.assert_allclose(loss.numpy(), numpy_cross_entropy(labels, logits.numpy()), 1e-5)
    shifted = logits.numpy() - logits.numpy().max(-1, keepdims=True)
    softmax = np.exp(shifted) / np.exp(shifted).sum(-1, keepdims=True)
    expected = (softmax - np.eye(vocab)[labels]) * weights.numpy()[..., None]
    np.testing.assert_allclose(gradient, expected, atol=1e-6)
    # the same values and gradient as Keras' cross-entropy, on logits far from zero too
    with tf.GradientTape() as tape:
        tape.watch(logits)
        reference = keras.losses.sparse_categorical_crossentropy(
            labels, logits + 50.0, from_logits=True
        )
        reference_weighted = tf.reduce_sum(reference * weights)
    np.testing.assert_allclose(sparse_cross_entropy(labels, logits + 50.0), reference, 1e-5)
    np.testing.assert_allclose(tape.gradient(reference_weighted, logits), gradient, atol=1e-6)


def test_masked_accuracy_counts_real_tokens_only():
    labels = np.array([[1, 2, 0], [3, 0, 0]])
    logits = np.zeros((2, 3, 4), "float32")
    logits[0, 0, 1] = logits[0, 1, 3] = logits[1, 0, 3] = 1.0  # right, wrong, right
    logits[0, 2, 0] = 5.0  # a "correct" pad prediction, which must not count
    assert float(masked_accuracy(labels, logits)) == pytest.approx(2 / 3)


def test_best_checkpoint_saves_only_improvements_through_a_rename(tmp_path, monkeypatch):
    from tf_transformer.training import BestCheckpoint

    model = Transformer.from_preset("tiny", input_vocab_size=20, target_vocab_size=20)
    model.build(((None, None), (None, None)))
    path = str(tmp_path / "checkpoints" / "best.weights.h5")
    checkpoint = BestCheckpoint(path, monitor="val_loss", best=2.0)
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"val_loss": 2.5})  # worse than the resumed best: no file
    assert not (tmp_path / "checkpoints").exists()
    checkpoint.on_epoch_end(1, {"val_loss": 1.5})
    assert checkpoint.best == 1.5 and (tmp_path / "checkpoints" / "best.weights.h5").exists()
    before = (tmp_path / "checkpoints" / "best.weights.h5").read_bytes()

    def crash(*args, **kwargs):
        with open(args[0], "wb") as handle:
            handle.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model, "save_weights", crash)
    with pytest.raises(ValueError, match="No space left on device; its last version is intact"):
        checkpoint.on_epoch_end(2, {"val_loss": 1.0})
    assert (tmp_path / "checkpoints" / "best.weights.h5").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.weights.h5"]


def test_time_budget_stops_mid_epoch_and_still_validates(monkeypatch):
    """A budget spent during the third step of the second epoch: training stops after
    that step, the epoch's validation still runs, and fit returns normally."""
    clock = iter(range(1000))  # every call to the clock is one second later
    monkeypatch.setattr("tf_transformer.training.callbacks.time.monotonic", lambda: next(clock))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((40, 3)), np.ones((40, 1))
    lines = []
    budget = TimeBudget(7.5, log=lines.append)  # the clock reads 8 after the 8th step
    history = model.fit(
        x, y, batch_size=8, epochs=5, validation_data=(x, y), callbacks=[budget], verbose=0
    )
    assert budget.stopped_at == (2, 3)  # 5 steps an epoch: step 8 is epoch 2, step 3
    assert len(history.history["val_loss"]) == 2
    assert lines == ["\ntime budget of 8 s reached: training stops after step 3 of epoch 2"]
