"""KerasHub's side of the BERT benchmarks: its `BertBackbone` and `MaskedLMHead`
pretrained on our pretraining run's batches (`bench_real_bert`, `bench_real_pairs_entities`),
and its backbone fine-tuned as a sentiment classifier (`bench_real_bert`)."""

import os
import time


def hub_pretrain(source, ours_pretrain, steps=None, epochs=None):
    """KerasHub's `BertBackbone` and `MaskedLMHead` at the size of our pretraining run
    (`pretrain_result`), pretrained on `source` with that run's tokenizer, packed windows,
    masking, schedule and precision, for its wall-clock time (or `steps` steps on a
    schedule of their own, or the first `epochs` epochs of the run's schedule, as many as
    the run made). Returns `(backbone, result, tokenizer)`; the dtype policy stays the
    run's until reset."""
    import keras

    from benchmarks.bench_bert_step import hub_masked_lm
    from pipelines import masked_lm
    from pipelines.corpora.documents import load_documents
    from pipelines.runs.directories import read_config
    from tf_transformer.models.bert import PRESETS
    from tf_transformer.text import load_tokenizer
    from tf_transformer.training import TimeBudget, masked_accuracy, masked_loss

    settings, schedule = ours_pretrain["settings"], ours_pretrain["schedule"]
    total_epochs = settings["epochs"]
    per_epoch = -(-steps // total_epochs) if steps else schedule["total_steps"] // total_epochs
    if steps:  # its own schedule, of the same shape, over its steps
        schedule = masked_lm.bert_schedule(
            schedule["peak_learning_rate"], schedule["warmup_steps"], per_epoch * total_epochs
        )
    tokenizer = load_tokenizer(os.path.join(ours_pretrain["run"], "tokenizer"))
    size = PRESETS[settings["preset"]]
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(ours_pretrain["precision"])
    backbone, mlm = hub_masked_lm(tokenizer.vocab_size, size)
    mlm.compile(
        optimizer=masked_lm.bert_optimizer(schedule, 0.01),
        loss=masked_loss,
        metrics=[masked_accuracy],
    )
    config = read_config(masked_lm.PretrainConfig, ours_pretrain["run"])
    documents = load_documents(source, log=lambda line: None)
    batches = masked_lm.pretraining_batches(config, documents, tokenizer)  # as ours were made

    budget = [] if steps or epochs else [TimeBudget(60 * ours_pretrain["minutes"])]
    start = time.perf_counter()
    history = mlm.fit(
        batches("train", True).repeat(),
        steps_per_epoch=per_epoch,
        validation_data=batches("validation", False).take(64).cache(),
        epochs=min(epochs or total_epochs, total_epochs),
        callbacks=budget,
        verbose=2,
    )
    result = {
        "pretrain": {
            "validation_loss": history.history["val_loss"][-1],
            "validation_masked_accuracy": history.history["val_masked_accuracy"][-1],
        },
        "minutes": (time.perf_counter() - start) / 60,
        "steps": per_epoch * len(history.history["loss"]) if steps else None,
    }
    return backbone, result, tokenizer


def hub_finetune_classifier(task, corpus, settings, finetune, limits, backbone, weights, tokenizer):
    """KerasHub's `backbone` (reset to `weights` each time) fine-tuned on `corpus` as the
    sentiment benchmark fine-tunes ours: its pooled output, dropout, dense; our schedule,
    optimizer and batches (`settings`: the task's, `finetune`: the fine-tuning's), on each
    of `limits` labelled examples (None: all). Returns `{limit: {"pretrained":
    {"accuracy"}}}` on the task's held-out split."""
    import keras

    from benchmarks.bench_bert_step import backbone_inputs
    from pipelines import masked_lm
    from pipelines.corpora import stable_subset

    ids = keras.Input((None,), dtype="int32")
    held_out = _classification_batches(
        corpus.split(settings["split"]), tokenizer, settings, finetune["batch_size"]
    )
    result = {}
    for limit in limits:
        keras.utils.set_random_seed(0)
        backbone.set_weights(weights)
        train = stable_subset(corpus.train, limit, key=lambda ex: ex[0])
        data_train = _classification_batches(
            train, tokenizer, settings, finetune["batch_size"], shuffle=True
        )
        epochs = settings["epochs"][limit]
        total = int(data_train.cardinality()) * epochs
        fine = masked_lm.bert_schedule(
            finetune["learning_rate"], int(finetune["warmup_fraction"] * total), total
        )
        pooled = backbone(backbone_inputs(ids))["pooled_output"]
        hidden = keras.layers.Dropout(0.1)(pooled)
        classes = keras.ops.cast(keras.layers.Dense(2)(hidden), "float32")
        classifier = keras.Model(ids, classes)
        classifier.compile(
            optimizer=masked_lm.bert_optimizer(fine, finetune["weight_decay"]),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        classifier.fit(data_train, epochs=epochs, verbose=2)
        accuracy = classifier.evaluate(held_out, verbose=0, return_dict=True)["accuracy"]
        result[str(limit or "all")] = {"pretrained": {"accuracy": float(accuracy)}}
        print(f"{task}: KerasHub BertBackbone, {limit or 'all'} examples: {100 * accuracy:.1f}%")
    return result


def _classification_batches(examples, tokenizer, settings, batch_size, shuffle=False):
    import tensorflow as tf

    from pipelines import masked_lm_batches

    texts = tf.constant([t for t, _ in examples], tf.string)
    labels = tf.constant([int(label) for _, label in examples], tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels))
    return masked_lm_batches.make_classification_batches(
        dataset,
        tokenizer,
        settings["seq_len"],
        batch_size,
        shuffle=100_000 if shuffle else 0,
        seed=0,
        keep=settings["truncate"],
        markup=False,
    )
