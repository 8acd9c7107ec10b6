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

from tf_transformer.errors import InputError

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


def run_capi(export_dir: str, requests=(), timeout: float = 900) -> dict:
    """Loads `export_dir` in a fresh process through the C API and runs `requests`
    (`[(signature, {input: numpy-like})]`). Returns the signatures, the op types and one
    `{output: numpy array}` per request."""
    if not os.path.isfile(os.path.join(export_dir, "saved_model.pb")):
        raise InputError(f"{export_dir}: not a SavedModel (no saved_model.pb)")
    payload = {
        "export_dir": os.path.abspath(export_dir),
        "tf_dir": _package_dir("tensorflow"),
        "op_libraries": op_libraries(),
        "requests": [
            {"signature": name, "inputs": {k: encode(v) for k, v in inputs.items()}}
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
        raise ConformanceError(f"the C API loader crashed: {' | '.join(tail)}") from None
    if "error" in answer:
        raise ConformanceError(answer["error"])
    answer["results"] = [{k: decode(v) for k, v in r.items()} for r in answer["results"]]
    return answer


@dataclasses.dataclass
class Report:
    export_dir: str
    signatures: dict
    ops: list
    compared: list  # (signature, inputs, C API outputs)

    def lines(self):
        yield f"loaded {self.export_dir} with TF_LoadSessionFromSavedModel (tag 'serve')"
        yield f"{len(self.ops)} op types; TF Text op libraries registered: {len(op_libraries())}"
        for name, signature in sorted(self.signatures.items()):
            if name.startswith("__"):  # the SavedModel init op, not a serving signature
                continue
            ins = ", ".join(
                f"{k}: {v['dtype']}{v['shape']}" for k, v in signature["inputs"].items()
            )
            outs = ", ".join(
                f"{k}: {v['dtype']}{v['shape']}" for k, v in signature["outputs"].items()
            )
            yield f"signature {name}: ({ins}) -> ({outs})"
        for name, inputs, _ in self.compared:
            rows = len(next(iter(inputs.values()))) if inputs else 0
            yield f"ran {name} on {rows} inputs: outputs equal the in-process ones"


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
    """Runs `requests` (default: `SAMPLE_TEXTS` into every all-string signature) through
    the C API and compares every output with `expected` (one `{output: values}` per
    request), or, without it, with the same signature reloaded in this process."""
    if requests is None:
        signatures = run_capi(export_dir, ())["signatures"]
        requests = [
            (name, {key: SAMPLE_TEXTS for key in sig["inputs"]})
            for name, sig in sorted(signatures.items())
            if sig["inputs"] and all(v["dtype"] == "string" for v in sig["inputs"].values())
        ]
    answer = run_capi(export_dir, requests)
    signatures, served = answer["signatures"], answer["results"]
    if expected is None:
        expected = _python_outputs(export_dir, requests)
    for (name, _), got, want in zip(requests, served, expected, strict=True):
        for key in signatures[name]["outputs"]:
            _assert_equal(name, key, got[key], want[key])
    return Report(
        export_dir,
        signatures,
        answer["ops"],
        [(name, inputs, got) for (name, inputs), got in zip(requests, served, strict=True)],
    )


def _python_outputs(export_dir, requests):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  registers TF Text's ops for the Python loader

    loaded = tf.saved_model.load(export_dir)
    outputs = []
    for name, inputs in requests:
        result = loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
        outputs.append({k: v.numpy() for k, v in result.items()})
    return outputs
