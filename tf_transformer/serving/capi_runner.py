"""Loads a SavedModel the way tensorflow_model_server does and runs its signatures.

Run as a script (`python capi_runner.py`) in a fresh process: it imports neither the
`tensorflow` Python package nor tf_transformer. It loads `libtensorflow_cc.so.2` from the
TensorFlow wheel with ctypes, registers TF Text's op libraries with `TF_LoadLibrary` (the
server links them in), loads the export with `TF_LoadSessionFromSavedModel` (the C++
`LoadSavedModel` the server uses) and runs each request with `TF_SessionRun`, feeding and
fetching the tensor names of the SignatureDef.

Reads one JSON object on stdin: {"export_dir", "tf_dir", "op_libraries": [...],
"requests": [{"signature": NAME, "inputs": {KEY: {"dtype", "shape", "values"}}}]}
(string values base64-encoded; an optional "repeat" runs a request that many times).
Writes one JSON object on stdout: {"signatures": {...}, "ops": [...], "op_sources": {op:
"core" or the op library registering it, or null}, "results": [{KEY: {"dtype", "shape",
"values"}}], "seconds": [[per run]], "peak_rss_mb"}; on failure "error" and whatever
was known by then (the signatures and ops once the export loaded).
"""

import base64
import ctypes
import json
import os
import resource
import struct
import sys
import time

import numpy as np

TF_STRING = 7
NUMPY_DTYPES = {1: "float32", 2: "float64", 3: "int32", 9: "int64", 10: "bool", 4: "uint8"}
DTYPE_NAMES = {1: "float32", 2: "float64", 3: "int32", 7: "string", 9: "int64", 10: "bool"}
DTYPE_NAMES.update({4: "uint8", 14: "bfloat16", 19: "float16"})
TSTRING_SIZE = 24


# A protobuf wire-format reader: enough of MetaGraphDef for signatures and op names.
def _fields(buffer):
    """{field number: [value, ...]} of one message (varints as ints, the rest as bytes)."""
    fields, i = {}, 0
    while i < len(buffer):
        key, i = _varint(buffer, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buffer, i)
        elif wire == 2:
            length, i = _varint(buffer, i)
            value, i = buffer[i : i + length], i + length
        elif wire == 1:
            value, i = buffer[i : i + 8], i + 8
        elif wire == 5:
            value, i = buffer[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _varint(buffer, i):
    result = shift = 0
    while True:
        byte = buffer[i]
        result |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return result, i
        shift += 7


def _map(entries):
    out = {}
    for entry in entries:
        fields = _fields(entry)
        out[fields[1][0].decode()] = fields.get(2, [b""])[0]
    return out


def _tensor_info(buffer):
    fields = _fields(buffer)
    shape = None
    if 3 in fields:
        shape_fields = _fields(fields[3][0])
        if not shape_fields.get(3, [0])[0]:
            shape = []
            for dim in shape_fields.get(2, []):
                size = _fields(dim).get(1, [0])[0]
                shape.append(size - (1 << 64) if size >= 1 << 63 else size)
    return {
        "name": fields.get(1, [b""])[0].decode(),
        "dtype": DTYPE_NAMES.get(fields.get(2, [0])[0], str(fields.get(2, [0])[0])),
        "shape": shape,
    }


def read_meta_graph(buffer):
    """Signatures and the op types of the graph and its function library."""
    meta = _fields(buffer)
    signatures = {}
    for name, signature in _map(meta.get(5, [])).items():
        fields = _fields(signature)
        signatures[name] = {
            "inputs": {k: _tensor_info(v) for k, v in _map(fields.get(1, [])).items()},
            "outputs": {k: _tensor_info(v) for k, v in _map(fields.get(2, [])).items()},
            "method_name": fields.get(3, [b""])[0].decode(),
        }
    ops = set()
    graph = _fields(meta.get(2, [b""])[0])
    for node in graph.get(1, []):
        ops.add(_fields(node).get(2, [b""])[0].decode())
    for library in graph.get(2, []):
        for function in _fields(library).get(1, []):
            for node in _fields(function).get(3, []):
                ops.add(_fields(node).get(2, [b""])[0].decode())
    return signatures, sorted(ops)


def read_saved_model(buffer):
    """Signatures and op types of the first MetaGraphDef of a serialized SavedModel
    (`saved_model.pb`: field 2 holds the meta graphs), read without loading anything."""
    return read_meta_graph(_fields(buffer)[2][0])


class _Buffer(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("length", ctypes.c_size_t), ("free", ctypes.c_void_p)]


class _Output(ctypes.Structure):
    _fields_ = [("oper", ctypes.c_void_p), ("index", ctypes.c_int)]


def _bytes_of(buffer):
    return ctypes.string_at(buffer.data, buffer.length)


def op_names(op_list):
    """The op names of a serialized `OpList` (field 1: OpDef, whose field 1 is the name)."""
    return sorted(_fields(op_def)[1][0].decode() for op_def in _fields(op_list).get(1, []))


class CApi:
    def __init__(self, tf_dir):
        lib = ctypes.CDLL(os.path.join(tf_dir, "libtensorflow_cc.so.2"), mode=ctypes.RTLD_GLOBAL)
        pointer, size, i64 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64
        signatures = {
            "TF_NewStatus": ([], pointer),
            "TF_GetCode": ([pointer], ctypes.c_int),
            "TF_Message": ([pointer], ctypes.c_char_p),
            "TF_NewGraph": ([], pointer),
            "TF_NewSessionOptions": ([], pointer),
            "TF_NewBuffer": ([], ctypes.POINTER(_Buffer)),
            "TF_LoadLibrary": ([ctypes.c_char_p, pointer], pointer),
            "TF_GetOpList": ([pointer], _Buffer),
            "TF_GetAllOpList": ([], ctypes.POINTER(_Buffer)),
            "TF_DeleteTensor": ([pointer], None),
            "TF_LoadSessionFromSavedModel": (
                [
                    pointer,
                    pointer,
                    ctypes.c_char_p,
                    ctypes.POINTER(ctypes.c_char_p),
                    ctypes.c_int,
                    pointer,
                    ctypes.POINTER(_Buffer),
                    pointer,
                ],
                pointer,
            ),
            "TF_GraphOperationByName": ([pointer, ctypes.c_char_p], pointer),
            "TF_SessionRun": (
                [
                    pointer,
                    pointer,
                    ctypes.POINTER(_Output),
                    ctypes.POINTER(pointer),
                    ctypes.c_int,
                    ctypes.POINTER(_Output),
                    ctypes.POINTER(pointer),
                    ctypes.c_int,
                    pointer,
                    ctypes.c_int,
                    pointer,
                    pointer,
                ],
                None,
            ),
            "TF_AllocateTensor": ([ctypes.c_int, ctypes.POINTER(i64), ctypes.c_int, size], pointer),
            "TF_TensorData": ([pointer], pointer),
            "TF_TensorType": ([pointer], ctypes.c_int),
            "TF_NumDims": ([pointer], ctypes.c_int),
            "TF_Dim": ([pointer, ctypes.c_int], i64),
            "TF_TensorByteSize": ([pointer], size),
            "TF_TensorElementCount": ([pointer], i64),
            "TF_StringInit": ([pointer], None),
            "TF_StringCopy": ([pointer, ctypes.c_char_p, size], None),
            "TF_StringGetDataPointer": ([pointer], pointer),
        }
        for name, (argtypes, restype) in signatures.items():
            function = getattr(lib, name)
            function.argtypes, function.restype = argtypes, restype
            setattr(self, name[3:], function)
        self.status = self.NewStatus()

    def check(self, what):
        if self.GetCode(self.status) != 0:
            raise RuntimeError(f"{what}: {self.Message(self.status).decode(errors='replace')}")

    def load_library(self, path):
        """Registers the ops of a shared library; returns their names."""
        library = self.LoadLibrary(path.encode(), self.status)
        self.check(f"TF_LoadLibrary({os.path.basename(path)})")
        return op_names(_bytes_of(self.GetOpList(library)))

    def registered_ops(self):
        """The names of every op registered in the process so far."""
        return op_names(_bytes_of(self.GetAllOpList().contents))

    def load(self, export_dir):
        graph = self.NewGraph()
        meta = self.NewBuffer()
        tags = (ctypes.c_char_p * 1)(b"serve")
        session = self.LoadSessionFromSavedModel(
            self.NewSessionOptions(), None, export_dir.encode(), tags, 1, graph, meta, self.status
        )
        self.check("TF_LoadSessionFromSavedModel")
        return graph, session, ctypes.string_at(meta.contents.data, meta.contents.length)

    def tensor(self, spec):
        shape = spec["shape"]
        dims = (ctypes.c_int64 * len(shape))(*shape)
        if spec["dtype"] == "string":
            values = [base64.b64decode(v) for v in spec["values"]]
            tensor = self.AllocateTensor(TF_STRING, dims, len(shape), TSTRING_SIZE * len(values))
            data = self.TensorData(tensor)
            for i, value in enumerate(values):
                self.StringInit(data + i * TSTRING_SIZE)
                self.StringCopy(data + i * TSTRING_SIZE, value, len(value))
            return tensor
        array = np.asarray(spec["values"], dtype=spec["dtype"]).reshape(shape)
        code = {v: k for k, v in NUMPY_DTYPES.items()}[spec["dtype"]]
        tensor = self.AllocateTensor(code, dims, len(shape), array.nbytes)
        ctypes.memmove(self.TensorData(tensor), array.ctypes.data, array.nbytes)
        return tensor

    def read(self, tensor):
        shape = [self.Dim(tensor, i) for i in range(self.NumDims(tensor))]
        code, data = self.TensorType(tensor), self.TensorData(tensor)
        if code == TF_STRING:
            values = []
            for i in range(self.TensorElementCount(tensor)):
                address = data + i * TSTRING_SIZE
                header = struct.unpack("<Q", ctypes.string_at(address, 8))[0]
                # TF_TString: the low 2 bits are the kind; SMALL keeps the size in byte 0
                size = (header & 0xFF) >> 2 if header & 3 == 0 else header >> 2
                raw = ctypes.string_at(self.StringGetDataPointer(address), size)
                values.append(base64.b64encode(raw).decode())
            return {"dtype": "string", "shape": shape, "values": values}
        dtype = NUMPY_DTYPES[code]
        raw = ctypes.string_at(data, self.TensorByteSize(tensor))
        array = np.frombuffer(raw, dtype=dtype).reshape(shape)
        return {"dtype": dtype, "shape": shape, "values": array.tolist()}

    def run(self, graph, session, signature, inputs):
        def endpoint(tensor_name):
            op_name, _, index = tensor_name.partition(":")
            operation = self.GraphOperationByName(graph, op_name.encode())
            if not operation:
                raise RuntimeError(f"no operation {op_name!r} in the graph")
            return _Output(operation, int(index or 0))

        in_keys = sorted(inputs)
        missing = set(signature["inputs"]) - set(in_keys)
        if missing:
            raise RuntimeError(f"request lacks inputs {sorted(missing)}")
        out_keys = sorted(signature["outputs"])
        feeds = (_Output * len(in_keys))(
            *[endpoint(signature["inputs"][k]["name"]) for k in in_keys]
        )
        values = (ctypes.c_void_p * len(in_keys))(*[self.tensor(inputs[k]) for k in in_keys])
        fetches = (_Output * len(out_keys))(
            *[endpoint(signature["outputs"][k]["name"]) for k in out_keys]
        )
        results = (ctypes.c_void_p * len(out_keys))()
        self.SessionRun(
            session,
            None,
            feeds,
            values,
            len(in_keys),
            fetches,
            results,
            len(out_keys),
            None,
            0,
            None,
            self.status,
        )
        for value in values:
            self.DeleteTensor(value)
        self.check("TF_SessionRun")
        outputs = {key: self.read(results[i]) for i, key in enumerate(out_keys)}
        for i in range(len(out_keys)):
            self.DeleteTensor(results[i])
        return outputs


def peak_rss_mb():
    """This process's peak resident memory since it started this program. Linux's VmHWM
    belongs to the address space exec created; `ru_maxrss` would also count the parent's
    memory at fork time."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    request = json.load(sys.stdin)
    answer = {}
    try:
        api = CApi(request["tf_dir"])
        sources = {name: "core" for name in api.registered_ops()}
        for library in request.get("op_libraries", []):
            for name in api.load_library(library):
                sources.setdefault(name, os.path.basename(library))
        graph, session, meta = api.load(request["export_dir"])
        signatures, ops = read_meta_graph(meta)
        answer["signatures"], answer["ops"] = signatures, ops
        answer["op_sources"] = {name: sources.get(name) for name in ops}
        results, seconds = [], []
        for call in request.get("requests", []):
            if call["signature"] not in signatures:
                raise RuntimeError(f"no signature {call['signature']!r}")
            times = []
            for _ in range(max(1, call.get("repeat", 1))):
                start = time.perf_counter()
                result = api.run(graph, session, signatures[call["signature"]], call["inputs"])
                times.append(time.perf_counter() - start)
            results.append(result)
            seconds.append(times)
        answer.update(results=results, seconds=seconds)
    except Exception as error:  # reported to the parent process, which raises it
        answer["error"] = f"{type(error).__name__}: {error}"
    answer["peak_rss_mb"] = peak_rss_mb()
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
