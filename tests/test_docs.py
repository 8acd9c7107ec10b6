"""Every docs page runs: its Python blocks run in order in one namespace (in a scratch
directory), and where a block is followed by a `text` block, that is what it printed."""

import contextlib
import io
import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("[0-9][0-9]-*.md"))
BLOCK = re.compile(r"```(python|text)\n(.*?)```", flags=re.S)


def blocks(page):
    """(code, expected output or None) for each Python block of `page`."""
    found = BLOCK.findall(page.read_text())
    pairs = []
    for i, (kind, body) in enumerate(found):
        if kind == "python":
            following = found[i + 1] if i + 1 < len(found) else None
            expected = following[1] if following and following[0] == "text" else None
            pairs.append((body, expected))
    return pairs


def test_the_index_links_every_page_in_order():
    index = (DOCS / "README.md").read_text()
    linked = re.findall(r"\]\((\d\d-[\w-]+\.md)\)", index)
    assert linked == [page.name for page in PAGES]
    readme = (DOCS.parent / "README.md").read_text()
    assert f"docs/{PAGES[0].name}" in readme  # the README sends newcomers to page one


# pages whose blocks train and export models: `make test-slow` (with `make test`, in .ci/run)
TRAINING_PAGES = {"06-training", "07-inference", "08-export-and-serving", "09-bert", "10-gpt"}


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(page, marks=pytest.mark.slow) if page.stem in TRAINING_PAGES else page
        for page in PAGES
    ],
    ids=[page.stem for page in PAGES],
)
def test_docs_page_runs_and_prints_what_it_shows(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    pairs = blocks(page)
    assert pairs, f"{page.name} has no Python block"
    for number, (code, expected) in enumerate(pairs, start=1):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(code, f"{page.name} block {number}", "exec"), namespace)
        if expected is not None:
            assert output.getvalue() == expected, f"{page.name} block {number} printed otherwise"
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
        assert (DOCS / image).is_file(), f"{page.name} shows a missing picture {image}"


GUIDE = sorted((DOCS / "guide").glob("*.md"))


def test_the_guide_index_links_every_page():
    index = (DOCS / "guide" / "README.md").read_text()
    linked = set(re.findall(r"\]\(([\w-]+\.md)\)", index))
    assert linked == {page.name for page in GUIDE if page.name != "README.md"}
    assert "docs/guide/README.md" in (DOCS.parent / "README.md").read_text()


@pytest.mark.parametrize("page", GUIDE, ids=[page.stem for page in GUIDE])
def test_guide_page_python_blocks_run(page, tmp_path, monkeypatch, capsys):
    """Each guide page's Python blocks run in order in one namespace; the comments after
    `print` calls are what they print, and no check prints False."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"guide_{page.stem.replace('-', '_')}"}
    for number, (code, _) in enumerate(blocks(page), start=1):
        exec(compile(code, f"guide/{page.name} block {number}", "exec"), namespace)
    assert "False" not in capsys.readouterr().out
    for target in re.findall(r"\]\(([^)#:]+\.md)", page.read_text()):
        assert (page.parent / target).is_file(), f"{page.name} links a missing {target}"
