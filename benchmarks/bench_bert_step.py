"""BERT's pretraining step, ours against KerasHub at the same size, and how much of the CPU
it uses.

Both sides train a masked LM on identical packed batches (`--batch` windows of
`--seq-len` tokens, `max_predictions` masked positions a window, AdamW): ours is
`BertMaskedLM.from_preset(PRESET)`; KerasHub's is `BertBackbone` of the same layers,
width, heads, feed-forward and vocabulary with a `MaskedLMHead` tied to its token
embedding, trained with Keras' own sparse cross-entropy (what KerasHub's `BertMaskedLM`
compiles with). A step is timed as the recipe runs it: one `fit` over a cached dataset,
each training step timed by a callback (`fit`'s own start and end are not a step: they
cost about 2 s at times, which a timing of whole short `fit` calls counts).
Each side runs in its own process (`--side`), the sides alternating, `--repeats` times;
a process reports the median of its `STEPS` steps and the result is the median of those.
A process's step time is bimodal on the 2-core machine measured (a process runs all its
steps at one of two speeds, about 25% apart, on either side), so the fastest process of
each side and the ratio of those are reported too.

Utilisation: the step's FLOPs, counted from the architecture (every matmul of the forward
pass, times 3 for forward and backward; the output projection only at the masked
positions, as both sides compute it), over the dense matmul throughput of this CPU
measured in the same run (a 2048 x 2048 matmul in the step's precision).

    .venv/bin/python -m benchmarks.bench_bert_step [--preset bert_tiny] [--batch 64] \\
        [--seq-len 128] [--vocab 8000] [--precision auto|float32|bf16] [--jit-compile] \\
        [--repeats 5] [--hub-loss keras|ours]
"""

import argparse
import json
import math
import time

STEPS = 40  # timed training steps a process
WARMUP = 5  # untimed steps first (tracing, the allocator's first pass)


def step_flops(layers, d_model, dff, seq_len, predictions, vocab, batch):
    """Multiply-adds x 2 of one training step (forward x 3)."""
    per_layer = 2 * seq_len * (4 * d_model * d_model + 2 * d_model * dff)  # projections, FFN
    per_layer += 2 * 2 * seq_len * seq_len * d_model  # scores and weighted values
    head = 2 * predictions * (d_model * d_model + d_model * vocab)
    return 3 * batch * (layers * per_layer + head)


def matmul_flops_per_second(dtype, size=2048, repeats=5):
    import statistics

    import tensorflow as tf

    a = tf.random.normal([size, size], dtype=tf.float32)
    a = tf.cast(a, dtype)
    b = tf.cast(tf.random.normal([size, size]), dtype)
    matmul = tf.function(lambda: tf.matmul(a, b))
    matmul().numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(4):
            out = matmul()
        out.numpy()
        times.append((time.perf_counter() - start) / 4)
    return 2 * size**3 / statistics.median(times)


def batches(args, predictions):
    import numpy as np

    rng = np.random.default_rng(0)
    count = args.batch * 10
    ids = rng.integers(5, args.vocab, size=(count, args.seq_len))
    ids[:, 0], ids[:, -1] = 2, 3
    positions = np.sort(
        np.stack(
            [
                rng.choice(np.arange(1, args.seq_len - 1), predictions, replace=False)
                for _ in range(count)
            ]
        ),
        axis=1,
    )
    labels = np.take_along_axis(ids, positions, axis=1)
    return ids, positions, labels


def ours(args, policy):
    """Our masked LM, compiled with our loss; returns the model."""
    import keras

    from tf_transformer.models import BertMaskedLM
    from tf_transformer.training import masked_loss

    model = BertMaskedLM.from_preset(args.preset, vocab_size=args.vocab, dtype=policy)
    model.compile(keras.optimizers.AdamW(1e-3), loss=masked_loss, jit_compile=args.jit_compile)
    return model


def keras_hub_side(args, policy):
    """KerasHub's backbone and head of the same size, compiled with Keras' sparse
    cross-entropy (`--hub-loss keras`, KerasHub's own) or ours (`--hub-loss ours`)."""
    import keras

    from tf_transformer.models.bert import PRESETS
    from tf_transformer.training import masked_loss

    _, model = hub_masked_lm(args.vocab, PRESETS[args.preset], policy)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss = masked_loss if args.hub_loss == "ours" else loss
    model.compile(keras.optimizers.AdamW(1e-3), loss=loss, jit_compile=args.jit_compile)
    return model


def time_side(args, policy, predictions):
    """One side's median step time in seconds (this process), and its parameters."""
    import statistics

    import keras
    import tensorflow as tf

    ids, positions, labels = batches(args, predictions)
    keras.utils.set_random_seed(0)
    model = (ours if args.side == "ours" else keras_hub_side)(args, policy)
    inputs = {"token_ids": ids, "mask_positions": positions}
    data = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(args.batch)
    data = data.cache().repeat()
    seconds = []

    class StepTimes(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    model.fit(data, steps_per_epoch=WARMUP, verbose=0)
    model.fit(data, steps_per_epoch=STEPS, verbose=0, callbacks=[StepTimes()])
    return statistics.median(seconds), model.count_params()


def backbone_inputs(ids):
    """KerasHub's `BertBackbone` inputs from token ids: segment 0, padding where id 0."""
    import keras

    return {
        "token_ids": ids,
        "segment_ids": keras.ops.zeros_like(ids),
        "padding_mask": keras.ops.not_equal(ids, 0),
    }


def hub_masked_lm(vocab, size, policy=None, dropout=0.1):
    """KerasHub's `BertBackbone` of `size` (one of our presets) with a `MaskedLMHead`
    tied to its token embedding, as a model taking ours' inputs (`token_ids`,
    `mask_positions`) to float32 logits. Returns `(backbone, model)`."""
    import keras
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=vocab,
        num_layers=size["num_layers"],
        num_heads=size["num_heads"],
        hidden_dim=size["d_model"],
        intermediate_dim=size["dff"],
        dropout=dropout,
        max_sequence_length=size["max_length"],
        dtype=policy,
    )
    head = keras_hub.layers.MaskedLMHead(
        vocabulary_size=vocab,
        token_embedding=backbone.token_embedding,
        intermediate_activation="gelu",
        dtype=policy,
    )
    ids = keras.Input((None,), dtype="int32")
    positions = keras.Input((None,), dtype="int32")
    sequence = backbone(backbone_inputs(ids))["sequence_output"]
    logits = keras.ops.cast(head(sequence, positions), "float32")
    return backbone, keras.Model({"token_ids": ids, "mask_positions": positions}, logits)


def measured_in_processes(argv, repeats):
    """`{side: (median seconds a step, parameters, each process's report)}`, each side
    timed in `repeats` fresh processes of this script (`--side`), the sides alternating."""
    import statistics
    import subprocess
    import sys

    runs = {"ours": [], "keras_hub": []}
    for _ in range(repeats):
        for side, times in runs.items():
            command = [sys.executable, "-m", "benchmarks.bench_bert_step", *argv, "--side", side]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            times.append(json.loads(out.strip().splitlines()[-1]))
    return {
        side: (statistics.median(r["seconds"] for r in times), times[0]["params"], times)
        for side, times in runs.items()
    }


def main(argv=None):
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="bert_tiny")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "bf16"])
    parser.add_argument("--jit-compile", action="store_true", help="XLA on both sides")
    parser.add_argument("--repeats", type=int, default=5, help="processes a side")
    parser.add_argument(
        "--hub-loss",
        default="keras",
        choices=["keras", "ours"],
        help="KerasHub's loss: Keras' sparse cross-entropy (what KerasHub compiles) or ours",
    )
    parser.add_argument("--side", choices=["ours", "keras_hub"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    import tensorflow as tf

    from benchmarks.common import machine
    from pipelines.masked_lm_batches import max_predictions
    from tf_transformer.models.bert import PRESETS
    from tf_transformer.training.precision import choose_precision

    policy, _ = choose_precision(args.precision)  # auto: the recipe's choice, cap included
    bf16 = policy == "mixed_bfloat16"
    size = PRESETS[args.preset]
    predictions = max_predictions(args.seq_len, 0.15, whole_words=True)
    if args.side:  # a child: one side, one line of JSON
        seconds, params = time_side(args, policy, predictions)
        print(json.dumps({"seconds": seconds, "params": params}))
        return 0
    sides = measured_in_processes(argv, args.repeats)
    peak = matmul_flops_per_second(tf.bfloat16 if bf16 else tf.float32)
    flops = step_flops(
        size["num_layers"],
        size["d_model"],
        size["dff"],
        args.seq_len,
        predictions,
        args.vocab,
        args.batch,
    )
    tokens = args.batch * args.seq_len
    rows = {}
    for name, (step, params, processes) in sides.items():
        rows[name] = {
            "processes_ms": [round(1000 * r["seconds"], 1) for r in processes],
            "params": params,
            "ms_per_step": 1000 * step,
            "fastest_ms_per_step": min(1000 * r["seconds"] for r in processes),
            "tokens_per_second": tokens / step,
            "utilisation": flops / step / peak,
        }
    result = {
        "machine": machine(policy),
        "preset": args.preset,
        "batch": args.batch,
        "seq_len": args.seq_len,
        "predictions": predictions,
        "vocab": args.vocab,
        "policy": policy,
        "jit_compile": args.jit_compile,
        "hub_loss": args.hub_loss,
        "step_gflop": flops / 1e9,
        "matmul_gflops": peak / 1e9,
        "sides": rows,
        "ratio": rows["keras_hub"]["ms_per_step"] / rows["ours"]["ms_per_step"],
        "fastest_ratio": (
            rows["keras_hub"]["fastest_ms_per_step"] / rows["ours"]["fastest_ms_per_step"]
        ),
    }
    print(json.dumps(result, indent=2))
    print()
    print(f"Machine: {result['machine']}")
    print(
        f"`{args.preset}`, batch {args.batch} x {args.seq_len}, {predictions} masked positions "
        f"a window, vocabulary {args.vocab:,}, {policy}{', XLA' if args.jit_compile else ''}, "
        f"KerasHub's side with {args.hub_loss} loss; "
        f"{flops / 1e9:.1f} GFLOP a step; "
        f"dense matmul {peak / 1e9:,.0f} GFLOP/s"
    )
    print("| side | parameters | ms a step (processes) | fastest | tokens/s | utilisation |")
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        each = " / ".join(f"{ms:.0f}" for ms in row["processes_ms"])
        print(
            f"| {name} | {row['params']:,} | {row['ms_per_step']:.0f} ({each}) | "
            f"{row['fastest_ms_per_step']:.0f} | {row['tokens_per_second']:,.0f} | "
            f"{100 * row['utilisation']:.1f}% |"
        )
    print(
        f"ours {result['ratio']:.2f}x KerasHub's speed (medians), "
        f"{result['fastest_ratio']:.2f}x (fastest processes)"
    )
    return 0 if math.isfinite(result["ratio"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
