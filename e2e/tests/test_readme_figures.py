"""Measured figures in the documentation are the reference runs' numbers, never typed by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import figures


@pytest.mark.parametrize("path", list(figures.TARGETS), ids=lambda p: p.name)
def test_figures_are_rendered_from_the_reference_runs(path: Path) -> None:
    """The block between the figures markers is exactly what `just render-figures` writes."""
    text = path.read_text()
    rendered = figures.replaced(text, figures.TARGETS[path](), path)
    assert rendered == text, f"{path.name}: stale or edited by hand; run `just render-figures`"


def test_the_check_fails_on_a_figure_typed_by_hand(tmp_path: Path, monkeypatch) -> None:
    """The check mode notices a figure edited in place, and only reads."""
    readme = figures.README.read_text()
    start = readme.index(figures.BEGIN) + len(figures.BEGIN)
    edited = readme[:start] + "\nA figure typed by hand.\n" + readme[start:]
    stale = tmp_path / "README.md"
    stale.write_text(edited)
    monkeypatch.setattr(figures, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(figures, "TARGETS", {stale: figures.readme_block})
    assert figures.main(["--check"]) == 1
    assert stale.read_text() == edited


def test_the_check_runs_from_the_command_line() -> None:
    """`python -m bench.figures --check`, as CI could run it, passes on the repository."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.figures", "--check"],
        cwd=figures.PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
