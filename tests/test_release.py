"""release/ is exactly what nbgrader generates from source/, and gives nothing away."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from conftest import ASSIGNMENTS, ROOT
from course_utils.assignments import generate, notebook_problems, solution_lines


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
    cells = nbformat.read(released, as_version=4).cells
    text = "\n".join(c.source for c in cells)
    released_lines = {line.strip() for line in text.splitlines()}
    lines = solution_lines(source)
    assert len(lines) > 20
    leaked = sorted(lines & released_lines)
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
def test_notebooks_are_clean_with_valid_nbgrader_metadata(folder, assignment):
    path = ROOT / folder / assignment / f"{assignment}.ipynb"
    assert notebook_problems(path) == []
    assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_test_cells_are_locked_and_hide_tests(assignment):
    nb = nbformat.read(ROOT / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    tests = [c for c in nb.cells if c.metadata["nbgrader"]["grade"] and c.cell_type == "code"]
    assert len(tests) >= 6
    for cell in tests:
        assert "### BEGIN HIDDEN TESTS" in cell.source, cell.metadata["nbgrader"]["grade_id"]


def test_notebook_check_finds_problems(tmp_path):
    nb = nbformat.read(ROOT / "source" / ASSIGNMENTS[0] / f"{ASSIGNMENTS[0]}.ipynb", as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hi")]
    del nb.cells[0].metadata["nbgrader"]
    nb.cells[2].metadata["nbgrader"]["grade_id"] = nb.cells[3].metadata["nbgrader"]["grade_id"]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    problems = notebook_problems(path)
    assert len(problems) == 3 and "cell 1 has outputs" in problems[0]
    path.write_text("{not json")
    assert "not a valid notebook" in notebook_problems(path)[0]
