"""`<family> explain` on bad input: one line, exit 2, nothing written."""

import json
import os

import pytest

from tf_transformer import cli
from tf_transformer.cli import explain


@pytest.fixture()
def gpt_run(tmp_path):
    """A directory that reads as a finished GPT run, as far as the checks before loading go."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"family": "gpt", "max_new_tokens": 8}))
    (run / "model.keras").write_text("")
    return run


def _fails(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tf-transformer: error:"), err
    assert message in err[0]


def test_a_run_of_another_family(gpt_run, capsys):
    before = sorted(os.listdir(gpt_run))
    for family in ("translate", "bert"):
        _fails(capsys, [family, "explain", str(gpt_run), "a text"], "is a gpt run, not a")
    assert sorted(os.listdir(gpt_run)) == before


def test_an_empty_text_reference_or_pair(gpt_run, capsys):
    _fails(capsys, ["gpt", "explain", str(gpt_run), "  "], "the text to explain is empty")
    _fails(capsys, ["translate", "explain", str(gpt_run), "a", "--reference", ""], "--reference")
    _fails(capsys, ["bert", "explain", str(gpt_run), "a", "--pair", " "], "--pair is empty")
    assert sorted(os.listdir(gpt_run)) == ["config.json", "model.keras"]


def test_an_out_that_cannot_be_written(gpt_run, tmp_path, capsys):
    argv = ["gpt", "explain", str(gpt_run), "a text", "--out"]
    _fails(capsys, [*argv, str(tmp_path / "missing" / "page.html")], "no such directory")
    _fails(capsys, [*argv, str(tmp_path)], "is a directory")
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    _fails(capsys, [*argv, str(mine)], "exists and is not an explain page")
    assert mine.read_text() == "<p>my notes</p>"


def test_an_out_in_a_directory_that_cannot_be_written(gpt_run, tmp_path, capsys, monkeypatch):
    # as a user without write permission sees it (root, who runs CI, may write anywhere)
    monkeypatch.setattr(explain.os, "access", lambda path, mode: False)
    argv = ["gpt", "explain", str(gpt_run), "a text", "--out", str(tmp_path / "page.html")]
    _fails(capsys, argv, "cannot be written")
    assert not (tmp_path / "page.html").exists()


def test_a_bad_seq_len(gpt_run):  # a text over the length: test_causal_lm_recipe (a real run)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["gpt", "explain", str(gpt_run), "a", "--seq-len", "0"])
    assert exit_info.value.code == 2


def test_training_ends_with_the_command_that_explains_one_of_the_runs_texts(gpt_run, capsys):
    from tf_transformer.cli.explain import print_explain_hint

    config = json.loads((gpt_run / "config.json").read_text())
    (gpt_run / "config.json").write_text(json.dumps({**config, "examples": ["it's ROMEO:"]}))
    print_explain_hint("gpt", str(gpt_run))
    assert capsys.readouterr().out.splitlines() == [
        "see inside it (one offline HTML page):",
        f"  tf-transformer gpt explain {gpt_run} 'it'\"'\"'s ROMEO:'",
    ]
    (gpt_run / "config.json").write_text(json.dumps({**config, "examples": [["a", "b c"]]}))
    print_explain_hint("bert", str(gpt_run))
    assert (
        capsys.readouterr().out.splitlines()[1].endswith("explain " + f"{gpt_run} a --pair 'b c'")
    )
