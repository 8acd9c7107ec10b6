"""An embedded English corpus: the running Python's own documentation.

Module, class and function docstrings read with `ast` from the standard library's source
files (never imported), plus the language reference topics in `pydoc_data.topics`.
"""

import ast
import functools
import pathlib
import sysconfig

_SKIP_PARTS = {"site-packages", "dist-packages", "test", "tests", "idle_test"}
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


@functools.lru_cache(maxsize=1)
def documents(min_chars: int = 40) -> tuple:
    """Every distinct docstring and reference topic of at least `min_chars` characters."""
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for path in sorted(root.rglob("*.py")):
        if _SKIP_PARTS.intersection(path.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError, OSError):
            continue  # a few stdlib files are deliberately invalid (lib2to3 fixtures)
        for node in ast.walk(tree):
            if isinstance(node, _DOCUMENTED):
                doc = ast.get_docstring(node)
                if doc:
                    texts.append(doc.strip())
    from pydoc_data import topics

    texts.extend(topics.topics[name].strip() for name in sorted(topics.topics))
    return tuple(dict.fromkeys(t for t in texts if len(t) >= min_chars))
