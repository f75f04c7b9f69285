"""`RestoreTests`: every test cell from the gradebook, in the instructor's place."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook

from course_utils.grading.preprocessors import RestoreTests

from .builders import empty_gradebook

#: the instructor's notebook: (grade id, kind, source)
INSTRUCTOR = [
    ("intro", "markdown", "# The lab"),
    ("answer", "code", "def f():\n    return 1"),
    ("test_a", "code", "assert f() == 1"),
    ("written", "markdown", "Explain."),
    ("test_b", "code", "assert f() + 1 == 2"),
]
ORDER = [name for name, _, _ in INSTRUCTOR]


@pytest.fixture(scope="module")
def resources(tmp_path_factory):
    """A gradebook of the instructor's notebook (made once: it only is read)."""
    url = f"sqlite:///{empty_gradebook(tmp_path_factory.mktemp('course') / 'gradebook.db')}"
    with Gradebook(url) as gb:
        gb.add_assignment("lab")
        gb.add_notebook("lab", "lab")
        for name, kind, source in INSTRUCTOR:
            locked = name in ("intro", "test_a", "test_b")
            gb.add_source_cell(
                name, "lab", "lab", cell_type=kind, locked=locked, source=source, checksum=name
            )
            if name in ("answer", "written"):
                gb.add_solution_cell(name, "lab", "lab")
            if name in ("test_a", "test_b", "written"):
                score = 3 if name == "written" else 1
                gb.add_grade_cell(name, "lab", "lab", max_score=score, cell_type=kind)
    return {"nbgrader": {"db_url": url, "notebook": "lab", "assignment": "lab"}}


def _meta(name: str, grade: bool = False, solution: bool = False, **extra) -> dict:
    return {"nbgrader": {"grade_id": name, "grade": grade, "solution": solution, **extra}}


def _student(*names: str) -> list:
    """The instructor's cells `names`, as a student's notebook holds them."""
    cells = []
    for name in names:
        _, kind, source = next(c for c in INSTRUCTOR if c[0] == name)
        grade = name in ("test_a", "test_b", "written")
        solution = name in ("answer", "written")
        meta = _meta(name, grade, solution, locked=not solution, schema_version=3)
        make = new_code_cell if kind == "code" else new_markdown_cell
        cells.append(make(source, metadata=meta))
    return cells


def _run(cells: list, resources: dict, order: list[str] | None = ORDER) -> list:
    nb = new_notebook(cells=cells)
    preprocessor = RestoreTests(order={"lab": order} if order is not None else {})
    nb, _ = preprocessor.preprocess(nb, resources)
    nbformat.validate(nb)
    return nb.cells


def _ids(cells: list) -> list:
    return [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]


def test_a_notebook_as_handed_out_is_unchanged_but_its_tests_are_rebuilt(resources):
    cells = _run(_student(*ORDER), resources)
    assert _ids(cells) == ORDER
    test = cells[2]
    assert test.source == "assert f() == 1"
    assert test.metadata.nbgrader["locked"] and test.metadata.nbgrader["points"] == 1.0
    assert test.metadata["editable"] is False and test.metadata["deletable"] is False


def test_a_deleted_test_comes_back_after_the_nearest_instructor_cell_before_it(resources):
    cells = _run(_student("intro", "answer", "written", "test_b"), resources)
    assert _ids(cells) == ORDER
    assert cells[2].source == "assert f() == 1"


def test_a_moved_test_goes_back_and_cells_the_student_added_stay(resources):
    extra = new_code_cell("print('mine')")
    student = _student("intro", "test_a", "answer", "written", "test_b")
    student.insert(3, extra)  # after the answer
    cells = _run(student, resources)
    assert _ids(cells)[:3] == ["intro", "answer", "test_a"]
    assert [c.source for c in cells].count("print('mine')") == 1
    assert _ids(cells)[-2:] == ["written", "test_b"]


def test_an_edited_test_is_restored_its_tags_and_the_students_metadata_dropped(resources):
    student = _student(*ORDER)
    student[2].source = "pass  # my own test"
    student[2].metadata["tags"] = ["skip-execution", "raises-exception"]
    student[2].metadata.nbgrader["points"] = 100
    student[2].metadata.nbgrader["grade"] = False
    keep_id = student[2]["id"]
    cells = _run(student, resources)
    restored = cells[2]
    assert restored.source == "assert f() == 1"
    assert "tags" not in restored.metadata
    assert restored.metadata.nbgrader["points"] == 1.0 and restored.metadata.nbgrader["grade"]
    assert restored["id"] == keep_id  # the cell keeps its id


def test_a_copied_test_cell_is_dropped(resources):
    student = _student(*ORDER)
    student.append(_student("test_a")[0])
    cells = _run(student, resources)
    assert _ids(cells).count("test_a") == 1
    assert _ids(cells) == ORDER


def test_a_cell_claiming_an_unknown_grade_id_becomes_a_plain_cell(resources):
    fake = new_code_cell("x = 1", metadata=_meta("bonus", grade=True, points=50))
    cells = _run([*_student(*ORDER), fake], resources)
    assert "nbgrader" not in cells[-1].metadata
    assert cells[-1].source == "x = 1"


def test_a_cell_claiming_to_be_graded_is_what_the_gradebook_says(resources):
    student = _student(*ORDER)
    student[1].metadata.nbgrader["grade"] = True  # the answer cell is not graded
    student[0].metadata.nbgrader["solution"] = True  # the intro is no solution
    cells = _run(student, resources)
    assert cells[1].metadata.nbgrader["grade"] is False
    assert cells[1].metadata.nbgrader["solution"] is True
    assert cells[0].metadata.nbgrader["solution"] is False


def test_a_deleted_written_answer_comes_back_empty(resources):
    cells = _run(_student("intro", "answer", "test_a", "test_b"), resources)
    assert _ids(cells) == ORDER
    written = cells[3]
    assert written.cell_type == "markdown"
    assert written.metadata.nbgrader["solution"] is True
    assert written.metadata.nbgrader["points"] == 3


def test_an_empty_notebook_gets_every_test_in_order(resources):
    cells = _run([], resources)
    assert _ids(cells) == ["test_a", "written", "test_b"]
