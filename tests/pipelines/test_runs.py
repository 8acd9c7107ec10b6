import dataclasses

import pytest

from pipelines.runs import read_config, vocab_sample, write_config
from tf_transformer import cli


def test_vocab_sample_is_bounded_evenly_spaced_and_keeps_small_corpora_whole():
    texts = [f"text {i}" for i in range(1000)]
    assert vocab_sample(texts, 2000) is texts
    sample = vocab_sample(texts, 100)
    assert len(sample) == 100 and sample[0] == "text 0" and sample[1] == "text 10"
    assert sample[-1] == "text 990"


def test_config_json_keeps_what_the_run_chose_and_reads_back(tmp_path):
    @dataclasses.dataclass
    class Config:
        preset: str = "tiny"
        epochs: int = 1

    write_config(str(tmp_path), Config(epochs=3), precision={"policy": "float32"})
    assert read_config(Config, str(tmp_path)) == Config(epochs=3)


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_vocab_sample_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["translate", "train", "--vocab-sample", value])
    assert exit_info.value.code == 2
    assert "--vocab-sample" in capsys.readouterr().err
