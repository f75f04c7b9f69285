"""`gradebook`: one submission's rows, read, deleted and merged; the kit's table; the CSV."""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

import pytest

from course_utils.grading import gradebook
from course_utils.grading.jobs import SUBMISSION_TABLES, GradingError
from unit.builders import add_lab, add_submission, empty_gradebook
from unit.builders import gradebook as open_gradebook


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    db = empty_gradebook(tmp_path_factory.mktemp("gradebook") / "gradebook.db")
    add_lab(db, "lab", {"t1": 1, "t2": 2})
    add_lab(db, "quiz", {"q": 1})
    add_submission(db, "lab", "ann", {"t1": 1, "t2": 2})
    add_submission(db, "lab", "bob", {"t1": 0, "t2": 1})
    add_submission(db, "quiz", "ann", {"q": 1})
    return db


@pytest.fixture
def db(tmp_path, base):
    (tmp_path / "course").mkdir()
    return Path(shutil.copyfile(base, tmp_path / "course" / "gradebook.db"))


def count(db, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_submission_rows_are_one_students_one_assignment(db):
    rows = gradebook.submission_rows(db, "lab", "ann")
    assert list(rows) == list(SUBMISSION_TABLES)
    assert [r["student_id"] for r in rows["submitted_assignment"]] == ["ann"]
    assert len(rows["submitted_notebook"]) == 1
    assert sorted(r["auto_score"] for r in rows["grade"]) == [1, 2]
    nb_id = rows["submitted_notebook"][0]["id"]
    assert {r["notebook_id"] for r in rows["grade"] + rows["comment"]} == {nb_id}
    assert gradebook.submission_rows(db, "lab", "nobody") == {t: [] for t in SUBMISSION_TABLES}


def test_delete_submissions_takes_the_children_too(db):
    con = sqlite3.connect(db)
    with con:
        gradebook.delete_submissions(con, "student_id = ?", ("ann",))
    con.close()
    assert gradebook.submission_rows(db, "lab", "ann")["grade"] == []
    assert gradebook.submission_rows(db, "quiz", "ann")["submitted_notebook"] == []
    assert len(gradebook.submission_rows(db, "lab", "bob")["grade"]) == 2
    assert count(db, "grade") == 2 and count(db, "submitted_assignment") == 1


def test_a_snapshot_holds_only_its_student(db, tmp_path):
    gradebook.merge(db, "lab", "bob", gradebook.submission_rows(db, "lab", "bob"), {"epochs": 1})
    copy = tmp_path / "copy.db"
    copy.write_bytes(gradebook.snapshot(db, "ann"))
    assert count(copy, "student") == 1
    assert count(copy, "submitted_assignment") == 2  # both of ann's assignments
    assert gradebook.runs(copy, "lab") == {}  # bob's grading record is gone too
    assert count(db, "submitted_assignment") == 3  # the course's gradebook is untouched


def test_merge_replaces_one_submission_and_records_the_run(db):
    rows = gradebook.submission_rows(db, "lab", "ann")
    for row in rows["grade"]:
        row["auto_score"] = 0.25
    before = gradebook.submission_rows(db, "lab", "bob")
    run = {"epochs": 2, "copy_of": "", "wall": 1.5, "cpu": 1.0, "peak_rss": 7, "judge_peak": 3}
    gradebook.merge(db, "lab", "ann", rows, run)
    assert gradebook.submission_rows(db, "lab", "ann") == rows
    assert gradebook.submission_rows(db, "lab", "bob") == before
    record = gradebook.runs(db, "lab")["ann"]
    assert (record["epochs"], record["copy_of"], record["wall"]) == (2, None, 1.5)
    assert (record["peak_rss"], record["judge_peak"]) == (7, 3) and record["graded_at"]
    gradebook.merge(db, "lab", "ann", rows)  # no run: no record left
    assert "ann" not in gradebook.runs(db, "lab")


def test_a_failed_merge_changes_nothing(db):
    rows = gradebook.submission_rows(db, "lab", "ann")
    before = {t: list(r) for t, r in rows.items()}
    broken = dict(rows, grade=rows["grade"] + [{"id": "x", "no_such_column": 1}])
    with pytest.raises(sqlite3.OperationalError):
        gradebook.merge(db, "lab", "ann", broken, {"epochs": 3})
    assert gradebook.submission_rows(db, "lab", "ann") == before
    assert gradebook.runs(db, "lab") == {}


def test_an_older_runs_table_gets_the_new_column(db):
    con = sqlite3.connect(db)
    con.execute(
        f"CREATE TABLE {gradebook.RUNS} (assignment TEXT NOT NULL, student TEXT NOT NULL, "
        "epochs INTEGER, copy_of TEXT, wall REAL, cpu REAL, peak_rss INTEGER, graded_at TEXT, "
        "PRIMARY KEY (assignment, student))"
    )
    con.execute(
        f"INSERT INTO {gradebook.RUNS} (assignment, student, epochs) VALUES ('lab', 'x', 1)"
    )
    con.commit()
    con.close()
    assert gradebook.runs(db, "lab") == {
        "x": {
            "assignment": "lab",
            "student": "x",
            "epochs": 1,
            "copy_of": None,
            "wall": None,
            "cpu": None,
            "peak_rss": None,
            "graded_at": None,
            "judge_peak": None,
        }
    }


def test_check_course_says_what_is_missing(tmp_path, db):
    course = db.parent
    with pytest.raises(GradingError, match="no nbgrader_config.py"):
        gradebook.check_course(course, "lab")
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    assert gradebook.check_course(course, "lab") == db
    with pytest.raises(GradingError, match="'exam' is not in"):
        gradebook.check_course(course, "exam")
    db.write_bytes(b"not a database at all" * 100)
    with pytest.raises(GradingError, match="not an nbgrader gradebook"):
        gradebook.check_course(course, "lab")
    db.unlink()
    with pytest.raises(GradingError, match="does not exist"):
        gradebook.check_course(course, "lab")


def test_add_students_makes_only_the_missing_ones(db):
    gradebook.add_students(db, ["ann", "cid", "dee"])
    with open_gradebook(db) as gb:
        assert sorted(s.id for s in gb.students) == ["ann", "bob", "cid", "dee"]


def test_the_csv_has_every_student_graded_or_failed(db, tmp_path):
    gradebook.merge(
        db,
        "lab",
        "bob",
        gradebook.submission_rows(db, "lab", "bob"),
        {"epochs": 2, "copy_of": "ann"},
    )
    path = gradebook.write_csv(
        db, "lab", tmp_path / "out" / "lab.csv", {"bob": "timeout", "zed": "x"}
    )
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "student_id",
        "score",
        "max_score",
        "needs_manual_grade",
        "timestamp",
        "status",
        "epochs",
        "copy_of",
    ]
    assert [r[:3] + r[5:] for r in rows[1:]] == [
        ["ann", "3", "3", "graded", "", ""],
        ["bob", "1", "3", "failed: timeout", "2", "ann"],
        ["zed", "", "", "failed: x", "", ""],
    ]
    assert rows[3][3:5] == ["", ""]
