import dataclasses

import pytest

from pipelines.corpora import vocab_sample
from pipelines.runs import read_config, write_config
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


def test_every_recipe_shares_one_run_options_class_kept_under_run(tmp_path):
    import json

    from pipelines.causal_lm import GPTConfig
    from pipelines.finetuning import FinetuneConfig
    from pipelines.masked_lm import PretrainConfig
    from pipelines.runs import RunOptions
    from pipelines.translation import TranslateConfig

    shared = {field.name for field in dataclasses.fields(RunOptions)}
    assert {"seed", "strategy", "mixed_precision", "backup_every", "init_from"} <= shared
    for cls in (TranslateConfig, GPTConfig, PretrainConfig, FinetuneConfig):
        assert issubclass(cls, RunOptions)
        config = cls(seed=7, backup_every=5)
        run_dir = str(tmp_path / cls.__name__)
        write_config(run_dir, config, precision={"policy": "float32"})
        with open(f"{run_dir}/config.json") as handle:
            saved = json.load(handle)
        assert set(saved["run"]) == shared and saved["run"]["seed"] == 7
        assert not shared & (set(saved) - {"run"})  # in one place only
        assert read_config(cls, run_dir) == config
        # as written before the options had their key: flat, next to the recipe's own
        flat = {**{k: v for k, v in saved.items() if k != "run"}, **saved["run"]}
        with open(f"{run_dir}/config.json", "w") as handle:
            json.dump(flat, handle)
        assert read_config(cls, run_dir) == config
