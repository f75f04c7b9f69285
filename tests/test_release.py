"""release/ is exactly what nbgrader generates from source/, and gives nothing away."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from conftest import ASSIGNMENTS, ROOT
from course_utils.assignments import generate, outputs_of, solution_lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_regenerated_exactly(tmp_path, assignment):
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(ROOT / "source" / assignment, tmp_path / "source" / assignment)
    fresh = generate(assignment, tmp_path)
    committed = ROOT / "release" / assignment
    names = sorted(p.name for p in fresh.iterdir())
    assert names == sorted(p.name for p in committed.iterdir())
    for name in names:
        assert (fresh / name).read_bytes() == (committed / name).read_bytes(), (
            f"release/{assignment}/{name} is stale: run `make release` and commit it"
        )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_or_hidden_test(assignment):
    source = ROOT / "source" / assignment / f"{assignment}.ipynb"
    released = ROOT / "release" / assignment / f"{assignment}.ipynb"
    text = "\n".join(c.source for c in nbformat.read(released, as_version=4).cells)
    lines = solution_lines(source)
    assert len(lines) > 20
    leaked = sorted(line for line in lines if line in text)
    assert leaked == []
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "MARK SCHEME"):
        assert marker not in text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_leak_check_finds_solutions_in_the_instructor_notebook(assignment):
    source = ROOT / "source" / assignment / f"{assignment}.ipynb"
    text = "\n".join(c.source for c in nbformat.read(source, as_version=4).cells)
    lines = solution_lines(source)
    assert lines and all(line in text for line in lines)
    assert "### BEGIN SOLUTION" not in lines and "import numpy as np" not in lines


@pytest.mark.parametrize("folder", ["source", "release"])
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebooks_are_committed_without_outputs(folder, assignment):
    path = ROOT / folder / assignment / f"{assignment}.ipynb"
    assert outputs_of(path) == []
    meta = json.loads(path.read_text())["metadata"]
    assert meta["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_cell_has_nbgrader_metadata_and_test_cells_have_points(assignment):
    nb = nbformat.read(ROOT / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells]
    assert len(ids) == len(set(ids))
    graded = [c.metadata["nbgrader"] for c in nb.cells if c.metadata["nbgrader"]["grade"]]
    assert graded and all(m["points"] > 0 for m in graded)
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        if meta["grade"] and cell.cell_type == "code":
            assert meta["locked"] and "### BEGIN HIDDEN TESTS" in cell.source, meta["grade_id"]
