"""`service_grading`: an attempt installed as nbgrader's submission, and the counted grade kept
in the gradebook (the grader itself replaced by a stand-in: no notebook is run here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from nbgrader.utils import parse_utc

from course_utils.grading import service_grading
from course_utils.grading.attempts import Policy
from course_utils.grading.coordinator import Report
from course_utils.grading.service_db import Attempt, Record
from course_utils.grading.service_grading import Grading, install_attempt, settle_counted
from unit.builders import notebook_bytes

RECEIVED = datetime(2026, 12, 4, 7, 26, 45, 123456, tzinfo=UTC)


def attempt(name: str, status: str = "new", **values: object) -> Attempt:
    return Attempt(
        name, "lab", "ann", "ann", RECEIVED.isoformat(), "s3cret", '["lab"]', status, **values
    )  # type: ignore[arg-type]


def grading(course: Path, policies: dict[str, Policy] | None = None) -> Grading:
    return Grading(course, Record(course), policies or {}, None, None, None, [].append)


def test_an_attempt_is_installed_with_the_services_time_of_receipt(tmp_path):
    record = Record(tmp_path)
    nb = notebook_bytes("x = 1")
    student_claim = b"2000-01-01 00:00:00.000000 UTC"
    files = {"lab.ipynb": nb, "data/a.csv": b"1,2", "timestamp.txt": student_claim}
    record.add(attempt("ann+lab+t+1"), files)
    install_attempt(tmp_path, record, attempt("ann+lab+t+1"))
    folder = tmp_path / "submitted" / "ann" / "lab"
    assert (folder / "lab.ipynb").read_bytes() == nb
    assert (folder / "data" / "a.csv").read_bytes() == b"1,2"
    stamp = (folder / "timestamp.txt").read_text()
    assert stamp == "2026-12-04 07:26:45.123456 UTC"  # nbgrader's format, the service's time
    assert parse_utc(stamp) == RECEIVED.replace(tzinfo=None)
    assert (record.folder(attempt("ann+lab+t+1")) / "timestamp.txt").read_bytes() == student_claim


def test_installing_replaces_what_was_submitted_before(tmp_path):
    record = Record(tmp_path)
    record.add(attempt("ann+lab+t+1"), {"lab.ipynb": b"first"})
    record.add(attempt("ann+lab+t+2"), {"lab.ipynb": b"second"})
    install_attempt(tmp_path, record, attempt("ann+lab+t+1"))
    (tmp_path / "submitted" / "ann" / "lab" / "stale.txt").write_text("left over")
    install_attempt(tmp_path, record, attempt("ann+lab+t+2"))
    folder = tmp_path / "submitted" / "ann" / "lab"
    assert sorted(p.name for p in folder.iterdir()) == ["lab.ipynb", "timestamp.txt"]
    assert (folder / "lab.ipynb").read_bytes() == b"second"


def test_a_link_in_place_of_the_submission_is_removed_not_followed(tmp_path):
    record = Record(tmp_path)
    record.add(attempt("ann+lab+t+1"), {"lab.ipynb": b"{}"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not the grader's")
    (tmp_path / "submitted" / "ann").mkdir(parents=True)
    (tmp_path / "submitted" / "ann" / "lab").symlink_to(elsewhere)
    install_attempt(tmp_path, record, attempt("ann+lab+t+1"))
    folder = tmp_path / "submitted" / "ann" / "lab"
    assert not folder.is_symlink() and (folder / "lab.ipynb").is_file()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]


@pytest.fixture
def grader(monkeypatch):
    """The grader replaced by a stand-in that records whom it was asked to grade."""
    calls: list[tuple[str, list[str]]] = []

    def grade_class(course, assignment, *, students, **kwargs):
        calls.append((assignment, students))
        return Report(assignment, graded=list(students))

    monkeypatch.setattr(service_grading, "grade_class", grade_class)
    monkeypatch.setattr(service_grading, "_hand_back", lambda course: None)
    return calls


def test_nothing_graded_settles_nothing(tmp_path, grader):
    service = grading(tmp_path)
    assert not settle_counted(service)
    service.record.add(attempt("ann+lab+t+1", "refused"), {})
    service.record.add(attempt("ann+lab+t+2", "grading", number=1), {})
    assert not settle_counted(service)
    assert grader == [] and not (tmp_path / "submitted").exists()


def test_the_counted_attempt_already_in_the_gradebook_is_left(tmp_path, grader):
    service = grading(tmp_path, {"lab": Policy(counts="best")})
    service.record.add(attempt("ann+lab+t+1", "graded", number=1, score=3.0, max_score=4.0), {})
    service.record.add(attempt("ann+lab+t+2", "graded", number=2, score=2.0, max_score=4.0), {})
    service.record.set_counted("lab", "ann", "ann+lab+t+1")
    assert not settle_counted(service)
    assert grader == []


def test_the_best_attempt_is_installed_again_after_a_lower_one(tmp_path, grader):
    service = grading(tmp_path, {"lab": Policy(counts="best")})
    best = attempt("ann+lab+t+1", "graded", number=1, score=3.0, max_score=4.0)
    service.record.add(best, {"lab.ipynb": b"best"})
    lower = attempt("ann+lab+t+2", "graded", number=2, score=2.0, max_score=4.0)
    service.record.add(lower, {"lab.ipynb": b"lower"})
    service.record.set_counted("lab", "ann", lower.name)  # as grading the lower one leaves it
    assert settle_counted(service)
    assert grader == [("lab", ["ann"])]
    assert service.record.counted("lab", "ann") == best.name
    assert (tmp_path / "submitted" / "ann" / "lab" / "lab.ipynb").read_bytes() == b"best"
    assert not settle_counted(service)  # settled


def test_a_counted_attempt_the_grader_fails_is_not_recorded_as_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(
        service_grading,
        "grade_class",
        lambda course, assignment, **kw: Report(assignment, failed={"ann": "it crashed"}),
    )
    monkeypatch.setattr(service_grading, "_hand_back", lambda course: None)
    service = grading(tmp_path, {"lab": Policy(counts="last")})
    service.record.add(attempt("ann+lab+t+1", "graded", number=1, score=3.0, max_score=4.0), {})
    assert not settle_counted(service)
    assert service.record.counted("lab", "ann") is None
