"""`make bench` rewrites its own sections of RESULTS.md and keeps every other one."""

from benchmarks import run_all


def test_a_rewrite_keeps_hand_written_sections_and_places_new_ones(tmp_path, monkeypatch):
    (first, a), (second, b), (third, c) = run_all.BENCHMARKS[:3]
    monkeypatch.setattr(run_all, "BENCHMARKS", [(first, a), (second, b), (third, c)])
    path = tmp_path / "RESULTS.md"
    path.write_text(
        f"# Benchmark results\n\nheader\n\n## {a}\n\nold a\n\n"
        "## A one-off measurement\n\nkept as it is\n\n"
        f"## {c}\n\nold c\n"
    )
    rewritten = {a: f"## {a}\n\nnew a\n", b: f"## {b}\n\nnew b\n"}

    merged = run_all.merged_sections(path, rewritten)

    assert merged == [
        f"## {a}\n\nnew a\n",
        f"## {b}\n\nnew b\n",  # new: placed after the benchmark before it
        "## A one-off measurement\n\nkept as it is\n",
        f"## {c}\n\nold c\n",  # not rerun: kept
    ]
