"""`report`: the class report's tests CSV and page, from a small graded class."""

from __future__ import annotations

import csv
import os

import nbformat
import pytest

from course_utils.grading import report
from unit.builders import add_lab, add_submission, copy_file, empty_gradebook

HIDDEN = "assert secret_value == 42"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    db = empty_gradebook(tmp_path_factory.mktemp("report") / "gradebook.db")
    add_lab(db, "lab", {"t1": 1, "t2": 2})
    add_submission(db, "lab", "ann", {"t1": 0, "t2": 2})
    add_submission(db, "lab", "bob", {"t1": 1, "t2": 1})
    return db


def autograded(course, student: str, message: str) -> None:
    cell = nbformat.v4.new_code_cell(
        f"assert shape_ok\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS"
    )
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t1", "points": 1}
    cell.outputs = [
        nbformat.v4.new_output(
            "error", ename="AssertionError", evalue=message, traceback=[f"line: {HIDDEN}"]
        )
    ]
    folder = course / "autograded" / student / "lab"
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), folder / "lab.ipynb")


@pytest.fixture
def course(tmp_path, base):
    course = tmp_path / "course"
    copy_file(base, course / "gradebook.db")
    autograded(course, "ann", f"failed: {HIDDEN} <script>")
    for student in ("ann", "bob", "cid", "dee", "eve"):
        (course / "submitted" / student / "lab").mkdir(parents=True)
    return course


def test_pass_rate_is_the_share_of_full_marks():
    row = report.TestRow("t", 2.0, [2.0, 1.0, 2.0 - 1e-12, 0.0])
    assert row.pass_rate == 0.5
    assert report.TestRow("t", 1.0).pass_rate == 0.0


def test_collect_reads_tests_totals_and_scrubbed_messages(course):
    tests, totals, records = report.collect(course, "lab")
    assert totals == {"ann": 2, "bob": 2}
    assert list(tests) == ["t1", "t2"]
    assert sorted(tests["t1"].scores) == [0, 1] and tests["t2"].max_score == 2
    assert dict(tests["t1"].failures) == {"AssertionError: failed: [hidden test] <script>": 1}
    assert records == {}


def test_failed_submissions_say_why_from_the_csv_else_the_log(course):
    grades = course / "grades"
    (grades / "logs" / "lab").mkdir(parents=True)
    with open(grades / "lab.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "status"])
        writer.writerows([["cid", "failed: timeout"], ["dee", "graded"]])
    (grades / "logs" / "lab" / "dee.log").write_text("[INFO] x\n[ERROR] kernel died\n")
    assert report.failed_submissions(course, "lab", {"ann", "bob"}) == {
        "cid": "timeout",
        "dee": "kernel died",
        "eve": "not graded yet",
    }


def test_write_makes_the_tests_csv_and_a_self_contained_page(course):
    page, table = report.write(course, "lab")
    with open(table, newline="") as f:
        assert list(csv.reader(f)) == [
            ["test", "max_score", "submissions", "mean_score", "pass_rate"],
            ["t1", "1", "2", "0.500", "0.500"],
            ["t2", "2", "2", "1.500", "0.500"],
        ]
    text = page.read_text()
    assert page == course / "grades" / "lab-report.html"
    assert "<p>2 graded submissions.</p>" in text
    assert "&lt;script&gt;" in text and "<script>" not in text  # messages are escaped
    assert HIDDEN not in text
    assert text.count('src="data:image/png;base64,') == 2  # the figures travel inside the page
    assert "<td>cid</td><td>not graded yet</td>" in text
    assert "<tr><td colspan=3>none</td></tr>" in text  # no release: no pair compared


def test_main_says_what_is_missing(tmp_path, course, capsys, monkeypatch):
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # main puts the kit's bin first
    assert report.main(["lab", "--course", str(tmp_path)]) == 2
    assert "no gradebook.db in" in capsys.readouterr().err
    assert report.main(["exam", "--course", str(course)]) == 2
    assert "the gradebook has no assignment 'exam'" in capsys.readouterr().err
    assert not (course / "grades").exists()
    assert report.main(["lab", "--course", str(course)]) == 0
    assert "report: " in capsys.readouterr().out
