"""The conformance check: does an export load and answer in TensorFlow Serving's loader?

tensorflow_model_server cannot be installed here, so the check loads the export through
the TensorFlow C API (`TF_LoadSessionFromSavedModel`, the C++ loader the server uses) in
a fresh process that never imports the `tensorflow` Python package, with TF Text's op
libraries registered as the server links them, and runs each signature by the tensor
names of its SignatureDef (`capi_runner.py`). A Python reload is no evidence: a tf.Module
that reloads in Python can still fail in the C++ loader.
"""

import base64
import dataclasses
import glob
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

from tf_transformer.cpu import capped_below_bfloat16
from tf_transformer.errors import InputError
from tf_transformer.serving.capi_runner import read_saved_model

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "capi_runner.py")
SAMPLE_TEXTS = ["", "   ", "Saturday, June 9, 1984", "3 kilometers", "🙂 Здравствуйте 東京"]


class ConformanceError(Exception):
    """The export does not load or run in the C API loader, or its outputs differ."""


def _package_dir(name):
    spec = importlib.util.find_spec(name)  # locates without importing
    return spec.submodule_search_locations[0]


def op_libraries():
    """TF Text's custom-op shared libraries, which tensorflow_model_server links in."""
    ops_dir = os.path.join(_package_dir("tensorflow_text"), "python", "ops")
    return sorted(glob.glob(os.path.join(ops_dir, "_*.so")))


def encode(values, dtype=None):
    """A runner tensor spec for a list (strings are base64-encoded)."""
    array = np.asarray(values)
    if dtype == "string" or array.dtype.kind in "USO":
        flat = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in array.ravel()]
        return {
            "dtype": "string",
            "shape": list(array.shape),
            "values": [base64.b64encode(v).decode() for v in flat],
        }
    dtype = dtype or str(array.dtype)
    return {
        "dtype": dtype,
        "shape": list(array.shape),
        "values": array.astype(dtype).ravel().tolist(),
    }


def decode(spec):
    """A numpy array from a runner tensor spec (strings as bytes objects)."""
    if spec["dtype"] == "string":
        values = [base64.b64decode(v) for v in spec["values"]]
        return np.array(values, dtype=object).reshape(spec["shape"])
    return np.asarray(spec["values"], dtype=spec["dtype"]).reshape(spec["shape"])


def _saved_model_pb(export_dir):
    path = os.path.join(export_dir, "saved_model.pb")
    if not os.path.isfile(path):
        raise InputError(f"{export_dir}: not a SavedModel (no saved_model.pb)")
    return path


def run_capi(export_dir: str, requests=(), timeout: float = 900, repeat: int = 1) -> dict:
    """Loads `export_dir` in a fresh process through the C API and runs `requests`
    (`[(signature, {input: numpy-like})]`), each `repeat` times. Returns the signatures,
    the op types and where each is registered, one `{output: numpy array}` per request,
    the seconds of every run, and the process's peak resident memory (`peak_rss_mb`)."""
    _saved_model_pb(export_dir)
    payload = {
        "export_dir": os.path.abspath(export_dir),
        "tf_dir": _package_dir("tensorflow"),
        "op_libraries": op_libraries(),
        "requests": [
            {
                "signature": name,
                "inputs": {k: encode(v) for k, v in inputs.items()},
                "repeat": repeat,
            }
            for name, inputs in requests
        ],
    }
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.run(
        [sys.executable, RUNNER],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    try:
        answer = json.loads(process.stdout)
    except json.JSONDecodeError:
        tail = process.stderr.strip().splitlines()[-3:]
        hint = ""
        if "dnnl::error" in process.stderr and capped_below_bfloat16():
            hint = (
                " (oneDNN is capped below bfloat16 by ONEDNN_MAX_CPU_ISA: run a bfloat16 "
                "export with TF_ENABLE_ONEDNN_OPTS=0)"
            )
        raise ConformanceError(f"the C API loader crashed: {' | '.join(tail)}{hint}") from None
    if "error" in answer:
        if "op_sources" in answer:  # loaded: an op the server lacks is the likelier cause
            audit_ops(answer["op_sources"])
        raise ConformanceError(answer["error"])
    answer["results"] = [{k: decode(v) for k, v in r.items()} for r in answer["results"]]
    return answer


# Ops registered in TensorFlow's Python package but whose kernels live in Python: a graph
# that uses them cannot run in tensorflow_model_server.
PYTHON_ONLY_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


def audit_ops(op_sources: dict):
    """Fails, naming the op, if the graph uses an op outside what tensorflow_model_server
    links: TensorFlow's core ops and TF Text's op libraries (`op_sources` maps each op
    of the graph and its function library to "core", a library file, or None)."""
    for op, source in sorted(op_sources.items()):
        if op in PYTHON_ONLY_OPS:
            raise ConformanceError(f"op {op} runs Python; tensorflow_model_server cannot run it")
        if source is None:
            raise ConformanceError(
                f"op {op} is neither a TensorFlow core op nor one of TF Text's; "
                "tensorflow_model_server does not link it"
            )


def check_batch_first(signatures: dict):
    """Fails unless every input and output of every serving signature is batch-first
    (`[None, ...]`), as TF Serving's row format and batching need."""
    for name, signature in signatures.items():
        if name.startswith("__"):
            continue
        for side in ("inputs", "outputs"):
            for key, info in signature[side].items():
                shape = info["shape"]
                if not shape or shape[0] != -1:
                    raise ConformanceError(
                        f"{name}/{key}: shape {shape} is not batch-first ([None, ...])"
                    )


def saved_model_cli_show(export_dir: str, signatures) -> str:
    """Runs `saved_model_cli show --all` on the export; fails unless it lists every
    signature."""
    script = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    command = (
        [script]
        if os.path.exists(script)
        else [
            sys.executable,
            "-m",
            "tensorflow.python.tools.saved_model_cli",
        ]
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [*command, "show", "--dir", export_dir, "--all"], capture_output=True, text=True, env=env
    )
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ConformanceError(f"saved_model_cli show --all failed: {tail[0]}")
    for name in signatures:
        if f"signature_def['{name}']" not in result.stdout:
            raise ConformanceError(f"saved_model_cli show --all does not list {name!r}")
    return result.stdout


@dataclasses.dataclass
class Report:
    export_dir: str
    signatures: dict
    ops: list
    compared: list  # (signature, inputs, C API outputs)
    op_sources: dict = dataclasses.field(default_factory=dict)
    peak_rss_mb: float = 0.0
    warmup_requests: int = 0
    reference: list = None  # what the outputs were compared with, one dict a request
    reloaded: bool = False  # whether that was the export reloaded in Python

    def lines(self):
        yield f"loaded {self.export_dir} with TF_LoadSessionFromSavedModel (tag 'serve')"
        text_ops = sorted(op for op, source in self.op_sources.items() if source != "core")
        yield (
            f"op audit: {len(self.ops)} op types, {len(self.ops) - len(text_ops)} TensorFlow "
            f"core, {len(text_ops)} TF Text ({', '.join(text_ops) or 'none'})"
        )
        yield "every signature is batch-first; saved_model_cli show --all reads the export"
        for name, signature in sorted(self.signatures.items()):
            if name.startswith("__"):  # the SavedModel init op, not a serving signature
                continue
            ins = ", ".join(
                f"{k}: {v['dtype']}{v['shape']}" for k, v in sorted(signature["inputs"].items())
            )
            outs = ", ".join(
                f"{k}: {v['dtype']}{v['shape']}" for k, v in sorted(signature["outputs"].items())
            )
            yield f"signature {name}: ({ins}) -> ({outs})"
        if self.warmup_requests:
            yield (
                f"warmup: the {self.warmup_requests} requests of "
                "assets.extra/tf_serving_warmup_requests ran"
            )
        for name, inputs, _ in self.compared:
            rows = len(next(iter(inputs.values()))) if inputs else 0
            yield f"ran {name} on {rows} inputs: outputs equal {self.compared_with}"

    @property
    def compared_with(self):
        return "the export reloaded in Python" if self.reloaded else "the in-process ones"


def _assert_equal(name, key, served, expected):
    expected = np.asarray(expected)
    if served.shape != expected.shape:
        raise ConformanceError(f"{name}/{key}: shape {served.shape} != in-process {expected.shape}")
    if served.dtype == object:
        expected = np.array(
            [e.encode() if isinstance(e, str) else bytes(e) for e in expected.ravel()], dtype=object
        ).reshape(expected.shape)
        if not np.array_equal(served, expected):
            index = next(
                i
                for i, (a, b) in enumerate(zip(served.ravel(), expected.ravel(), strict=True))
                if a != b
            )
            raise ConformanceError(
                f"{name}/{key}[{index}]: served {served.ravel()[index]!r} "
                f"!= in-process {expected.ravel()[index]!r}"
            )
    elif not np.allclose(served, expected, atol=1e-5, rtol=1e-5):
        raise ConformanceError(f"{name}/{key}: served values differ from in-process values")


def check_export(export_dir: str, requests=None, expected=None) -> Report:
    """The conformance check. Loads the export through the C API, audits its ops
    (`audit_ops`), checks every signature is batch-first and that `saved_model_cli show
    --all` reads it, runs `requests` (default: `SAMPLE_TEXTS` into every all-string
    signature) and compares every output with `expected` (one `{output: values}` per
    request) or, without it, with the same signature reloaded in this process."""
    if requests is None:
        with open(_saved_model_pb(export_dir), "rb") as handle:
            signatures, _ = read_saved_model(handle.read())  # no load just to list them
        requests = [
            (name, {key: SAMPLE_TEXTS for key in sig["inputs"]})
            for name, sig in sorted(signatures.items())
            if sig["inputs"] and all(v["dtype"] == "string" for v in sig["inputs"].values())
        ]
    warmup = _warmup_requests(export_dir)
    answer = run_capi(export_dir, [*requests, *warmup])
    signatures, served = answer["signatures"], answer["results"][: len(requests)]
    audit_ops(answer["op_sources"])
    check_batch_first(signatures)
    saved_model_cli_show(export_dir, [name for name in signatures if not name.startswith("__")])
    reloaded = expected is None
    if reloaded:
        expected = _python_outputs(export_dir, requests)
    for (name, _), got, want in zip(requests, served, expected, strict=True):
        for key in signatures[name]["outputs"]:
            _assert_equal(name, key, got[key], want[key])
    return Report(
        export_dir,
        signatures,
        answer["ops"],
        [(name, inputs, got) for (name, inputs), got in zip(requests, served, strict=True)],
        answer["op_sources"],
        answer["peak_rss_mb"],
        len(warmup),
        expected,
        reloaded,
    )


def _warmup_requests(export_dir):
    path = os.path.join(export_dir, "assets.extra", "tf_serving_warmup_requests")
    if not os.path.isfile(path):
        return []
    from tf_transformer.serving.export import read_warmup

    return read_warmup(path)


def _python_outputs(export_dir, requests):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  registers TF Text's ops for the Python loader

    loaded = tf.saved_model.load(export_dir)
    outputs = []
    for name, inputs in requests:
        result = loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
        outputs.append({k: v.numpy() for k, v in result.items()})
    return outputs


def hostile_batches():
    """What every served text signature must answer: `{what: batch of texts}`."""
    return {
        "empty batch": np.array([], dtype=object),
        "empty strings": ["", "", " "],
        "10,000 characters": ["kilometers " * 909 + "x", "é" * 10000],
        "invalid UTF-8": [b"\xff\xfe", b"abc\xc3", b"\x80 kilometers"],
        "batch of 256": [f"{i} kilometers" for i in range(256)],
    }


def check_hostile(
    export_dir, signature, input_name, in_process, max_rss_mb=2048, other_inputs=None
):
    """Runs `hostile_batches()` into `signature` through the C API; every answer must have
    one row per text and equal `in_process(texts) -> {output: values}`, and the loader's
    peak memory must stay under `max_rss_mb`. `other_inputs(batch_size) -> {name: values}`
    fills a signature's other per-row inputs. Returns the loader's peak in MB."""
    batches = hostile_batches()
    requests = [
        (signature, {input_name: texts, **(other_inputs(len(texts)) if other_inputs else {})})
        for texts in batches.values()
    ]
    answer = run_capi(export_dir, requests)
    for (what, texts), served in zip(batches.items(), answer["results"], strict=True):
        expected = in_process(texts) if len(texts) else None
        for key, value in served.items():
            if value.shape[:1] != (len(texts),):
                raise ConformanceError(f"{what}: {key} has shape {value.shape}")
            if expected is not None:
                _assert_equal(f"{signature} on {what}", key, value, expected[key])
    if answer["peak_rss_mb"] > max_rss_mb:
        raise ConformanceError(f"the loader peaked at {answer['peak_rss_mb']:.0f} MB")
    return answer["peak_rss_mb"]
