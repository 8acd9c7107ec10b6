import os
import subprocess
import sys

import numpy as np
import pytest

from tests.serving.conftest import in_process
from tf_transformer import cli
from tf_transformer.serving import conformance
from tf_transformer.serving.conformance import ConformanceError, check_export
from tf_transformer.serving.export import export_translator, next_version, write_archive

# Unicode's White_Space property (PropList.txt), each character alone and all of them
WHITE_SPACE = [
    *"\t\n\x0b\x0c\r \x85\xa0\u1680",
    *(chr(c) for c in range(0x2000, 0x200B)),
    *"\u2028\u2029\u202f\u205f\u3000",
]
BLANK_INPUTS = ["", "   ", "\t\n", *WHITE_SPACE, "".join(WHITE_SPACE)]
HARD_INPUTS = [
    "",
    "\u00a0\u3000",
    " ".join(["kilometers"] * 5000),  # truncated to the model's max length
    "🙂🙂 Здравствуйте, 東京 ☃",  # emoji and scripts the vocabulary never saw
    "Saturday, June 9, 1984",
]


def test_served_outputs_equal_in_process_outputs_on_hard_and_blank_inputs(translator, exported):
    """One C API run for all: hard inputs, a batch of 64, and blank sources, which
    translate to empty strings in every signature; the report names the ops. The fixture's
    model is untrained: it invents text for anything, so an empty answer to a blank source
    comes from the graph, not from what a model happened to learn."""
    texts = [*HARD_INPUTS, *(f"{i} kilometers" for i in range(64)), *BLANK_INPUTS]
    texts.append("Saturday, June 9, 1984")
    blanks = slice(len(texts) - len(BLANK_INPUTS) - 1, -1)
    requests, expected = [], []
    for name, beam_size in (("serving_default", 1), ("beam_search", 4)):
        outputs = in_process(translator, texts, beam_size=beam_size)
        assert list(outputs[blanks]) == [b""] * len(BLANK_INPUTS)
        assert outputs[-1] != b""
        requests.append((name, {"text": texts}))
        expected.append({"translation": outputs})
    report = check_export(exported, requests, expected)
    for _, _, outputs in report.compared:  # the C API answers blanks with empty strings
        assert outputs["translation"].shape == (len(texts),)
        assert list(outputs["translation"][blanks]) == [b""] * len(BLANK_INPUTS)
    signature = report.signatures["serving_default"]
    assert signature["inputs"]["text"]["dtype"] == "string"
    assert signature["inputs"]["text"]["shape"] == [-1]  # batch-first: [None]
    assert signature["outputs"]["translation"]["shape"] == [-1]
    assert {"SentencepieceOp", "While"} <= set(report.ops) or "StatelessWhile" in report.ops
    # the report names the ops and where they come from
    assert report.op_sources["SentencepieceOp"].startswith("_sentencepiece_tokenizer")
    assert report.op_sources["MatMul"] == "core"
    assert set(report.op_sources) == set(report.ops)
    lines = "\n".join(report.lines())
    assert "TF Text (SentencepieceDetokenizeOp" in lines
    assert "saved_model_cli show --all" in lines and "warmup: the 3 requests" in lines


def test_conformance_check_fails_when_outputs_differ(translator, exported):
    texts = ["3 kilometers"]
    wrong = [{"translation": np.array([b"not what the model says"], dtype=object)}]
    with pytest.raises(ConformanceError, match=r"serving_default/translation\[0\]"):
        check_export(exported, [("serving_default", {"text": texts})], wrong)


def test_default_check_compares_with_the_python_reload(exported):
    report = check_export(exported)
    names = [name for name, _, _ in report.compared]
    assert names == ["beam_search", "next_token", "serving_default"]
    assert len(report.compared[0][1]["text"]) == len(conformance.SAMPLE_TEXTS)


def test_the_runner_imports_neither_tensorflow_nor_this_project(exported, tmp_path, monkeypatch):
    for package in ("tensorflow", "tf_transformer", "keras"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(
            f"raise ImportError('{package} must not be imported by the C API runner')"
        )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    answer = conformance.run_capi(exported, [("serving_default", {"text": ["1 kilometer"]})])
    assert answer["results"][0]["translation"].shape == (1,)


def test_versions_are_written_atomically_and_never_overwritten(translator, tmp_path):
    model_dir = tmp_path / "translator"
    assert next_version(str(model_dir)) == 1
    (model_dir / "7").mkdir(parents=True)
    (model_dir / "notes").mkdir()
    assert next_version(str(model_dir)) == 8

    class Broken:
        def write_out(self, path, verbose=False):
            os.makedirs(path)
            open(os.path.join(path, "saved_model.pb"), "w").close()
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_archive(Broken(), str(model_dir))
    assert sorted(os.listdir(model_dir)) == ["7", "notes"]  # no half-written version
    with pytest.raises(FileExistsError):
        write_archive(Broken(), str(model_dir), version=7)
    path = export_translator(translator, str(model_dir))
    assert path == str(model_dir / "8")
    assert sorted(os.listdir(model_dir)) == ["7", "8", "notes"]
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))


@pytest.mark.slow  # the whole check through the CLI, 16 s: `make test-slow`
def test_cli_serving_check(exported, capsys):
    assert cli.main(["serving", "check", exported]) == 0
    out = capsys.readouterr().out
    assert "TF_LoadSessionFromSavedModel" in out and "conformance check passed" in out


def test_cli_serving_check_on_a_directory_that_is_no_export(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tf_transformer", "serving", "check", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("tf-transformer: error:")
    assert "not a SavedModel" in result.stderr and "Traceback" not in result.stderr
