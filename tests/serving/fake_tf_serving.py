"""A stand-in for tensorflow_model_server, for the client tests: TF Serving's REST and
gRPC predict APIs as documented, answered by running each request through the C API
loader (`run_capi`), the same loader the server uses."""

import base64
import json
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from tf_transformer.serving.conformance import ConformanceError, run_capi


def _to_array(values):
    """A JSON value as numpy: strings and `{"b64"}` as bytes objects."""

    def convert(value):
        if isinstance(value, dict) and set(value) == {"b64"}:
            return base64.b64decode(value["b64"])
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    converted = convert(values)
    flat = np.asarray(converted, dtype=object).ravel()
    if flat.size and isinstance(flat[0], bytes):
        return np.asarray(converted, dtype=object)
    return np.asarray(converted)


def _to_json(array, name):
    if array.dtype == object:
        if name.endswith("_bytes"):
            encode = np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()}, otypes=[object])
        else:
            encode = np.vectorize(lambda b: b.decode("utf-8", errors="replace"), otypes=[object])
        return encode(array).tolist() if array.size else array.tolist()
    return array.tolist()


class FakeServer:
    """Serves one export as model `name` over REST (`rest_url`) and gRPC (`grpc_target`)."""

    def __init__(self, export_dir, name):
        self.export_dir = export_dir
        self.name = name
        self.signatures = run_capi(export_dir)["signatures"]
        self.requests = []  # what clients sent, for the tests to inspect

    def predict(self, signature, inputs):
        signature = signature or "serving_default"
        if signature not in self.signatures:
            raise ValueError(f'Serving signature name: "{signature}" not found in signature def')
        self.requests.append((signature, inputs))
        try:
            return run_capi(self.export_dir, [(signature, inputs)])["results"][0]
        except ConformanceError as error:
            raise ValueError(str(error)) from None

    # REST ----------------------------------------------------------------------------------

    def rest_predict(self, body):
        signature = body.get("signature_name") or "serving_default"
        if signature not in self.signatures:
            raise ValueError(f'Serving signature name: "{signature}" not found in signature def')
        names = list(self.signatures[signature]["inputs"])
        if "instances" in body:
            instances = body["instances"]
            first = instances[0] if instances else None
            if isinstance(first, dict) and set(first) != {"b64"}:  # named inputs per row
                inputs = {k: _to_array([row[k] for row in instances]) for k in instances[0]}
            else:
                inputs = {names[0]: _to_array(instances)}
            outputs = self.predict(signature, inputs)
            if len(outputs) == 1:
                ((key, value),) = outputs.items()
                return {"predictions": _to_json(value, key)}
            rows = len(next(iter(outputs.values())))
            return {
                "predictions": [
                    {k: _to_json(v[i : i + 1], k)[0] for k, v in outputs.items()}
                    for i in range(rows)
                ]
            }
        columns = body["inputs"]
        inputs = (
            {k: _to_array(v) for k, v in columns.items()}
            if isinstance(columns, dict)
            else {names[0]: _to_array(columns)}
        )
        outputs = self.predict(signature, inputs)
        if len(outputs) == 1:
            ((key, value),) = outputs.items()
            return {"outputs": _to_json(value, key)}
        return {"outputs": {k: _to_json(v, k) for k, v in outputs.items()}}

    def start_rest(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, code, payload):
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                base = f"/v1/models/{server.name}"
                if self.path == base:
                    status = {"error_code": "OK", "error_message": ""}
                    version = {"version": "1", "state": "AVAILABLE", "status": status}
                    return self.answer(200, {"model_version_status": [version]})
                if self.path == base + "/metadata":
                    signature_def = {"signature_def": self._signature_defs()}
                    spec = {"name": server.name, "signature_name": "", "version": "1"}
                    return self.answer(
                        200, {"model_spec": spec, "metadata": {"signature_def": signature_def}}
                    )
                return self.answer(404, {"error": f"Servable not found for request: {self.path}"})

            def _signature_defs(self):
                return {
                    name: {
                        side: {
                            k: {"dtype": f"DT_{v['dtype'].upper()}", "name": v["name"]}
                            for k, v in sig[side].items()
                        }
                        for side in ("inputs", "outputs")
                    }
                    for name, sig in server.signatures.items()
                }

            def do_POST(self):
                if self.path != f"/v1/models/{server.name}:predict":
                    return self.answer(
                        404, {"error": f"Servable not found for request: {self.path}"}
                    )
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    return self.answer(200, server.rest_predict(body))
                except (ValueError, KeyError) as error:
                    return self.answer(400, {"error": str(error).strip("'\"")})

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.rest_url = f"http://127.0.0.1:{self.http.server_address[1]}"
        return self.rest_url

    # gRPC ----------------------------------------------------------------------------------

    def start_grpc(self):
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        server = self

        class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
            def Predict(self, request, context):
                if request.model_spec.name != server.name:
                    context.abort(grpc.StatusCode.NOT_FOUND, "Servable not found")
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
                try:
                    outputs = server.predict(request.model_spec.signature_name, inputs)
                except ValueError as error:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
                response = predict_pb2.PredictResponse()
                response.model_spec.CopyFrom(request.model_spec)
                for key, value in outputs.items():
                    response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
                return response

        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            Servicer(), self.grpc_server
        )
        port = self.grpc_server.add_insecure_port("127.0.0.1:0")
        self.grpc_server.start()
        self.grpc_target = f"127.0.0.1:{port}"
        return self.grpc_target

    def stop(self):
        if hasattr(self, "http"):
            self.http.shutdown()
        if hasattr(self, "grpc_server"):
            self.grpc_server.stop(0)
