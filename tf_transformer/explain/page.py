"""The explain page: one self-contained HTML file a browser opens from disk.

The trace's numbers travel as one binary block beside a JSON description that points into
it: float16, float32, int32 and uint8 arrays (uint16: probabilities in 1/65535 steps) laid
end to end, each 2-byte array as its low bytes then its high bytes (which deflates far
better), deflated, then base85 (RFC 1924's alphabet: no `/` to close the script element,
a quarter more bytes where base64 costs a third). The page's script inflates it with the
browser's own `DecompressionStream`. Script and style are this package's `page.js` and
`page.css`, inlined; a content-security policy forbids every request (no `connect-src`,
no remote `src`), so the page works, and stays, offline.
"""

import base64
import html
import json
import re
import zlib
from importlib import resources

import numpy as np

from tf_transformer.training.backup import atomic_write

POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:"
)
# uint16 arrays are probabilities in steps of 1/65535 (`trace.probabilities_u16`)
DTYPES = {"float16": "f2", "float32": "f4", "int32": "i4", "uint8": "u1", "uint16": "p2"}


def pack(trace) -> tuple:
    """`(description, data)`: the trace with every numpy array replaced by `{"$": offset,
    "dtype", "shape"}` into `data`, the arrays' bytes (each aligned to 8)."""
    chunks, size = [], 0

    def walk(value):
        nonlocal size
        if isinstance(value, np.ndarray):
            array = value
            if array.dtype == np.float64:
                array = array.astype(np.float32)
            elif array.dtype in (np.int64, np.bool_):
                array = array.astype(np.int32 if array.dtype == np.int64 else np.uint8)
            array = np.ascontiguousarray(array)
            if array.dtype.name not in DTYPES:
                raise TypeError(f"cannot pack a {array.dtype} array")
            ref = {"$": size, "dtype": DTYPES[array.dtype.name], "shape": list(array.shape)}
            raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
            if array.dtype.itemsize == 2:  # low bytes, then high bytes: deflates far better
                raw = np.frombuffer(raw, np.uint8).reshape(-1, 2).T.tobytes()
            raw += b"\0" * (-len(raw) % 8)
            chunks.append(raw)
            size += len(raw)
            return ref
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    description = walk(trace)
    return description, b"".join(chunks)


def asset(name) -> str:
    return resources.files("tf_transformer.explain").joinpath(name).read_text("utf-8")


def render(trace) -> str:
    """The page's HTML for a trace (see `trace`, `translation`, `gpt`, `bert`)."""
    description, data = pack(trace)
    described = json.dumps(description, ensure_ascii=False, separators=(",", ":"))
    described = described.replace("<", "\\u003c")  # no `</script>` from a user's text
    encoded = base64.b85encode(zlib.compress(data, 9)).decode("ascii")
    meta = trace["meta"]
    title = f"{meta['family']} explained: {meta['text'][:60]}"
    values = {
        "policy": POLICY,
        "title": html.escape(title),
        "style": asset("page.css"),
        "description": described,
        "data": encoded,
        "script": asset("page.js"),
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], asset("page.html"))


def write_page(trace, path) -> str:
    """Writes the page to `path` whole or not at all (a temporary file, renamed)."""
    page = render(trace)

    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(page)

    atomic_write(path, write)
    return path
