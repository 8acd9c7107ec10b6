import json

import numpy as np
import pytest

from tf_transformer import cli, plotting


@pytest.fixture
def figures(monkeypatch):
    """The figures the plotting functions close, kept for inspection."""
    closed = []
    monkeypatch.setattr(plotting.plt, "close", closed.append)
    return closed


def labels(axis):
    return axis.get_xlabel(), axis.get_ylabel()


def test_positional_encoding_picture(tmp_path, figures, capsys):
    out = tmp_path / "pe.png"
    assert (
        cli.main(
            ["plot", "positional-encoding", "--length", "64", "--depth", "32", "--out", str(out)]
        )
        == 0
    )
    assert out.stat().st_size > 5000 and f"wrote {out}" in capsys.readouterr().out
    axis = figures[0].axes[0]
    assert labels(axis) == ("position", "depth (sin on even, cos on odd dimensions)")
    mesh = axis.collections[0].get_array().reshape(32, 64)  # depth x position
    np.testing.assert_allclose(mesh[:, 0], np.tile([0.0, 1.0], 16), atol=1e-6)


def test_schedule_picture_peaks_at_the_warmup_step(tmp_path, figures, capsys):
    out = tmp_path / "lr.png"
    argv = ["plot", "schedule", "--d-model", "128", "--warmup-steps", "100", "--steps", "1000"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    assert "peak 0.00884 at step 100" in capsys.readouterr().out  # 128^-0.5 * 100^-0.5
    steps, rates = figures[0].axes[0].lines[0].get_data()
    assert steps[0] == 1 and int(steps[np.argmax(rates)]) == 100
    assert labels(figures[0].axes[0]) == ("training step", "learning rate")


def test_schedule_picture_with_a_cooldown_ends_at_zero(tmp_path, figures, capsys):
    out = tmp_path / "lr.png"
    argv = ["plot", "schedule", "--warmup-steps", "100", "--steps", "1000", "--cooldown", "0.5"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    assert "peak 0.00884 at step 100" in capsys.readouterr().out
    steps, rates = figures[0].axes[0].lines[0].get_data()
    # the last 500 steps fall on a line to 0 one step past the run: 1/501 at step 1,000
    assert rates[-1] == pytest.approx(128**-0.5 * 1000**-0.5 / 501, rel=1e-5)
    assert rates[499] == pytest.approx(128**-0.5 * 500**-0.5, rel=1e-5)
    assert (
        figures[0].axes[0].get_title() == "warm-up 100 steps, cool-down 500 of 1,000 (d_model 128)"
    )


def test_training_curves_from_a_history(tmp_path, figures):
    (tmp_path / "config.json").write_text(json.dumps({"family": "gpt"}))
    (tmp_path / "model.keras").write_text("")  # a finished run of any family
    (tmp_path / "history.json").write_text(
        json.dumps(
            {"loss": [2.0, 1.0, 0.5], "val_loss": [2.1, 1.2, 0.9], "accuracy": [0.2, 0.5, 0.7]}
        )
    )
    assert cli.main(["plot", "curves", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 0
    panels = figures[0].axes
    assert [labels(axis) for axis in panels] == [("epoch", "accuracy"), ("epoch", "loss")]
    assert [line.get_label() for line in panels[1].lines] == ["training", "validation"]
    assert list(panels[1].lines[1].get_ydata()) == [2.1, 1.2, 0.9]


def test_attention_heads_put_tokens_on_the_axes(tmp_path, figures):
    attention = np.random.default_rng(0).random((2, 3, 4))
    plotting.plot_attention_heads(
        ["a", "b", "c", "d"], ["x", "y", "z"], attention, tmp_path / "a.png"
    )
    first = figures[0].axes[0]
    assert [t.get_text() for t in first.get_xticklabels()] == ["a", "b", "c", "d"]
    assert [t.get_text() for t in first.get_yticklabels()] == ["x", "y", "z"]
    assert first.get_xlabel() == "Head 1 (source tokens)" and first.get_ylabel() == "target tokens"


def test_bad_plot_requests_exit_2(tmp_path, capsys):
    assert cli.main(["plot", "curves", str(tmp_path)]) == 2
    assert f"{tmp_path}: an empty directory" in capsys.readouterr().err
    assert cli.main(["plot", "attention", str(tmp_path), "hello"]) == 2
    assert cli.main(["plot", "schedule", "--warmup-steps", "0"]) == 2
    assert cli.main(["plot", "schedule", "--cooldown", "2", "--out", str(tmp_path / "x.png")]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("--cooldown: the cool-down is a fraction of the run, 0 to 1; got 2.0")
    )
    assert not list(tmp_path.iterdir())


def test_learning_curve_draws_each_start_on_a_log_axis(tmp_path, figures):
    curves = {"scratch": [(500, 0.5), (2000, 0.6), (67349, 0.8)], "pretrained": [(500, 0.7)]}
    out = tmp_path / "curve.png"
    plotting.plot_learning_curve(curves, str(out), title="t", subtitle="spec")
    assert out.stat().st_size > 5000
    axis = figures[0].axes[0]
    assert axis.get_xscale() == "log" and axis.get_title() == "spec"
    lines = {line.get_label(): line for line in axis.get_lines()}
    np.testing.assert_array_equal(lines["scratch"].get_xdata(), [500, 2000, 67349])
    np.testing.assert_allclose(lines["scratch"].get_ydata(), [50, 60, 80])
    texts = {text.get_text(): text for text in axis.texts}
    assert set(texts) == {"50.0", "60.0", "80.0", "70.0"}
    # at 500 the better start is labelled above its point, the other below
    assert texts["70.0"].xyann[1] > 0 > texts["50.0"].xyann[1]
