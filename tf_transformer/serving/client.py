"""Clients for TensorFlow Serving: REST (row and columnar formats) and gRPC.

REST follows TensorFlow Serving's documented API
(https://www.tensorflow.org/tfx/serving/api_rest): `GET /v1/models/NAME` (status),
`GET /v1/models/NAME/metadata`, `POST /v1/models/NAME[/versions/N]:predict` with
`{"signature_name", "instances": [...]}` (row format) or `{"signature_name", "inputs":
{...}}` (columnar format). Strings travel as JSON strings, bytes as `{"b64": ...}`; an
answer `{"error": ...}` becomes a `ServingError` carrying the server's message.

gRPC sends a `PredictRequest` through `tensorflow-serving-api`'s `PredictionServiceStub`.
"""

import base64
import json
import urllib.error
import urllib.request

import numpy as np


class ServingError(Exception):
    """The server answered with an error; the message is the server's."""


def strings(value):
    """Plain Python values of model outputs: numpy arrays as (nested) lists, bytes decoded
    as UTF-8 text (invalid bytes replaced), dicts and lists converted item by item."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {key: strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strings(item) for item in value]
    return value


def to_json_value(value):
    """A JSON-ready copy of `value`: numpy arrays as lists, bytes as `{"b64": ...}`."""
    if isinstance(value, np.ndarray):
        return to_json_value(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {key: to_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    return value


def from_json_value(value):
    """The inverse of `to_json_value` for `{"b64": ...}` objects (as bytes)."""
    if isinstance(value, dict):
        if set(value) == {"b64"}:
            return base64.b64decode(value["b64"])
        return {key: from_json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json_value(item) for item in value]
    return value


def predict_body(inputs, signature=None, columnar=False):
    """The JSON body of a predict request.

    Row format (default): `inputs` is a list of instances, each a value (one-input
    signature) or a `{input name: value}` dict. Columnar: `inputs` is a `{input name:
    list}` dict, or one list for a one-input signature.
    """
    body = {}
    if signature:
        body["signature_name"] = signature
    if columnar:
        body["inputs"] = to_json_value(inputs)
    else:
        if isinstance(inputs, dict):
            raise ValueError("the row format takes a list of instances; use columnar=True")
        body["instances"] = to_json_value(list(inputs))
    return body


class RestClient:
    """TensorFlow Serving's REST API for one model.

    Example (with a server running):
    ```python
    client = RestClient("http://localhost:8501", "translator")
    client.predict(["Saturday, June 9, 1984"])  # ["sábado, 9 de junho de 1984"]
    client.predict({"text": ["3 kilometers"]}, signature="beam_search", columnar=True)
    ```
    """

    def __init__(self, url="http://localhost:8501", model="translator", version=None, timeout=60):
        self.url = url.rstrip("/")
        self.model = model
        self.version = version
        self.timeout = timeout

    def model_url(self):
        version = f"/versions/{self.version}" if self.version is not None else ""
        return f"{self.url}/v1/models/{self.model}{version}"

    def status(self):
        """The model's version states: `{"model_version_status": [...]}`."""
        return self._request(self.model_url())

    def metadata(self):
        """The model's signatures: `{"model_spec": ..., "metadata": {"signature_def": ...}}`."""
        return self._request(self.model_url() + "/metadata")

    def predict(self, inputs, signature=None, columnar=False):
        """`predictions` (row format) or `outputs` (columnar) of a predict request; bytes
        the server returns as `{"b64": ...}` come back as bytes."""
        body = predict_body(inputs, signature, columnar)
        answer = self._request(self.model_url() + ":predict", body)
        key = "outputs" if columnar else "predictions"
        if key not in answer:
            raise ServingError(f"the server's answer has no {key!r}: {json.dumps(answer)[:200]}")
        return from_json_value(answer[key])

    def _request(self, url, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            payload = error.read()
            message = _error_message(payload) or f"HTTP {error.code} {error.reason}"
            raise ServingError(message) from None
        except urllib.error.URLError as error:
            raise ServingError(f"cannot reach {self.url}: {error.reason}") from None
        answer = json.loads(payload)
        if isinstance(answer, dict) and "error" in answer:
            raise ServingError(answer["error"])
        return answer


def _error_message(payload):
    try:
        return json.loads(payload).get("error")
    except (ValueError, AttributeError):
        return None


def predict_request(model, inputs, signature=None, version=None):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest` for `inputs` (`{input name:
    array-like}`, strings as str or bytes)."""
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    if signature:
        request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tensor_proto(value))
    return request


def tensor_proto(value):
    """A `TensorProto` of an array-like: text (str or bytes, UTF-8 encoded; an empty list
    counts as text) as DT_STRING, numbers by their numpy dtype."""
    import tensorflow as tf

    array = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=object)
    flat = array.ravel()
    if array.dtype.kind in "SU" or (
        array.dtype == object and (flat.size == 0 or isinstance(flat[0], (str, bytes)))
    ):
        strings = np.empty(array.shape, dtype=object)
        strings.ravel()[:] = [_as_bytes(v) for v in flat]
        return tf.make_tensor_proto(strings, dtype=tf.string)
    return tf.make_tensor_proto(np.asarray(array.tolist()) if array.dtype == object else array)


def _as_bytes(value):
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def outputs_of(response):
    """`{output name: numpy array}` of a `PredictResponse` (strings as bytes)."""
    import tensorflow as tf

    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


class GrpcClient:
    """TensorFlow Serving's gRPC `PredictionService` for one model.

    Example (with a server running):
    ```python
    client = GrpcClient("localhost:8500", "translator")
    client.predict({"text": ["Saturday, June 9, 1984"]})["translation"]
    ```
    """

    def __init__(self, target="localhost:8500", model="translator", version=None, timeout=60):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.model = model
        self.version = version
        self.timeout = timeout
        self.channel = grpc.insecure_channel(target)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)

    def predict(self, inputs, signature=None):
        """`{output name: numpy array}`; a server error raises `ServingError`."""
        import grpc

        request = predict_request(self.model, inputs, signature, self.version)
        try:
            response = self.stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise ServingError(error.details() or str(error.code())) from None
        return outputs_of(response)

    def close(self):
        self.channel.close()
