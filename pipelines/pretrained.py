"""Published GPT-2 and BERT checkpoints as run directories of this package.

`import_gpt(SOURCE)` / `import_bert(SOURCE)` read a checkpoint and its tokenizer
(`tf_transformer.models.checkpoints`, which says what SOURCE may be) and write a finished
run (`config.json`, `tokenizer/`, `model.keras`, `metrics.json`) that
`gpt generate`/`gpt export`/`gpt train --init-from` and `bert finetune --from` take.
"""

import os

from pipelines.causal_lm import FAMILY as GPT_FAMILY
from pipelines.causal_lm import GPTConfig
from pipelines.masked_lm import DEFAULT_SEQ_LEN, PRETRAIN_KIND, PretrainConfig
from pipelines.masked_lm import FAMILY as BERT_FAMILY
from pipelines.runs import begin_run, write_json
from tf_transformer.errors import InputError
from tf_transformer.models import GPT
from tf_transformer.models.checkpoints import (
    architecture_of,
    is_hugging_face,
    read_bert,
    read_gpt,
)


def _write_run(run_dir, config, family, model, tokenizer, source, log, overwrite):
    embeddings = getattr(model, "encoder", model).vocab_size
    if tokenizer.vocab_size != embeddings:
        raise InputError(
            f"{source}: the tokenizer has {tokenizer.vocab_size:,} tokens but the model "
            f"{embeddings:,} embeddings"
        )
    gpt = family == GPT_FAMILY
    root = f"runs/{'gpt' if gpt else 'bert'}-import"
    kind = GPT_FAMILY if gpt else PRETRAIN_KIND
    run = begin_run(family, config, run_dir, root, overwrite, False, log, kind)
    run.write_config(config, family=family, imported_from=source)
    tokenizer.save(os.path.join(run.dir, "tokenizer"))
    parameters = model.count_params()
    write_json(run.dir, "metrics.json", {"imported_from": source, "parameters": parameters})
    model.save(os.path.join(run.dir, "model.keras"))  # last: it marks the run finished
    run_dir = run.finish()
    log(f"imported {source}: {parameters:,} parameters, {tokenizer.vocab_size:,} tokens")
    if gpt:
        starts = "with <|endoftext|>" if config.prompt_start == "end" else "as they are"
        log(f"prompts are generated from {starts} (--prompt-start {config.prompt_start})")
    log(f"run directory: {run_dir}")
    return run_dir


def import_gpt(
    source, run_dir=None, log=print, overwrite=False, prompt_start=None, **sampling
) -> str:
    """A finished GPT run in `run_dir` (default `runs/gpt-import/<timestamp>`) holding
    the GPT-2 checkpoint `source`; `sampling` sets `GPTConfig`'s generation defaults.
    Prompts start with `<|endoftext|>` (`prompt_start="end"`) or not (`"none"`) as the
    source library generates unless `prompt_start` says: Hugging Face's `generate` adds
    nothing, KerasHub's `GPT2CausalLM` the start token."""
    model, tokenizer = read_gpt(source)
    sampling["prompt_start"] = prompt_start or ("none" if is_hugging_face(source) else "end")
    config = GPTConfig(
        source=source,
        preset="gpt2_small",
        seq_len=min(GPTConfig.seq_len, model.max_length),
        vocab_size=tokenizer.vocab_size,
        epochs=0,
        architecture=architecture_of(model, GPT),
        **sampling,
    )
    return _write_run(run_dir, config, GPT_FAMILY, model, tokenizer, source, log, overwrite)


def import_bert(source, run_dir=None, log=print, overwrite=False) -> str:
    """A finished BERT "pretraining" run in `run_dir` (default
    `runs/bert-import/<timestamp>`) holding the BERT checkpoint `source` (its masked LM
    if the checkpoint has the head, else its encoder), for `bert finetune --from` and,
    with the head, `bert export` (fill-mask)."""
    model, tokenizer = read_bert(source)
    config = PretrainConfig(
        source=source,
        preset="bert_base",
        seq_len=min(DEFAULT_SEQ_LEN, getattr(model, "encoder", model).max_length),
        vocab_size=tokenizer.vocab_size,
        epochs=0,
    )
    return _write_run(run_dir, config, BERT_FAMILY, model, tokenizer, source, log, overwrite)
