"""The grader's training length (`--epochs`) and identical submissions graded once.

The class holds notebooks that train nothing (the untouched release and variants of it), so
it grades in seconds: what is checked is what reaches the kernel, the gradebook and the CSV.
"""

from __future__ import annotations

import csv
import sqlite3

import nbformat
import pytest

from course_utils.grading.copies import copy_rows, submission_key
from course_utils.grading.gradebook import RUNS
from support import Course, cell, with_code

ASSIGNMENT = "lab3_part2"
STAMP = "2026-11-20 09:30:00.000000 UTC"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A class of four untouched notebooks (one with widget metadata nbconvert cannot
    render), graded at 2 epochs, then again at 2, one at 3, and after a late submission."""
    course = Course(tmp_path_factory.mktemp("length"), ASSIGNMENT)
    release = nbformat.read(course.release, as_version=4)
    course.submit("untouched", release)
    # Run and saved again: outputs and execution counts differ, and it has a timestamp of its
    # own; nbgrader clears the outputs and grades the same thing.
    resaved = nbformat.read(course.release, as_version=4)
    for c in resaved.cells:
        if c.cell_type == "code":
            c.execution_count = 3
            c.outputs = [nbformat.v4.new_output("stream", name="stdout", text="old output\n")]
    course.submit("resaved", resaved)
    (course.root / "submitted" / "resaved" / ASSIGNMENT / "timestamp.txt").write_text(STAMP)
    # One changed cell: a different submission, which shows the length its kernel was given.
    course.submit("printer", with_code(release, "preprocess", before='print("EPOCHS =", EPOCHS)\n'))
    # Widget metadata that nbconvert cannot render: the feedback fails, the grades count.
    odd = nbformat.read(course.release, as_version=4)
    odd.metadata["widgets"] = {"state": {}}
    course.submit("odd_widgets", odd)
    first = course.grade("--workers", "2", "--epochs", "2")
    again = course.grade("--workers", "2", "--epochs", "2")
    longer = course.grade("--workers", "2", "--epochs", "3", "--student", "printer")
    course.submit("late", release)  # handed in after the class was graded
    late = course.grade("--workers", "2", "--epochs", "2", "--student", "late")
    return {"course": course, "first": first, "again": again, "longer": longer, "late": late}


def test_identical_submissions_are_graded_once(graded):
    course, run = graded["course"], graded["first"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert "1 submission(s) identical to another: graded once" in run.stdout
    scores = course.scores()
    assert scores["resaved"] == scores["untouched"] == scores["printer"]
    con = sqlite3.connect(course.root / "gradebook.db")
    rows = dict(con.execute(f"SELECT student, copy_of FROM {RUNS}").fetchall())
    # students are taken in order of their ids: "resaved" is graded, "untouched" gets a copy
    assert rows == {
        "resaved": None,
        "untouched": "resaved",
        "printer": None,
        "odd_widgets": None,
        "late": "resaved",
    }
    stamps = dict(con.execute("SELECT student_id, timestamp FROM submitted_assignment"))
    assert stamps["resaved"].startswith("2026-11-20 09:30:00") and stamps["untouched"] is None
    assert stamps["late"] is None
    ids = con.execute("SELECT id FROM submitted_notebook").fetchall()
    assert len(set(ids)) == 5
    feedback = course.feedback_files()
    assert {"untouched", "resaved", "printer"} <= set(feedback)


def test_a_notebook_whose_feedback_fails_keeps_its_grades(graded):
    course, run = graded["course"], graded["first"]
    assert "odd_widgets: graded, but feedback failed" in run.stderr
    assert course.scores()["odd_widgets"] == course.scores()["untouched"]
    table = csv.DictReader(open(course.root / "grades" / f"{ASSIGNMENT}.csv"))
    assert {r["student_id"]: r["status"] for r in table}["odd_widgets"] == "graded"
    assert "odd_widgets" not in course.feedback_files()


def test_the_length_reaches_the_kernel_and_is_recorded(graded):
    course = graded["course"]
    table = csv.DictReader(open(course.root / "grades" / f"{ASSIGNMENT}.csv"))
    by_student = {r["student_id"]: r for r in table}
    assert {s: r["epochs"] for s, r in by_student.items()} == {
        "untouched": "2",
        "resaved": "2",
        "printer": "3",
        "odd_widgets": "2",
        "late": "2",
    }
    assert by_student["untouched"]["copy_of"] == "resaved"
    printed = "".join(
        o.get("text", "") for o in cell(course.autograded("printer"), "preprocess").outputs
    )
    assert "EPOCHS = 3" in printed


def test_a_new_length_regrades_and_the_same_one_skips(graded):
    assert "4 submission(s) already graded and unchanged: skipped" in graded["again"].stdout
    longer = graded["longer"]
    assert longer.returncode == 0, longer.stderr[-3000:]
    assert "1 graded, 0 failed, 0 skipped" in longer.stdout
    assert "at epochs=3" in longer.stdout


def test_results_are_kept_for_a_submission_seen_before(graded):
    late = graded["late"]
    assert late.returncode == 0, late.stderr[-3000:]
    assert "1 submission(s) graded before (same files and tests): results reused" in late.stdout
    assert "1 graded, 0 failed, 0 skipped" in late.stdout
    course = graded["course"]
    assert course.scores()["late"] == course.scores()["untouched"]
    assert "late" in course.feedback_files()


def test_keys_follow_what_nbgrader_runs(tmp_path):
    """Outputs and execution counts don't count; cell metadata (a skip-execution tag),
    notebook metadata, any other file, and the timestamp under a due date do."""
    folder = tmp_path / "a"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])

    def key(with_timestamp: bool = False, context: str = "ctx") -> str:
        nbformat.write(nb, folder / "n.ipynb")
        return submission_key(folder, context, with_timestamp=with_timestamp)

    base = key()
    assert key(context="other") != base
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[0].execution_count = 4
    assert key() == base
    nb.cells[0].metadata["tags"] = ["skip-execution"]
    tagged = key()
    assert tagged != base
    (folder / "timestamp.txt").write_text(STAMP)
    assert key() == tagged
    assert key(with_timestamp=True) != tagged
    nb.metadata["widgets"] = {"state": {}}  # rendered into the feedback
    widgets = key()
    assert widgets != tagged
    (folder / "course_utils").mkdir()
    (folder / "course_utils" / "__init__.py").write_text("")
    assert key() != widgets


def test_copied_rows_get_fresh_ids_and_keep_their_links():
    rows = {
        "submitted_assignment": [{"id": "a", "student_id": "s", "timestamp": None}],
        "submitted_notebook": [{"id": "n", "assignment_id": "a", "notebook_id": "src"}],
        "grade": [{"id": "g", "notebook_id": "n", "cell_id": "c", "auto_score": 2.0}],
        "comment": [{"id": "k", "notebook_id": "n", "cell_id": "c"}],
    }
    new = copy_rows(rows, "t", "2026-01-01 00:00:00.000000")
    sub, nb = new["submitted_assignment"][0], new["submitted_notebook"][0]
    assert sub["student_id"] == "t" and sub["timestamp"].startswith("2026-01-01")
    assert sub["id"] != "a" and nb["assignment_id"] == sub["id"] and nb["notebook_id"] == "src"
    assert new["grade"][0]["notebook_id"] == nb["id"] != "n"
    assert new["comment"][0]["notebook_id"] == nb["id"]
    assert new["grade"][0]["cell_id"] == "c" and new["grade"][0]["auto_score"] == 2.0
    assert rows["submitted_assignment"][0]["id"] == "a"  # the leader's rows are untouched
