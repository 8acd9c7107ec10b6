"""The package's floors, read from the source: no import runs back up a floor (`cli` ->
`pipelines` recipes -> `pipelines.corpora`/`pipelines.runs` -> `models`/`generation`/
`serving` -> `layers`/`text`/`training`), and no modules import each other in a circle
(every import counts, those inside functions too)."""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOORS = [  # (prefix, floor): the first prefix a module starts with decides
    ("tf_transformer.cli", 5),
    ("tf_transformer.__main__", 5),
    ("pipelines.corpora", 3),
    ("pipelines.runs", 3),
    ("pipelines", 4),
    ("tf_transformer.models", 2),
    ("tf_transformer.generation", 2),
    ("tf_transformer.serving", 2),
    ("tf_transformer.plotting", 2),
    ("tf_transformer.explain", 2),
    ("tf_transformer.layers", 1),
    ("tf_transformer.text", 1),
    ("tf_transformer.training", 1),
    ("tf_transformer", 0),
]


def _modules():
    found = {}
    for package in ("tf_transformer", "pipelines"):
        for directory, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    found[module.removesuffix(".__init__")] = path
    return found


def _imports(modules):
    """module -> the package's modules it imports (anywhere in its source)."""
    graph = {}
    for module, path in modules.items():
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        with open(path) as handle:
            tree = ast.parse(handle.read())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    names.add(full if full in modules else base)
        graph[module] = {name for name in names if name in modules and name != module}
    return graph


def _floor(module):
    return next(
        floor for prefix, floor in FLOORS if module == prefix or module.startswith(prefix + ".")
    )


def _upward(graph):
    return [
        f"{module} -> {name}"
        for module, names in sorted(graph.items())
        for name in sorted(names)
        if _floor(name) > _floor(module)
    ]


def _circles(graph):
    # a package's __init__ re-exporting its modules is not a circle back to it
    edges = {m: {n for n in names if not m.startswith(n + ".")} for m, names in graph.items()}
    state, circles = {}, []

    def visit(module, path):
        state[module] = "open"
        for name in sorted(edges[module]):
            if state.get(name) == "open":
                circles.append(" -> ".join([*path[path.index(name) :], name]))
            elif name not in state:
                visit(name, [*path, name])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    return circles


def test_no_import_runs_back_up_a_floor():
    graph = _imports(_modules())
    assert "pipelines.corpora.sources" in graph and "pipelines.runs.start" in graph
    assert _upward(graph) == []


def test_no_modules_import_each_other_in_a_circle():
    assert _circles(_imports(_modules())) == []


def test_the_walk_finds_a_planted_circle_and_upward_import():
    graph = _imports(_modules())
    assert "pipelines.corpora.splits" in graph["pipelines.corpora.sources"]
    graph["pipelines.corpora.splits"].add("pipelines.corpora.sources")
    graph["tf_transformer.layers.attention"].add("pipelines.translation")
    planted = "pipelines.corpora.splits -> pipelines.corpora.sources -> pipelines.corpora.splits"
    assert planted in _circles(graph)
    assert _upward(graph) == ["tf_transformer.layers.attention -> pipelines.translation"]
