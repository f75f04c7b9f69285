"""`JudgedExecute`: which cells go to the judge, and the student's kernel in a folder of its own."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook

from course_utils.grading.preprocessors import JudgedExecute
from course_utils.grading.preprocessors.restore_tests import gradebook_tests
from course_utils.grading.sandbox import Settings

from .builders import empty_gradebook

TEST_A = "assert f() == 1"
TEST_B = "assert g() == 2"
MANUAL_CODE = "# YOUR CODE HERE\nraise NotImplementedError()"


@pytest.fixture(scope="module")
def resources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    url = f"sqlite:///{empty_gradebook(folder / 'gradebook.db')}"
    with Gradebook(url) as gb:
        gb.add_assignment("lab")
        gb.add_notebook("lab", "lab")
        cells = [
            ("answer", "code", "def f():\n    return 1", False, True),  # autograded answer
            ("test_a", "code", TEST_A, True, False),
            ("test_b", "code", TEST_B, True, False),
            ("written", "markdown", "Explain.", True, True),  # manually graded answer
            ("manual_code", "code", MANUAL_CODE, True, True),  # manually graded code
            ("ungraded", "code", "x = 1", False, False),
        ]
        for name, kind, source, grade, solution in cells:
            gb.add_source_cell(
                name, "lab", "lab", cell_type=kind, locked=not solution, source=source, checksum=""
            )
            if grade:
                gb.add_grade_cell(name, "lab", "lab", max_score=1, cell_type=kind)
            if solution:
                gb.add_solution_cell(name, "lab", "lab")
    return {"nbgrader": {"db_url": url, "notebook": "lab", "assignment": "lab"}}


def _cell(source: str, grade_id: str | None, kind: str = "code"):
    meta = {"nbgrader": {"grade_id": grade_id, "grade": True}} if grade_id else {}
    make = new_code_cell if kind == "code" else new_markdown_cell
    return make(source, metadata=meta)


def test_the_judges_cells_are_the_gradebooks_autograded_tests_only(resources):
    assert gradebook_tests(resources) == {"test_a": TEST_A, "test_b": TEST_B}


def test_a_cell_runs_in_the_judge_only_with_a_tests_id_and_the_gradebooks_source(resources):
    executor = JudgedExecute(judge_folder="/judges")
    executor._tests = gradebook_tests(resources)
    assert executor._judged(_cell(TEST_A, "test_a"))
    assert not executor._judged(_cell(TEST_A + "\n", "test_a"))  # changed: the student's kernel
    assert not executor._judged(_cell(TEST_A, "test_b"))  # another test's id
    assert not executor._judged(_cell(TEST_A, None))  # a copy without the id
    assert not executor._judged(_cell(TEST_A, "test_a", kind="markdown"))
    assert not executor._judged(_cell(MANUAL_CODE, "manual_code"))  # an answer, untouched
    without = JudgedExecute(judge_folder="")
    without._tests = gradebook_tests(resources)
    assert not without._judged(_cell(TEST_A, "test_a"))  # no judge: everything in the kernel


def test_the_judges_cpu_budget_counts_the_kernels_threads(monkeypatch):
    executor = JudgedExecute()
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "4")
    assert executor._threads() == 4
    for value in ("0", "-3"):
        monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", value)
        assert executor._threads() == 1
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "many")
    assert executor._threads() == 1
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS")
    assert executor._threads() == 1


def test_the_judge_cannot_start_without_the_bridges_folders():
    executor = JudgedExecute(judge_folder="/judges")
    executor._folder = None
    with pytest.raises(RuntimeError, match="bridge"):
        executor._start_judge()


def test_the_students_kernel_runs_in_a_fresh_folder_with_the_other_files_over_unix_sockets(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(Settings.UID, raising=False)
    submission = tmp_path / "submission"
    (submission / "pkg").mkdir(parents=True)
    (submission / "lab.ipynb").write_text("{}")
    (submission / "pkg" / "helper.py").write_text("VALUE = 7\n")
    probe = (
        "import json, os\n"
        "from pkg.helper import VALUE\n"
        "folder = os.environ['COURSE_KIT_FOLDER']\n"
        "print(json.dumps({'cwd': os.getcwd(), 'files': sorted(os.listdir('.')), 'value': VALUE,"
        " 'folder': folder, 'sockets': os.listdir(os.path.join(folder, 'sockets'))}))"
    )
    nb = new_notebook(cells=[new_code_cell(probe)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    kernels = tmp_path / "kernels"
    executor = JudgedExecute(kernels=str(kernels), seed=None, timeout=60)
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(submission)}})
    nbformat.validate(nb)
    outputs = nb.cells[0].outputs
    assert outputs and outputs[0].output_type == "stream", outputs
    seen = json.loads(outputs[0].text)
    folder = kernels / "0"
    assert seen["folder"] == str(folder)
    assert seen["cwd"] == str(folder / "work")
    assert seen["files"] == ["pkg"] or seen["files"] == ["__pycache__", "pkg"]
    assert seen["value"] == 7
    assert seen["sockets"] and all(name.startswith("kernel") for name in seen["sockets"])
    assert "lab.ipynb" not in seen["files"]
