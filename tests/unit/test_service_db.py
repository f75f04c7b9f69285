"""`service_db`: the grading service's record of attempts, their files kept before their rows."""

from __future__ import annotations

import sqlite3
import stat
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from course_utils.grading import service_db
from course_utils.grading.service_db import Attempt, Record

NAME = "alice+lab+2026-12-04 07:26:44.540670 UTC+AbC123"


def attempt(name: str = NAME, *, student: str = "alice", received: str = "") -> Attempt:
    return Attempt(
        name,
        "lab",
        student,
        student,
        received or "2026-12-04T07:26:45.000000+00:00",
        "s3cret",
        '["lab"]',
        "new",
    )


def test_a_new_record_is_an_empty_database_in_the_kit_folder(tmp_path):
    record = Record(tmp_path)
    assert record.path == tmp_path / ".course-kit" / "service.db" and record.path.is_file()
    assert stat.S_IMODE((tmp_path / ".course-kit").stat().st_mode) == 0o700
    assert record.names() == set() and record.attempts() == []
    assert Record(tmp_path).names() == set()  # opened again: the same, nothing lost


def test_an_attempt_added_is_found_by_name_by_student_and_in_full(tmp_path):
    record = Record(tmp_path)
    first = attempt()
    record.add(first, {"lab.ipynb": b"{}", "data/notes.txt": b"hi"})
    record.add(attempt("bob+lab+t+r", student="bob"), {"lab.ipynb": b"{}"})
    assert record.names() == {NAME, "bob+lab+t+r"}
    assert record.of("lab", "alice") == [first]
    assert record.of("lab", "carol") == record.of("lab2", "alice") == []
    assert {a.student for a in record.attempts()} == {"alice", "bob"}
    assert record.attempts("student = ?", ("bob",))[0].name == "bob+lab+t+r"
    found = record.of("lab", "alice")[0]
    assert found.received_at == datetime(2026, 12, 4, 7, 26, 45, tzinfo=UTC)
    assert found.notebook_ids == ["lab"]


def test_attempts_come_oldest_first(tmp_path):
    record = Record(tmp_path)
    later = attempt("alice+lab+b+r", received="2026-12-04T09:00:00+00:00")
    earlier = attempt("alice+lab+a+r", received="2026-12-04T08:00:00+00:00")
    record.add(later, {})
    record.add(earlier, {})
    assert [a.name for a in record.of("lab", "alice")] == [earlier.name, later.name]


def test_the_files_are_kept_in_the_attempts_folder(tmp_path):
    record = Record(tmp_path)
    record.add(attempt(), {"lab.ipynb": b"{}", "data/notes.txt": b"hi"})
    folder = tmp_path / ".course-kit" / "attempts" / "lab" / "alice" / NAME
    assert record.folder(attempt()) == folder
    assert (folder / "lab.ipynb").read_bytes() == b"{}"
    assert (folder / "data" / "notes.txt").read_bytes() == b"hi"
    assert record.feedback(attempt()) == folder.with_name(NAME + ".feedback")


def test_an_attempt_without_files_still_has_its_folder(tmp_path):
    record = Record(tmp_path)
    record.add(attempt(), {})
    assert record.folder(attempt()).is_dir()


def test_adding_the_same_attempt_twice_changes_nothing(tmp_path):
    record = Record(tmp_path)
    record.add(attempt(), {"lab.ipynb": b"first"})
    record.update(NAME, status="graded", score=3.0)
    record.add(attempt(), {"lab.ipynb": b"second"})  # a service resumed after a stop
    assert len(record.attempts()) == 1
    assert (record.of("lab", "alice")[0].status, record.of("lab", "alice")[0].score) == (
        "graded",
        3.0,
    )
    assert (record.folder(attempt()) / "lab.ipynb").read_bytes() == b"first"


def test_the_folder_is_written_before_the_row(tmp_path, monkeypatch):
    record = Record(tmp_path)

    def stop(*args, **kwargs):
        raise OSError("stopped")

    monkeypatch.setattr(service_db.os, "replace", stop)  # stopped before the folder is whole
    with pytest.raises(OSError):
        record.add(attempt(), {"lab.ipynb": b"{}"})
    assert record.names() == set()  # so nothing is recorded
    assert not record.folder(attempt()).exists()
    monkeypatch.undo()
    record.add(attempt(), {"lab.ipynb": b"{}"})
    assert record.names() == {NAME} and record.folder(attempt()).is_dir()


def test_a_leftover_tmp_folder_is_replaced(tmp_path):
    record = Record(tmp_path)
    folder = record.folder(attempt())
    tmp = folder.with_name(NAME + ".tmp")
    (tmp / "old").mkdir(parents=True)
    (tmp / "old" / "stale.ipynb").write_bytes(b"half written")
    record.add(attempt(), {"lab.ipynb": b"{}"})
    assert not tmp.exists()
    assert sorted(p.name for p in folder.rglob("*")) == ["lab.ipynb"]


def test_update_changes_only_the_columns_named(tmp_path):
    record = Record(tmp_path)
    record.add(attempt(), {})
    record.update(NAME, status="refused", reason="too soon", next_at="2026-12-04T08:00:00")
    found = record.of("lab", "alice")[0]
    assert (found.status, found.reason, found.next_at) == (
        "refused",
        "too soon",
        "2026-12-04T08:00:00",
    )
    assert found == replace(
        attempt(), status="refused", reason="too soon", next_at="2026-12-04T08:00:00"
    )


def test_update_refuses_columns_that_do_not_exist(tmp_path):
    record = Record(tmp_path)
    record.add(attempt(), {})
    with pytest.raises(ValueError, match=r"no columns \['bogus', 'status; DROP'\]"):
        record.update(NAME, status="graded", bogus=1, **{"status; DROP": 1})
    assert record.of("lab", "alice")[0].status == "new"  # nothing changed


def test_the_counted_attempt_is_recorded_per_student_and_assignment(tmp_path):
    record = Record(tmp_path)
    assert record.counted("lab", "alice") is None
    record.set_counted("lab", "alice", "first")
    record.set_counted("lab", "bob", "bobs")
    record.set_counted("lab", "alice", "second")
    assert record.counted("lab", "alice") == "second"
    assert record.counted("lab", "bob") == "bobs"
    assert record.counted("lab2", "alice") is None
    with sqlite3.connect(record.path) as con:
        assert con.execute("SELECT COUNT(*) FROM counted").fetchone() == (2,)
