"""`HideHiddenTests`: feedback keeps results and messages but no line of a hidden test."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course_utils.grading.preprocessors import HideHiddenTests
from course_utils.grading.preprocessors.hide_hidden_tests import is_test
from course_utils.grading.regions import RegionError

SECRET = "assert abs(model.count_params() - 8070) < 1"
OTHER_SECRET = "assert history.history['accuracy'][-1] > 0.8"
TEST_SOURCE = f"""assert model is not None
### BEGIN HIDDEN TESTS
{SECRET}
{OTHER_SECRET}
else:
### END HIDDEN TESTS
print('checked')"""


def _meta(grade: bool, solution: bool, grade_id: str) -> dict:
    return {
        "nbgrader": {
            "grade": grade,
            "solution": solution,
            "grade_id": grade_id,
            "locked": not solution,
            "schema_version": 3,
            "points": 1 if grade else 0,
        }
    }


def _test_cell(outputs: list) -> nbformat.NotebookNode:
    cell = new_code_cell(TEST_SOURCE, metadata=_meta(True, False, "test_params"))
    cell.outputs = outputs
    return cell


def _run(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb, _ = HideHiddenTests().preprocess(nb, {})
    nbformat.validate(nb)
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb)


def test_the_hidden_part_of_a_test_cell_is_replaced_by_a_count():
    nb = _run(new_notebook(cells=[_test_cell([])]))
    source = nb.cells[0].source
    assert SECRET not in source and OTHER_SECRET not in source
    assert "BEGIN HIDDEN TESTS" not in source
    assert source.startswith("assert model is not None\n")
    assert source.endswith("print('checked')")
    assert "3 lines of hidden tests" in source


def test_a_test_cells_traceback_is_cut_to_the_exception_and_its_message():
    error = new_output(
        "error",
        ename="AssertionError",
        evalue="wrong count",
        traceback=["Traceback", f"----> 3 {SECRET}", "AssertionError: wrong count"],
    )
    nb = _run(new_notebook(cells=[_test_cell([error])]))
    output = nb.cells[0].outputs[0]
    assert output.traceback == ["AssertionError: wrong count"]
    assert output.ename == "AssertionError" and output.evalue == "wrong count"


def test_no_output_anywhere_repeats_a_hidden_line_even_with_colours():
    coloured = f"\x1b[0;31m{SECRET}\x1b[0m"
    student = new_code_cell(
        "print(In[-1])",
        outputs=[
            new_output("stream", name="stdout", text=f"I saw: {SECRET}\n"),
            new_output("stream", name="stderr", text=coloured),
            new_output(
                "execute_result",
                data={"text/plain": f"'{OTHER_SECRET}'", "text/html": [f"<b>{SECRET}</b>"]},
                execution_count=1,
            ),
            new_output(
                "error",
                ename="NameError",
                evalue=f"{SECRET} failed",
                traceback=[f"line {SECRET}"],
            ),
        ],
        metadata={},
    )
    nb = _run(new_notebook(cells=[new_markdown_cell("# Lab"), student, _test_cell([])]))
    text = _text(nb)
    assert SECRET not in text and OTHER_SECRET not in text
    outputs = nb.cells[1].outputs
    assert outputs[0].text == "I saw: [hidden test]\n"
    assert outputs[1].text == "[hidden test]"  # colours dropped where a secret was
    assert outputs[2].data["text/plain"] == "'[hidden test]'"
    assert outputs[2].data["text/html"] == ["<b>[hidden test]</b>"]
    assert outputs[3].evalue == "[hidden test] failed"
    assert outputs[3].traceback == ["line [hidden test]"]


def test_short_or_public_hidden_lines_are_not_secrets():
    public_line = "assert model is not None"
    test = new_code_cell(
        f"x = 1\n### BEGIN HIDDEN TESTS\n{public_line}\nelse:\n{SECRET}\n### END HIDDEN TESTS",
        metadata=_meta(True, False, "t"),
    )
    student = new_code_cell(
        f"{public_line}\nprint('else:')",
        outputs=[new_output("stream", name="stdout", text=f"else:\n{public_line}\n")],
    )
    nb = _run(new_notebook(cells=[student, test]))
    assert nb.cells[0].outputs[0].text == f"else:\n{public_line}\n"  # unchanged
    assert nb.cells[0].source == f"{public_line}\nprint('else:')"


def test_a_stray_marker_in_a_students_cell_is_kept_but_not_in_a_test():
    stray = "# ### BEGIN HIDDEN TESTS (copied)\nprint(1)"
    student = new_code_cell(stray, metadata=_meta(False, True, "answer"))
    nb = _run(new_notebook(cells=[student, _test_cell([])]))
    assert nb.cells[0].source == stray
    broken = new_code_cell("### BEGIN HIDDEN TESTS\nassert x", metadata=_meta(True, False, "b"))
    with pytest.raises(RegionError):
        HideHiddenTests().preprocess(new_notebook(cells=[broken]), {})


def test_only_graded_code_that_is_not_a_solution_is_a_test():
    assert is_test(new_code_cell("x", metadata=_meta(True, False, "t")))
    assert not is_test(new_code_cell("x", metadata=_meta(True, True, "s")))
    assert not is_test(new_code_cell("x", metadata=_meta(False, False, "r")))
    assert not is_test(new_code_cell("x"))
    assert not is_test(new_markdown_cell("x", metadata=_meta(True, False, "m")))


def test_the_hidden_part_of_a_solution_cell_stays():
    source = f"### BEGIN HIDDEN TESTS\n{SECRET}\n### END HIDDEN TESTS"
    cell = new_code_cell(source, metadata=_meta(True, True, "s"))
    nb = _run(new_notebook(cells=[cell]))
    assert nb.cells[0].source == source
