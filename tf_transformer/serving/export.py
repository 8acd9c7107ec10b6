"""Export to `saved_models/<name>/<version>/` through `keras.export.ExportArchive`.

Versions are written into a hidden temporary directory beside the final one and renamed
to the version number only when complete, so a server polling the model directory never
sees a half-written version, and an existing version is never touched.
"""

import os
import re
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from tf_transformer.serving.client import predict_request

TEXT = tf.TensorSpec([None], tf.string, name="text")
PREFIX = tf.TensorSpec([None], tf.string, name="prefix")
NEXT_TOKENS = 10  # how many tokens a `next_token` signature returns


def next_version(model_dir: str) -> int:
    """One more than the highest numeric version in `model_dir` (1 if there is none)."""
    if not os.path.isdir(model_dir):
        return 1
    versions = [int(name) for name in os.listdir(model_dir) if re.fullmatch(r"\d+", name)]
    return max(versions, default=0) + 1


WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_WARMUP_RECORDS = 1000  # TensorFlow Serving reads at most this many


def write_warmup(path: str, model_name: str, requests) -> int:
    """Writes TensorFlow Serving's warmup file: a TFRecord of `PredictionLog`s, one per
    `(signature, {input: values})` request, which the server replays when it loads the
    version, so that the first real request does not pay for graph warm-up."""
    requests = list(requests)
    if len(requests) > MAX_WARMUP_RECORDS:
        raise ValueError(f"{len(requests)} warmup requests; TF Serving reads at most 1000")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in requests:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(
                    request=predict_request(model_name, inputs, signature)
                )
            )
            writer.write(log.SerializeToString())
    return len(requests)


def read_warmup(path: str):
    """The `(signature, {input: numpy array})` requests of a warmup file."""
    requests = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        requests.append((request.model_spec.signature_name or "serving_default", inputs))
    return requests


def write_archive(
    archive, model_dir: str, version: int = None, assets: dict = None, warmup=()
) -> str:
    """Writes `archive` as `model_dir/<version>/` atomically; returns that path.

    `assets` maps file names to bytes written into the export's `assets/` (tokenizer
    files, for whoever inspects the export: the graph holds its own copy); `warmup`
    requests go into `assets.extra/tf_serving_warmup_requests`.
    """
    os.makedirs(model_dir, exist_ok=True)
    version = next_version(model_dir) if version is None else version
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"{final} exists; versions are never overwritten")
    staging = tempfile.mkdtemp(prefix=f".{version}-incomplete-", dir=model_dir)
    try:
        archive.write_out(os.path.join(staging, "model"), verbose=False)
        for name, data in (assets or {}).items():
            os.makedirs(os.path.join(staging, "model", "assets"), exist_ok=True)
            with open(os.path.join(staging, "model", "assets", name), "wb") as handle:
                handle.write(data)
        if warmup:
            name = os.path.basename(os.path.abspath(model_dir))
            write_warmup(os.path.join(staging, "model", WARMUP_FILE), name, warmup)
        os.rename(os.path.join(staging, "model"), final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


WARMUP_TEXTS = ["Saturday, June 9, 1984", "", "3 kilometers"]


def export_model(
    model, tokenizers: dict, endpoints: dict, model_dir: str, version: int = None, warmup=None
):
    """Exports `model` with its `tokenizers` (`{prefix: tokenizer}`, tracked, and their
    files copied into `assets/` as `<prefix><file name>`) and `endpoints` (`{name: (fn,
    input_signature)}`) as a new version of `model_dir`; returns the version's path.

    `warmup` is a list of texts (default `WARMUP_TEXTS`; the recipes pass their run's
    own) sent to every endpoint whose inputs are all strings, or the requests themselves,
    `[(signature, {input: values})]`."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    for tokenizer in tokenizers.values():
        archive.track(tokenizer)
    for name, (fn, signature) in endpoints.items():
        archive.add_endpoint(name, fn, input_signature=signature)
    assets = {f"{prefix}{t.file_name}": t.file_bytes() for prefix, t in tokenizers.items()}
    if warmup is None or all(isinstance(text, str) for text in warmup):
        texts = list(warmup or WARMUP_TEXTS)
        warmup = [
            (name, {spec.name: texts for spec in signature})
            for name, (_, signature) in endpoints.items()
            if all(spec.dtype == tf.string for spec in signature)
        ]
    return write_archive(archive, model_dir, version, assets, warmup)


def _next_token(tokens_and_probabilities):
    tokens, probabilities = tokens_and_probabilities
    return {"tokens": tokens, "probabilities": probabilities}


def export_translator(
    translator, model_dir: str, version: int = None, beam_size: int = 4, warmup=None
):
    """Exports a `Translator`: `serving_default` (greedy) and `beam_search` signatures, both
    `text: string[None] -> translation: string[None]`, and `next_token` (`text`, `prefix`:
    string[None] -> the `NEXT_TOKENS` likeliest next tokens after the prefix, `tokens`:
    string[None, k] and `probabilities`: float32[None, k]). `warmup`: texts (default
    `WARMUP_TEXTS`). Returns the version's path."""
    return export_model(
        translator.model,
        {"source_": translator.source_tokenizer, "target_": translator.target_tokenizer},
        {
            "serving_default": (lambda text: {"translation": translator.translate(text)}, [TEXT]),
            "beam_search": (
                lambda text: {"translation": translator.translate(text, beam_size=beam_size)},
                [TEXT],
            ),
            "next_token": (
                lambda text, prefix: _next_token(translator.next_token(text, prefix, NEXT_TOKENS)),
                [TEXT, PREFIX],
            ),
        },
        model_dir,
        version,
        warmup,
    )


PROMPT = tf.TensorSpec([None], tf.string, name="prompt")
PER_ROW = {
    "max_new_tokens": tf.TensorSpec([None], tf.int32, name="max_new_tokens"),
    "temperature": tf.TensorSpec([None], tf.float32, name="temperature"),
    "top_k": tf.TensorSpec([None], tf.int32, name="top_k"),
    "top_p": tf.TensorSpec([None], tf.float32, name="top_p"),
    "seed": tf.TensorSpec([None], tf.int32, name="seed"),
}


GENERATE_WARMUP = {
    "max_new_tokens": np.array([16, 0, 4], "int32"),
    "temperature": np.array([0.0, 0.8, 1.0], "float32"),
    "top_k": np.array([0, 40, 5], "int32"),
    "top_p": np.array([1.0, 0.95, 0.9], "float32"),
    "seed": np.array([0, 1, 2], "int32"),
}


def export_generator(generator, model_dir: str, version: int = None, warmup=None):
    """Exports a `TextGenerator`: `serving_default` (`prompt: string[None] -> completion:
    string[None]` with the generator's sampling defaults), `generate` (the same plus
    per-row `max_new_tokens`, `temperature`, `top_k`, `top_p`, `seed`) and `next_token`
    (`prompt` -> the `NEXT_TOKENS` likeliest next tokens, `tokens`: string[None, k], and
    their `probabilities`: float32[None, k]). Warm-up requests send `warmup` (texts,
    default `WARMUP_TEXTS`) to each."""
    texts = list(warmup or WARMUP_TEXTS)[:3]
    options = {name: values[: len(texts)] for name, values in GENERATE_WARMUP.items()}

    def generate(prompt, max_new_tokens, temperature, top_k, top_p, seed):
        completion = generator.complete(
            prompt,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
        )
        return {"completion": completion}

    return export_model(
        generator.model,
        {"": generator.tokenizer},
        {
            "serving_default": (
                lambda prompt: {"completion": generator.complete(prompt)},
                [PROMPT],
            ),
            "generate": (generate, [PROMPT, *PER_ROW.values()]),
            "next_token": (
                lambda prompt: _next_token(generator.next_token(prompt, NEXT_TOKENS)),
                [PROMPT],
            ),
        },
        model_dir,
        version,
        warmup=[
            ("serving_default", {"prompt": texts}),
            ("generate", {"prompt": texts, **options}),
            ("next_token", {"prompt": texts}),
        ],
    )
