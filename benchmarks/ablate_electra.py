"""Replaced-token detection (ELECTRA, Clark et al. 2020) against masked LM, at equal
wall-clock time on the same text, tokenizer, batches and schedule.

A finished `bert pretrain` run gives everything but the objective: its source, tokenizer,
preset, windows, masking and schedule. This script pretrains the same encoder as ELECTRA's
discriminator for `--minutes` (give the masked-LM run's own time): a small generator (a
masked LM of `--generator-width`, default 64, half of `bert_tiny`'s) fills the masked
positions with samples of its own predictions, and the encoder learns to tell, at every
real token, whether it was replaced (`benchmarks/electra.py`). It then
writes a run directory that `bert finetune --from` reads as it reads the masked-LM run
(the discriminator's encoder inside a `BertMaskedLM` whose head is unused), so both
encoders are fine-tuned by the same command.

    .venv/bin/python -m benchmarks.ablate_electra --mlm-run runs/pre --out runs/pre_electra \\
        --minutes 55
    tf-transformer bert finetune --task classify --from runs/pre_electra --source ...

Not part of the package: the objective ships only if its encoders fine-tune better.
"""

import argparse
import os
import shutil
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlm-run", required=True, help="a finished `bert pretrain` run")
    parser.add_argument("--out", required=True, help="the ELECTRA run directory to write")
    parser.add_argument("--minutes", type=float, required=True, help="the time budget")
    parser.add_argument("--generator-width", type=int, default=64)
    args = parser.parse_args(argv)
    if os.path.exists(args.out) and os.listdir(args.out):
        parser.error(f"--out {args.out} is not empty: give a new directory")

    from tf_transformer import cpu

    cpu.bfloat16_without_onednn()
    import keras

    from benchmarks.electra import build_electra
    from pipelines import masked_lm
    from pipelines.runs import write_json
    from pipelines.runs.directories import read_config
    from tf_transformer.models import BertMaskedLM
    from tf_transformer.text.loading import load_tokenizer
    from tf_transformer.training import TimeBudget

    saved = masked_lm.read_run_config(args.mlm_run)
    config = read_config(masked_lm.PretrainConfig, args.mlm_run)
    policy = saved["precision"]["policy"]
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(config.seed)
    tokenizer = load_tokenizer(os.path.join(args.mlm_run, "tokenizer"))
    documents = masked_lm.pretraining_documents(config.source, config.seed)
    train, validation, steps, _ = masked_lm.pretraining_data(config, documents, tokenizer, print)
    schedule = saved["schedule"]
    model = build_electra(config.preset, tokenizer.vocab_size, policy, args.generator_width)
    model.compile(optimizer=masked_lm.bert_optimizer(schedule, config.weight_decay))
    model.build()
    print(f"ELECTRA for {args.minutes:.1f} minutes: {model.count_params():,} parameters")
    start = time.monotonic()
    fitted = model.fit(
        train(),
        steps_per_epoch=steps,
        epochs=config.epochs,
        validation_data=validation,
        callbacks=[TimeBudget(args.minutes * 60)],
        verbose=2,
    )
    elapsed = (time.monotonic() - start) / 60
    encoder = BertMaskedLM(model.discriminator)
    encoder.build()
    os.makedirs(args.out, exist_ok=True)
    shutil.copytree(
        os.path.join(args.mlm_run, "tokenizer"),
        os.path.join(args.out, "tokenizer"),
        dirs_exist_ok=True,
    )
    shutil.copy(os.path.join(args.mlm_run, "config.json"), args.out)
    write_json(
        args.out, "history.json", {k: list(map(float, v)) for k, v in fitted.history.items()}
    )
    encoder.save(os.path.join(args.out, "model.keras"))
    print(f"wrote {args.out} after {elapsed:.1f} minutes")


if __name__ == "__main__":
    main()
