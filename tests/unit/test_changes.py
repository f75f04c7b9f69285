"""`changes`: the students whose score a regrade changed, printed and saved."""

from __future__ import annotations

import csv

import pytest

from course_utils.grading import changes
from unit.builders import add_lab, add_submission, copy_file, empty_gradebook, gradebook


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    db = empty_gradebook(tmp_path_factory.mktemp("changes") / "gradebook.db")
    add_lab(db, "lab", {"t1": 1, "t2": 2})
    add_submission(db, "lab", "ann", {"t1": 1, "t2": 2})
    add_submission(db, "lab", "bob", {"t1": 0, "t2": 1.5})
    return db


@pytest.fixture
def db(tmp_path, base):
    return copy_file(base, tmp_path / "gradebook.db")


def test_scores_are_each_students_total(db):
    assert changes.scores(db, "lab") == {"ann": 3, "bob": 1.5}


def test_a_changed_score_is_printed_and_saved(tmp_path, db):
    before = {"ann": 3.0, "bob": 0.5, "gone": 2.0}  # gone: graded before, not now
    said: list[str] = []
    changed = changes.record(tmp_path, db, "lab", before, said.append)
    assert changed == {"bob": (0.5, 1.5)}
    path = tmp_path / "grades" / "lab-changes.csv"
    with open(path, newline="") as f:
        assert list(csv.reader(f)) == [
            ["student_id", "old_score", "new_score", "change"],
            ["bob", "0.5", "1.5", "+1"],
        ]
    assert said == [f"1 score(s) changed (old -> new; saved in {path}):", "  bob: 0.5 -> 1.5"]


def test_no_change_leaves_no_file(tmp_path, db):
    path = tmp_path / "grades" / "lab-changes.csv"
    path.parent.mkdir()
    path.write_text("from an earlier run")
    said: list[str] = []
    assert changes.record(tmp_path, db, "lab", {"ann": 3.0, "bob": 1.5}, said.append) == {}
    assert not path.exists() and said == []


def test_new_students_and_rounding_noise_are_no_change(tmp_path, db):
    assert changes.record(tmp_path, db, "lab", {"ann": 3.0 + 1e-12}, print) == {}
    with gradebook(db) as gb:  # a manual grade lowers ann's score
        gb.find_grade("t2", "lab", "lab", "ann").manual_score = 0.5
        gb.db.commit()
    assert changes.record(tmp_path, db, "lab", {"ann": 3.0}, lambda _: None) == {"ann": (3.0, 1.5)}
    with open(tmp_path / "grades" / "lab-changes.csv", newline="") as f:
        assert list(csv.reader(f))[1] == ["ann", "3", "1.5", "-1.5"]
