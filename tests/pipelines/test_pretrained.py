"""`gpt import` / `bert import`: published checkpoints (here: random KerasHub models saved
as presets, and a Hugging Face directory, since nothing can be downloaded) become runs
that generate as KerasHub does, export with hostile prompts checked, continue training
and fine-tune."""

import json
import os

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
import tokenizers

from pipelines import causal_lm
from tests.models.keras_hub_oracle import randomized
from tests.models.numpy_reference import gpt2_greedy, random_gpt2
from tests.models.test_hugging_face import (
    GPT2_CONFIG,
    bert_checkpoint,
    gpt2_checkpoint,
    weights_of,
    write,
)
from tests.text.test_checkpoint_tokenizers import BERT_VOCAB, tiny_bpe
from tf_transformer import cli
from tf_transformer.text import BertVocabTokenizer, BytePairTokenizer, load_tokenizer
from tf_transformer.text.byte_pair_tokenizer import END_OF_TEXT

# end-to-end runs: `make test-slow` (with `make test`, in `.ci/run`)
pytestmark = pytest.mark.slow

SMALL = dict(num_layers=2, num_heads=4, hidden_dim=64, intermediate_dim=96, dropout=0.0)
PROMPTS = ["the cat", "hello world, new", "", "😀 aren't"]


def bpe(size=None):
    """The tiny BPE's vocabulary and merges, cut to `size` tokens (`<|endoftext|>` last)."""
    vocab, merges = tiny_bpe()
    if size is None:
        return vocab, merges
    kept = size - 257  # the byte characters and <|endoftext|>
    return vocab[:-1][: size - 1] + [END_OF_TEXT], merges[:kept]


@pytest.fixture(scope="module")
def gpt_preset(tmp_path_factory):
    """A random GPT-2 and its tokenizer saved as a KerasHub preset directory."""
    vocab, merges = bpe()
    keras.utils.set_random_seed(11)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(vocab), max_sequence_length=48, **SMALL
    )
    backbone = randomized(backbone)
    # <|endoftext|>'s embedding (the tied output row) at zero: otherwise the random model
    # happens to end every completion at once, and the comparison would be of nothing
    embeddings = backbone.token_embedding.embeddings
    embeddings.assign(np.where(np.arange(len(vocab))[:, None] == len(vocab) - 1, 0.0, embeddings))
    tokenizer = keras_hub.models.GPT2Tokenizer(
        vocabulary={token: i for i, token in enumerate(vocab)},
        merges=[f"{a} {b}" for a, b in merges],
    )
    directory = str(tmp_path_factory.mktemp("presets") / "gpt2_tiny")
    backbone.save_to_preset(directory)
    tokenizer.save_to_preset(directory)
    return directory, backbone


@pytest.fixture(scope="module")
def gpt_run(gpt_preset, tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("runs") / "gpt2")
    assert cli.main(["gpt", "import", gpt_preset[0], "--run-dir", run_dir]) == 0
    return run_dir


def keras_hub_greedy(backbone, prompt_ids, new_tokens):
    """KerasHub's `GPT2CausalLM.generate` with its greedy sampler on right-padded ids."""
    model = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    model.compile(sampler="greedy")
    width = max(len(p) for p in prompt_ids) + new_tokens
    ids = np.zeros((len(prompt_ids), width), "int32")
    mask = np.zeros((len(prompt_ids), width), bool)
    for row, prompt in enumerate(prompt_ids):
        ids[row, : len(prompt)], mask[row, : len(prompt)] = prompt, True
    out = model.generate({"token_ids": ids, "padding_mask": mask}, stop_token_ids=None)
    return [
        list(out["token_ids"][row, len(p) : len(p) + new_tokens])
        for row, p in enumerate(prompt_ids)
    ]


def until_end(tokens, end):
    tokens = [int(t) for t in tokens]
    return tokens[: tokens.index(end) + 1] if end in tokens else tokens


def test_imported_gpt2_generates_keras_hubs_greedy_tokens(gpt_preset, gpt_run):
    generator, config = causal_lm.load_run(gpt_run)
    assert isinstance(generator.tokenizer, BytePairTokenizer)
    assert config.architecture["activation"] == "gelu_tanh"
    end = generator.tokenizer.end_id
    ours = generator.token_ids(tf.constant(PROMPTS), max_new_tokens=12, temperature=0.0)
    # KerasHub's preprocessor starts a prompt with <|endoftext|>, as our generator does
    prompt_ids = [[end] + row for row in generator.tokenizer.tokenize(PROMPTS).to_list()]
    theirs = keras_hub_greedy(gpt_preset[1], prompt_ids, 12)
    for mine, hub in zip(ours.numpy(), theirs, strict=True):
        assert until_end(mine, end) == until_end(hub, end)
    assert sum(len(until_end(row, end)) for row in theirs) > 2 * len(PROMPTS)  # not all [END]


def test_imported_gpt2_exports_and_passes_the_hostile_check(gpt_run, tmp_path, capsys):
    model_dir = str(tmp_path / "gpt2")
    assert cli.main(["gpt", "export", gpt_run, "--model-dir", model_dir]) == 0
    out = capsys.readouterr().out
    assert "conformance check passed" in out and os.path.isdir(os.path.join(model_dir, "1"))
    page = str(tmp_path / "page.html")  # and the explain page reads it as it reads our runs
    assert cli.main(["gpt", "explain", gpt_run, PROMPTS[0], "--out", page]) == 0
    assert "check passed" in capsys.readouterr().out and os.path.getsize(page) > 10_000


def test_a_hugging_face_gpt2_directory_imports_and_trains_on(tmp_path, capsys):
    weights, _ = weights_of(
        keras_hub.models.GPT2Backbone(vocabulary_size=300, max_sequence_length=40, **SMALL)
    )
    checkpoint = tmp_path / "hf"
    write(checkpoint, GPT2_CONFIG, gpt2_checkpoint(weights))
    vocab, merges = bpe(300)
    (checkpoint / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (checkpoint / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
    )
    run_dir = str(tmp_path / "imported")
    assert cli.main(["gpt", "import", str(checkpoint), "--run-dir", run_dir]) == 0
    continued = str(tmp_path / "continued")
    args = ["gpt", "train", "--init-from", run_dir, "--run-dir", continued, "--epochs", "1"]
    args += ["--steps-per-epoch", "3", "--seq-len", "32", "--batch-size", "4"]
    assert cli.main([*args, "--mixed-precision", "float32"]) == 0
    with open(os.path.join(continued, "config.json")) as handle:
        config = json.load(handle)
    assert config["architecture"]["max_length"] == 40 and config["vocab_size"] == 300
    assert os.listdir(os.path.join(continued, "tokenizer")) == ["byte_pair.json"]
    capsys.readouterr()
    (checkpoint / "merges.txt").unlink()
    assert cli.main(["gpt", "import", str(checkpoint), "--run-dir", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("no GPT-2 tokenizer (vocab.json and merges.txt, or tokenizer.json)")
    assert len(err.splitlines()) == 1 and not os.path.exists(tmp_path / "x")


def test_imported_bert_fine_tunes_and_exports(tmp_path, capsys):
    keras.utils.set_random_seed(12)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(BERT_VOCAB), max_sequence_length=64, **SMALL
    )
    backbone = randomized(backbone)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=BERT_VOCAB, lowercase=True)
    preset = str(tmp_path / "bert_tiny")
    backbone.save_to_preset(preset)
    tokenizer.save_to_preset(preset)
    imported = str(tmp_path / "imported")
    assert cli.main(["bert", "import", preset, "--run-dir", imported]) == 0
    ours = load_tokenizer(os.path.join(imported, "tokenizer"))
    assert isinstance(ours, BertVocabTokenizer) and ours.lowercase
    assert (ours.start_id, ours.end_id, ours.mask_id) == (9, 10, 11)

    tuned = str(tmp_path / "tuned")
    args = ["bert", "finetune", "--task", "classify", "--from", imported, "--run-dir", tuned]
    args += ["--epochs", "1", "--steps-per-epoch", "5", "--no-compare", "--seq-len", "32"]
    assert cli.main([*args, "--mixed-precision", "float32"]) == 0
    model_dir = str(tmp_path / "classifier")
    assert cli.main(["bert", "export", tuned, "--model-dir", model_dir]) == 0
    assert "conformance check passed" in capsys.readouterr().out

    assert cli.main(["bert", "export", imported, "--model-dir", model_dir]) == 2
    assert "without a masked-LM head" in capsys.readouterr().err

    # pairs: [CLS] a [SEP] b [SEP] with the checkpoint's own (trained) segment table
    words = [w for w in BERT_VOCAB if w.isalpha() and not w.startswith("[")][:6]
    rows = [
        f"{i % 2}\t{words[i % 6]} {words[(i + 1) % 6]}\t{words[(i + 2) % 6]}" for i in range(40)
    ]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("label\ta\tb\n" + "\n".join(rows) + "\n")
    paired = str(tmp_path / "paired")
    source = f"tsv:{pairs},label=label,text=a,pair=b,validation=0.2,test=0"
    args = ["bert", "finetune", "--task", "classify", "--from", imported, "--run-dir", paired]
    args += ["--source", source, "--epochs", "1", "--steps-per-epoch", "2", "--no-compare"]
    args += ["--seq-len", "16", "--learning-rate", "1e-9", "--mixed-precision", "float32"]
    assert cli.main(args) == 0
    tuned_table = keras.models.load_model(os.path.join(paired, "model.keras"), compile=False)
    tuned_table = tuned_table.encoder.segment_embedding.embeddings.numpy()
    trained = keras.ops.convert_to_numpy(backbone.get_layer("segment_embedding").embeddings)
    np.testing.assert_allclose(tuned_table, trained, atol=1e-6)
    assert np.abs(trained[1] - trained[0]).max() > 0.01  # two rows, as trained: not one
    assert cli.main(["bert", "export", paired, "--model-dir", str(tmp_path / "pairs")]) == 0
    assert "(pair: string[-1], text: string[-1])" in capsys.readouterr().out


def test_a_hugging_face_bert_with_its_head_exports_fill_mask(tmp_path, capsys):
    tensors, config, _ = bert_checkpoint()
    rng = np.random.default_rng(6)
    d = config["hidden_size"]
    head = {
        "transform.dense.weight": rng.normal(0, 0.3, (d, d)),
        "transform.dense.bias": np.zeros(d),
        "transform.LayerNorm.weight": np.ones(d),
        "transform.LayerNorm.bias": np.zeros(d),
        "bias": rng.normal(0, 0.3, config["vocab_size"]),
    }
    tensors |= {f"cls.predictions.{k}": v for k, v in head.items()}
    checkpoint = tmp_path / "bert-base-uncased"
    write(checkpoint, config | {"hidden_act": "gelu"}, tensors)
    unused = [f"[unused{i}]" for i in range(1, 1 + config["vocab_size"] - len(BERT_VOCAB))]
    (checkpoint / "vocab.txt").write_text("\n".join(BERT_VOCAB + unused) + "\n", encoding="utf-8")
    (checkpoint / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    imported = str(tmp_path / "imported")
    assert cli.main(["bert", "import", str(checkpoint), "--run-dir", imported]) == 0
    assert not load_tokenizer(os.path.join(imported, "tokenizer")).lowercase
    model_dir = str(tmp_path / "fill_mask")
    assert cli.main(["bert", "export", imported, "--model-dir", model_dir]) == 0
    assert "conformance check passed" in capsys.readouterr().out
    page = str(tmp_path / "page.html")
    words = [w for w in BERT_VOCAB if w.isalpha()]
    text = f"{words[0]} [MASK] {words[1]}"
    assert cli.main(["bert", "explain", imported, text, "--out", page]) == 0
    assert "check passed" in capsys.readouterr().out and os.path.getsize(page) > 10_000


def test_a_hugging_face_gpt2_generates_as_hugging_face_does_without_a_start_token(tmp_path, capsys):
    """The published `gpt2` layout (no prefix, no `lm_head.weight`), random: the import's
    greedy tokens are the NumPy reference's from the prompt alone (Hugging Face's
    `generate`), or after `<|endoftext|>` with `--prompt-start end`; its export answers
    as the in-process model does."""
    vocab, merges = bpe()
    config = {
        "model_type": "gpt2",
        "vocab_size": len(vocab),
        "n_embd": 32,
        "n_head": 4,
        "n_layer": 2,
        "n_inner": 64,
        "n_positions": 32,
        "layer_norm_epsilon": 1e-5,
        "activation_function": "gelu_new",
    }
    tensors = random_gpt2(np.random.default_rng(9), config)
    checkpoint = tmp_path / "gpt2"
    write(checkpoint, config, tensors)
    (checkpoint / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (checkpoint / "merges.txt").write_text("".join(f"{a} {b}\n" for a, b in merges))
    run_dir = str(tmp_path / "imported")
    assert cli.main(["gpt", "import", str(checkpoint), "--run-dir", run_dir]) == 0
    assert "--prompt-start none" in capsys.readouterr().out
    generator, saved = causal_lm.load_run(run_dir)
    assert saved.prompt_start == "none"
    reference = tokenizers.ByteLevelBPETokenizer(
        str(checkpoint / "vocab.json"), str(checkpoint / "merges.txt")
    )
    prompts, end = PROMPTS[:2] + PROMPTS[3:], len(vocab) - 1  # not the empty one
    completions = {}
    for start in ("none", "end"):
        generator.prompt_start = start
        ours = generator.token_ids(tf.constant(prompts), max_new_tokens=6, temperature=0.0)
        completions[start] = [until_end(row, end) for row in ours.numpy()]
        for prompt, mine in zip(prompts, completions[start], strict=True):
            ids = ([end] if start == "end" else []) + reference.encode(prompt).ids
            assert mine == until_end(gpt2_greedy(tensors, config, ids, 6), end)
    assert completions["none"] != completions["end"]  # the start token matters here
    assert sum(map(len, completions["none"])) > 2 * len(prompts)  # not all <|endoftext|>
    model_dir = str(tmp_path / "served")
    assert cli.main(["gpt", "export", run_dir, "--model-dir", model_dir]) == 0
    assert "conformance check passed" in capsys.readouterr().out
