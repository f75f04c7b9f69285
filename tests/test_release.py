"""release/ is exactly what nbgrader generates from source/, and gives nothing away."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from course_utils.assignments import generate, notebook_problems, solution_lines
from course_utils.grading.regions import hidden_lines
from support import ASSIGNMENTS, ROOT, with_code

# Lines of the shipped instructor notebooks that only the instructor may see (solutions), and
# lines that every student sees (given code around them): known answers for `solution_lines`.
# Every other check here holds for any assignment in source/.
SOLUTION_LINES = {
    "lab3_part2": [
        "return keras.utils.to_categorical(labels, NUM_CLASSES)",
        "cm = confusion_matrix(actual, predicted)",
        "validation_split=0.1,",
    ],
    "lab3_quiz": [
        "v_hat = v / (1 - beta1**t)",
        "batch_norm = 4 * f",
        "shifted = s - np.max(s, axis=-1, keepdims=True)",
    ],
}
PUBLIC_LINES = {
    "lab3_part2": ["import numpy as np", "num_filters = 4", "def build_model(num_filters):"],
    "lab3_quiz": ["import numpy as np", "choice = smallest_within_one_point(results)"],
}


def notebooks(assignment: str) -> tuple[Path, Path]:
    """The instructor notebook of `assignment` and its committed student version."""
    name = f"{assignment}.ipynb"
    return ROOT / "source" / assignment / name, ROOT / "release" / assignment / name


def leaked(source: Path, released: nbformat.NotebookNode) -> list[str]:
    """The instructor-only lines of `source` (solutions, hidden tests) that `released` shows."""
    text = "\n".join(c.source for c in released.cells)
    return sorted(solution_lines(source) & {line.strip() for line in text.splitlines()})


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
    source, released = notebooks(assignment)
    nb = nbformat.read(released, as_version=4)
    assert solution_lines(source), "the instructor notebook has solutions"
    assert leaked(source, nb) == []
    text = "\n".join(c.source for c in nb.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "MARK SCHEME"):
        assert marker not in text


def test_the_known_lines_are_of_shipped_assignments():
    assert sorted(SOLUTION_LINES) == sorted(PUBLIC_LINES)
    assert set(SOLUTION_LINES) <= set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", sorted(SOLUTION_LINES))
def test_solution_lines_are_the_solutions_and_not_the_given_code(assignment):
    source, _ = notebooks(assignment)
    text = "\n".join(c.source for c in nbformat.read(source, as_version=4).cells)
    lines = solution_lines(source)
    assert set(SOLUTION_LINES[assignment]) <= lines
    for given in PUBLIC_LINES[assignment]:
        assert given in text.splitlines(), f"{given!r} is not in the instructor notebook"
        assert given not in lines
    assert "### BEGIN SOLUTION" not in lines and "### BEGIN HIDDEN TESTS" not in lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_leak_check_finds_solutions_planted_in_the_release(assignment):
    source, released = notebooks(assignment)
    instructor = nbformat.read(source, as_version=4)
    secret = solution_lines(source)
    # the longest line of the hidden tests that only the instructor sees
    hidden = max(
        (ln for c in instructor.cells for ln in hidden_lines(c.source) if ln in secret), key=len
    )
    nb = nbformat.read(released, as_version=4)
    exercise, test = (
        next(
            c for c in nb.cells if c.cell_type == "code" and c.metadata["nbgrader"].get(kind)
        ).metadata["nbgrader"]["grade_id"]
        for kind in ("solution", "grade")
    )
    planted = SOLUTION_LINES.get(assignment, sorted(secret - {hidden}))[:2]
    nb = with_code(nb, exercise, after="".join(f"\n    {line}" for line in planted))
    nb = with_code(nb, test, before=f"{hidden}  \n")
    assert leaked(source, nb) == sorted([*planted, hidden])


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
    assert tests, "an assignment has test cells"
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
