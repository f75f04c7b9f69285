"""`export`: the Canvas, Moodle and long CSVs, row by row, from a small gradebook."""

from __future__ import annotations

import csv
import logging
from datetime import datetime
from pathlib import Path

import pytest

from course_utils.grading import export
from unit.builders import add_lab, add_submission, empty_gradebook, gradebook

ROSTER = {
    "ann": {"first_name": "Ann", "last_name": "Able", "email": "ann@uni.example",
            "lms_user_id": "101"},
    "bob": {},  # no roster entry beyond the id
    "cat": {"first_name": "Cat", "last_name": "Cole", "email": "cat@uni.example",
            "lms_user_id": "303"},
}  # fmt: skip


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """lab1 (t1: 1 point, t2: 2) and lab2 (q1: 4); bob has no lab2; late penalties on lab1."""
    db = empty_gradebook(tmp_path_factory.mktemp("export") / "gradebook.db")
    add_lab(db, "lab1", {"t2": 2, "t1": 1}, duedate=datetime(2026, 10, 1))
    add_lab(db, "lab2", {"q1": 4}, notebook="quiz", duedate=datetime(2026, 11, 1))
    with gradebook(db) as gb:
        for student, fields in ROSTER.items():
            gb.add_student(student, **fields)
    add_submission(db, "lab1", "ann", {"t1": 1, "t2": 2}, late_penalty=1)
    add_submission(db, "lab2", "ann", {"q1": 4}, notebook="quiz")
    add_submission(db, "lab1", "bob", {"t1": 0.5, "t2": 0})
    add_submission(db, "lab1", "cat", {"t1": 1, "t2": 1.5}, late_penalty=0.5)
    add_submission(db, "lab2", "cat", {"q1": 3}, notebook="quiz")
    with gradebook(db) as gb:  # a manual grade from the formgrader wins over the automatic one
        gb.find_grade("t2", "lab1", "lab1", "cat").manual_score = 2
        gb.db.commit()
    return db


def exported(db: Path, plugin: type, tmp_path: Path, **traits) -> list[list[str]]:
    dest = tmp_path / "out.csv"
    with gradebook(db) as gb:
        plugin(to=str(dest), log=logging.getLogger("export-test"), **traits).export(gb)
    with open(dest, newline="") as f:
        return list(csv.reader(f))


def test_canvas_gradebook_csv(db, tmp_path):
    assert exported(db, export.CanvasExport, tmp_path) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "lab1", "lab2"],
        ["Points Possible", "", "", "", "", "3", "4"],
        ["bob", "", "bob", "", "", "0.5", ""],
        ["Able, Ann", "101", "ann", "ann@uni.example", "", "2", "4"],
        ["Cole, Cat", "303", "cat", "cat@uni.example", "", "2.5", "3"],
    ]


def test_moodle_grade_import_csv(db, tmp_path):
    assert exported(db, export.MoodleExport, tmp_path) == [
        ["First name", "Last name", "ID number", "Email address", "lab1", "lab2"],
        ["", "", "bob", "", "0.5", ""],
        ["Ann", "Able", "ann", "ann@uni.example", "2", "4"],
        ["Cat", "Cole", "cat", "cat@uni.example", "2.5", "3"],
    ]


def test_long_csv_one_row_per_cell_with_penalties_and_gaps(db, tmp_path):
    assert exported(db, export.LongExport, tmp_path) == [
        ["student", "assignment", "notebook", "test", "score", "max_score"],
        ["bob", "lab1", "lab1", "t1", "0.5", "1"],
        ["bob", "lab1", "lab1", "t2", "0", "2"],
        ["bob", "lab2", "", "", "", ""],
        ["ann", "lab1", "lab1", "t1", "1", "1"],
        ["ann", "lab1", "lab1", "t2", "2", "2"],
        ["ann", "lab1", "lab1", "late penalty", "-1", ""],
        ["ann", "lab2", "quiz", "q1", "4", "4"],
        ["cat", "lab1", "lab1", "t1", "1", "1"],
        ["cat", "lab1", "lab1", "t2", "2", "2"],
        ["cat", "lab1", "lab1", "late penalty", "-0.5", ""],
        ["cat", "lab2", "quiz", "q1", "3", "4"],
    ]


def test_students_and_assignments_can_be_chosen(db, tmp_path):
    rows = exported(db, export.CanvasExport, tmp_path, student=["cat"], assignment=["lab2"])
    assert rows == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "lab2"],
        ["Points Possible", "", "", "", "", "4"],
        ["Cole, Cat", "303", "cat", "cat@uni.example", "", "3"],
    ]


def test_gaps_in_the_roster_and_missing_submissions_are_reported(db, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="export-test"):
        exported(db, export.MoodleExport, tmp_path)
    said = [r.getMessage() for r in caplog.records]
    assert "bob has no email or LMS id in the roster (nbgrader db student import)" in said
    assert "bob has no submission of lab2" in said
    assert not any(m.startswith(("ann", "cat")) for m in said)


def test_the_default_file_names(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with gradebook(db) as gb:
        for plugin, name in (
            (export.CanvasExport, "canvas.csv"),
            (export.MoodleExport, "moodle.csv"),
            (export.LongExport, "grades-long.csv"),
        ):
            plugin().export(gb)
            assert (tmp_path / name).is_file()


class _Sub:
    def __init__(self, score, penalty):
        self.score, self.late_submission_penalty = score, penalty


@pytest.mark.parametrize(
    ("submission", "text"),
    [(None, ""), (_Sub(3.0, None), "3"), (_Sub(3.0, 1.25), "1.75"), (_Sub(1.0, 5.0), "0")],
)
def test_total_is_the_score_less_its_penalty_never_below_zero(submission, text):
    assert export.total(submission) == text
