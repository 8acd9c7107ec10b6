"""Ours against KerasHub on the same work. The sides of a comparison are timed in one
process, their repeats interleaved (median of 5 after warm-up); each side also runs
alone in a process of its own, for its peak resident memory:

a. training throughput (target tokens/s) of the `tutorial` Transformer against a
   same-size model of KerasHub's `TokenAndPositionEmbedding`, `TransformerEncoder` and
   `TransformerDecoder` on identical batches: float32, XLA, bf16 and fp16;
b. epoch time of the bucketed pipeline against pad-to-longest batching (the tutorial's),
   same data and model;
c. greedy generation of 64 new tokens at batch 1 and 32: our cached loop, KerasHub's
   `GreedySampler` over its cached `TransformerDecoder`, and the rerun-the-decoder loop;
d. `gpt_mini` training throughput against a same-size KerasHub `GPT2Backbone`.

    .venv/bin/python -m benchmarks.bench_keras_hub
    .venv/bin/python -m benchmarks.bench_keras_hub CASE both|SIDE  # one case, as JSON
"""

import json
import os
import subprocess
import sys

VOCAB = 4000
TUTORIAL = dict(num_layers=4, d_model=128, num_heads=8, dff=512, dropout=0.1)
BATCH, SOURCE_LEN, TARGET_LEN = 64, 24, 24
NEW_TOKENS = 64
STEPS = 10  # train steps a timed repeat
GPT_BATCH, GPT_LEN, GPT_VOCAB = 16, 128, 8000


def _peak_mb():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _batches():
    """Identical padded batches for both sides: `((source, target_in), target_out)`."""
    import numpy as np

    rng = np.random.default_rng(0)
    source = rng.integers(5, VOCAB, size=(BATCH, SOURCE_LEN))
    target = rng.integers(5, VOCAB, size=(BATCH, TARGET_LEN + 1))
    lengths = rng.integers(TARGET_LEN // 2, TARGET_LEN + 2, size=BATCH)
    target[np.arange(TARGET_LEN + 1)[None, :] >= lengths[:, None]] = 0
    source[: BATCH // 3, SOURCE_LEN // 2 :] = 0
    return (source, target[:, :-1]), target[:, 1:]


def hub_translator(max_length=256):
    """The `tutorial` size from KerasHub layers; returns the model and its decoding parts."""
    import keras
    import keras_hub

    layers, d_model = TUTORIAL["num_layers"], TUTORIAL["d_model"]
    options = dict(
        intermediate_dim=TUTORIAL["dff"],
        num_heads=TUTORIAL["num_heads"],
        dropout=TUTORIAL["dropout"],
    )
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    source_embedding = keras_hub.layers.TokenAndPositionEmbedding(
        VOCAB, max_length, d_model, mask_zero=True
    )
    encoded = source_embedding(source)
    for _ in range(layers):
        encoded = keras_hub.layers.TransformerEncoder(**options)(encoded)
    target_embedding = keras_hub.layers.TokenAndPositionEmbedding(
        VOCAB, max_length, d_model, mask_zero=True
    )
    decoders = [keras_hub.layers.TransformerDecoder(**options) for _ in range(layers)]
    head = keras.layers.Dense(VOCAB)
    decoded = target_embedding(target)
    for decoder in decoders:
        decoded = decoder(decoded, encoder_sequence=encoded)
    model = keras.Model((source, target), head(decoded))
    encoder = keras.Model(source, encoded)
    return model, encoder, target_embedding, decoders, head


# Each workload builds one side and returns `(run, work, info)`: `run()` does the timed
# work (already traced and warmed up), `work` is how many units (tokens, ...) one run
# produces. `both` times every side of a case in one process, interleaving their repeats
# so that a slower or faster spell of the machine hits each side alike; a side alone
# runs in its own process for its peak memory.


def train_workload(side, jit_compile=False, policy="float32"):
    import keras
    import numpy as np
    import tensorflow as tf

    from tf_transformer.training import masked_loss

    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(policy)  # both sides build their layers under it
    batch = _batches()
    if side == "ours":
        from tf_transformer.models import Transformer

        model = Transformer(input_vocab_size=VOCAB, target_vocab_size=VOCAB, **TUTORIAL)
    else:
        model = hub_translator()[0]
    model.compile(keras.optimizers.Adam(1e-4), masked_loss, jit_compile=jit_compile)
    data = tf.data.Dataset.from_tensors(batch).repeat(STEPS)
    model.fit(data, verbose=0)  # trace and compile
    tokens = int(np.count_nonzero(batch[1])) * STEPS
    return lambda: model.fit(data, verbose=0), tokens, {"params": model.count_params()}


def bucketing_workload(side):
    """One epoch over the train split of 3,000 cldr:en-pt pairs, `tutorial` model."""
    import keras
    import tensorflow as tf

    from pipelines.corpora import load_corpus
    from pipelines.translation import make_batches, padding_fraction
    from tf_transformer.models import Transformer
    from tf_transformer.text import SentencePieceTokenizer
    from tf_transformer.training import MaskedLoss, transformer_optimizer

    keras.utils.set_random_seed(0)
    corpus = load_corpus("cldr:en-pt", size=3000)
    source = SentencePieceTokenizer.train(corpus.texts("train", 0), VOCAB)
    target = SentencePieceTokenizer.train(corpus.texts("train", 1), VOCAB)
    batches = make_batches(
        corpus.dataset("train"),
        source,
        target,
        batch_size=64,
        max_tokens=40,
        bucket=side == "bucketed",
        batch_tokens=64 * 20,  # bucketed: about the tokens of 64 pairs half the longest
        shuffle=0,
    ).cache()
    steps = sum(1 for _ in batches)
    batches = batches.apply(tf.data.experimental.assert_cardinality(steps))
    model = Transformer(
        input_vocab_size=source.vocab_size, target_vocab_size=target.vocab_size, **TUTORIAL
    )
    model.compile(transformer_optimizer(128), MaskedLoss(0.1))
    for _ in range(2):  # every batch shape traced
        model.fit(batches, verbose=0)
    info = {"batches": steps, "padding": padding_fraction(batches), "pairs": len(corpus.train)}
    return lambda: model.fit(batches, verbose=0), 1, info


def _hub_generator(batch_size):
    """Greedy generation with KerasHub's `GreedySampler` over its cached decoder."""
    import keras_hub
    import tensorflow as tf
    from keras import ops

    from tf_transformer.text import START_ID

    _, encoder, embedding, layers, head = hub_translator()
    heads, width = TUTORIAL["num_heads"], TUTORIAL["d_model"] // TUTORIAL["num_heads"]

    def step(ids, index, encoded, padding, caches, cross, cross_index):
        hidden = embedding(ids, start_index=index)
        self_out, cross_out = [], []
        for i, layer in enumerate(layers):
            hidden, self_cache, cross_cache = layer(
                hidden,
                encoder_sequence=encoded,
                encoder_padding_mask=padding,
                self_attention_cache=caches[i],
                self_attention_cache_update_index=index,
                cross_attention_cache=cross[i],
                cross_attention_cache_update_index=cross_index,
            )
            self_out.append(self_cache)
            cross_out.append(cross_cache)
        return head(hidden)[:, 0, :], ops.stack(self_out), ops.stack(cross_out)

    @tf.function
    def generate(source):
        batch = ops.shape(source)[0]
        encoded = encoder(source)
        padding = ops.not_equal(source, 0)
        caches = ops.zeros((len(layers), batch, 2, NEW_TOKENS + 1, heads, width))
        cross = ops.zeros((len(layers), batch, 2, ops.shape(source)[1], heads, width))
        prompt = ops.concatenate(
            [ops.full((batch, 1), START_ID, "int32"), ops.zeros((batch, NEW_TOKENS), "int32")],
            axis=1,
        )
        # prefill: position 0 fills the cross-attention caches once
        _, caches, cross = step(prompt[:, :1], 0, encoded, padding, caches, cross, 0)

        def next_logits(prompt, cache, index):
            caches, cross = cache
            logits, caches, cross = step(
                prompt[:, index - 1 : index], index - 1, encoded, padding, caches, cross, None
            )
            return logits, None, (caches, cross)

        sampler = keras_hub.samplers.GreedySampler()
        return sampler(next_logits, prompt, cache=(caches, cross), index=1)

    return generate


def generate_workload(side, batch):
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    source = tf.constant(
        np.random.default_rng(0).integers(5, VOCAB, size=(batch, SOURCE_LEN)), tf.int32
    )
    if side == "keras_hub":
        generate = _hub_generator(batch)
        run = lambda: generate(source)  # noqa: E731
        assert run().shape == (batch, NEW_TOKENS + 1)  # the start token and 64 new
    else:
        from benchmarks.bench_generation import decoders
        from tf_transformer.models import Transformer

        model = Transformer(
            input_vocab_size=VOCAB, target_vocab_size=VOCAB, max_length=NEW_TOKENS + 1, **TUTORIAL
        )
        cached, rerun = decoders(model, source)
        run = cached if side == "ours" else rerun
        run()
    return run, batch * NEW_TOKENS, {}


def gpt_workload(side):
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    data = np.random.default_rng(0).integers(5, GPT_VOCAB, size=(GPT_BATCH * STEPS, GPT_LEN + 1))
    x, y = data[:, :-1], data[:, 1:]
    if side == "ours":
        from tf_transformer.models import GPT

        model = GPT.from_preset("gpt_mini", vocab_size=GPT_VOCAB)
    else:
        import keras_hub

        backbone = keras_hub.models.GPT2Backbone(
            vocabulary_size=GPT_VOCAB,
            num_layers=4,
            num_heads=4,
            hidden_dim=256,
            intermediate_dim=1024,
            dropout=0.1,
            max_sequence_length=256,
        )
        logits = backbone.token_embedding(backbone.output, reverse=True)
        model = keras.Model(backbone.input, logits)
        x = {"token_ids": x, "padding_mask": np.ones_like(x, bool)}
    model.compile(
        keras.optimizers.AdamW(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, batch_size=GPT_BATCH, verbose=0)
    run = lambda: model.fit(x, y, batch_size=GPT_BATCH, verbose=0)  # noqa: E731
    return run, GPT_BATCH * STEPS * GPT_LEN, {"params": model.count_params()}


WORKLOADS = {
    "train": (train_workload, ("ours", "keras_hub")),
    "train_xla": (lambda side: train_workload(side, jit_compile=True), ("ours", "keras_hub")),
    "train_bf16": (
        lambda side: train_workload(side, policy="mixed_bfloat16"),
        ("ours", "keras_hub"),
    ),
    "train_fp16": (
        lambda side: train_workload(side, policy="mixed_float16"),
        ("ours", "keras_hub"),
    ),
    "bucketing": (bucketing_workload, ("bucketed", "padded")),
    "generate_1": (lambda side: generate_workload(side, 1), ("ours", "keras_hub", "rerun")),
    "generate_32": (lambda side: generate_workload(side, 32), ("ours", "keras_hub", "rerun")),
    "gpt": (gpt_workload, ("ours", "keras_hub")),
}


def run_case(case, side):
    """`side`: its peak memory and info (one more run after the warm-up); `both`: every
    side's rate (units a second), median of 5 interleaved timed repeats."""
    from benchmarks.common import median_seconds_interleaved

    build, sides = WORKLOADS[case]
    if side != "both":
        run, _, info = build(side)
        run()
        return {**info, "peak_mb": _peak_mb()}
    workloads = {name: build(name) for name in sides}
    seconds = median_seconds_interleaved([workloads[name][0] for name in sides])
    return {
        name: {"rate": workloads[name][1] / t, "seconds": t, **workloads[name][2]}
        for name, t in zip(sides, seconds, strict=True)
    }


def case_profile(side):
    """Where the time goes (`benchmarks.profile`): the training step, each side's, and
    our batch-1 generation loop, cached and rerun."""
    import numpy as np
    import tensorflow as tf

    from benchmarks.profile import report

    train, _, _ = train_workload(side)
    outcome = {"train": report(train)}
    if side == "ours":
        from benchmarks.bench_generation import decoders
        from tf_transformer.models import Transformer

        model = Transformer(input_vocab_size=VOCAB, target_vocab_size=VOCAB, **TUTORIAL)
        source = tf.constant(
            np.random.default_rng(0).integers(5, VOCAB, size=(1, SOURCE_LEN)), tf.int32
        )
        cached, rerun = decoders(model, source)
        outcome["generate"] = report(cached)
        outcome["rerun"] = report(rerun)
    return outcome


def measure(case, side):
    """Runs `run_case(case, side)` (or the profile) in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_keras_hub", case, side],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"{case} {side} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def compare(case):
    """Rates of every side (one interleaved run) and each side's peak memory."""
    rates = measure(case, "both")
    for side in WORKLOADS[case][1]:
        rates[side]["peak_mb"] = measure(case, side)["peak_mb"]
    return rates


def _goal(ratio, goal):
    return f"{ratio:.2f}x (goal {goal}x: {'met' if ratio >= goal else 'short'})"


def _mb(*results):
    return " / ".join(f"{result['peak_mb']:,.0f}" for result in results)


def main():
    import keras_hub

    from benchmarks.common import machine, table

    print(f"Machine: {machine()}; KerasHub {keras_hub.__version__}\n")
    rows = []
    for case, label in (
        ("train", "float32"),
        ("train_xla", "float32, XLA"),
        ("train_bf16", "mixed_bfloat16"),
        ("train_fp16", "mixed_float16 (loss scaling)"),
    ):
        result = compare(case)
        ours, hub = result["ours"], result["keras_hub"]
        rows.append(
            [
                label,
                f"{ours['rate']:,.0f}",
                f"{hub['rate']:,.0f}",
                _goal(ours["rate"] / hub["rate"], 1.2),
                _mb(ours, hub),
            ]
        )
    print(
        f"a. Training, `tutorial` size ({ours['params']:,} parameters ours, "
        f"{hub['params']:,} KerasHub: its learned positions), batch {BATCH} x "
        f"{TARGET_LEN} target tokens (padded), Adam, {STEPS} steps a repeat:\n"
    )
    header = ["run", "ours tokens/s", "KerasHub tokens/s", "ratio (goal)", "peak MB ours / hub"]
    print(table(header, rows))

    result = compare("bucketing")
    bucketed, padded = result["bucketed"], result["padded"]
    print(
        f"\nb. One epoch of {bucketed['pairs']:,} cldr:en-pt pairs, `tutorial` model, "
        "batch 64 (bucketed: `--batch-tokens 1280`, about 64 pairs of half the longest):\n"
    )
    rows = [
        [name, side["batches"], f"{100 * side['padding']:.0f}%", f"{side['seconds']:.2f}"]
        + [speedup, f"{side['peak_mb']:,.0f}"]
        for name, side, speedup in (
            ("pad to longest (tutorial)", padded, "1.00x"),
            ("bucketed (ours)", bucketed, _goal(padded["seconds"] / bucketed["seconds"], 1.3)),
        )
    ]
    header = ["pipeline", "batches", "padding", "epoch s", "speed-up (goal)", "peak MB"]
    print(table(header, rows))

    print(
        f"\nc. Greedy generation, `tutorial` size, source {SOURCE_LEN} tokens, "
        f"{NEW_TOKENS} new tokens, no early stop:\n"
    )
    rows = []
    for batch in (1, 32):
        result = compare(f"generate_{batch}")
        ours, hub, rerun = result["ours"], result["keras_hub"], result["rerun"]
        rows.append(
            [
                batch,
                f"{ours['rate']:,.0f}",
                f"{hub['rate']:,.0f}",
                f"{rerun['rate']:,.0f}",
                _goal(ours["rate"] / hub["rate"], 1.0),
                _goal(ours["rate"] / rerun["rate"], 5.0),
                _mb(ours, hub, rerun),
            ]
        )
    header = ["batch", "ours tokens/s", "KerasHub GreedySampler", "rerun loop"]
    header += ["vs KerasHub (goal)", "vs rerun (goal)", "peak MB ours / hub / rerun"]
    print(table(header, rows))

    result = compare("gpt")
    ours, hub = result["ours"], result["keras_hub"]
    print(
        f"\nd. `gpt_mini` ({ours['params']:,} parameters) against `GPT2Backbone` "
        f"({hub['params']:,}), batch {GPT_BATCH} x {GPT_LEN}, AdamW:\n"
    )
    header = ["ours tokens/s", "KerasHub tokens/s", "ratio (goal)", "peak MB ours / hub"]
    row = [f"{ours['rate']:,.0f}", f"{hub['rate']:,.0f}"]
    row += [_goal(ours["rate"] / hub["rate"], 1.2), _mb(ours, hub)]
    print(table(header, [row]))

    ours, hub = measure("profile", "ours"), measure("profile", "keras_hub")
    print(
        "\ne. Where the time goes (`benchmarks/profile.py`: `tf.profiler` traces of 3 calls, "
        "op executions summed by model part and by op type; oneDNN's `_Mkl` prefixes "
        "dropped):\n"
    )
    print(f"- training step, ours: {ours['train']}")
    print(f"- training step, KerasHub: {hub['train']}")
    print(f"- greedy generation at batch 1, ours (cached): {ours['generate']}")
    print(f"- the rerun loop at batch 1: {ours['rerun']}")


if __name__ == "__main__":
    if len(sys.argv) == 3:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        case, side = sys.argv[1:]
        print(json.dumps(case_profile(side) if case == "profile" else run_case(case, side)))
    else:
        main()
