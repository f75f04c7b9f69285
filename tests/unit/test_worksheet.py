"""`worksheet`: the roster by LMS id, from the gradebook and Moodle's grading worksheet."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from course_utils.grading import worksheet
from course_utils.grading.lms import Named
from course_utils.grading.worksheet import Roster
from unit.builders import copy_file, empty_gradebook, gradebook

DUE = datetime(2026, 11, 1, 12, 0)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    db = empty_gradebook(tmp_path_factory.mktemp("roster") / "gradebook.db")
    with gradebook(db) as gb:
        gb.add_assignment("lab", duedate=DUE)
        gb.add_assignment("open")  # no due date
        gb.add_student("ann", email="Ann@Uni.example", lms_user_id=" 101 ")
        gb.add_student("bob", email="bob@uni.example", lms_user_id="202")
        gb.add_student("bo2", email="BOB@uni.example", lms_user_id="202")  # shares both
        gb.add_student("cid")  # nothing the platforms know
    return db


@pytest.fixture
def db(tmp_path, base):
    return copy_file(base, tmp_path / "gradebook.db")


def test_canvas_roster_by_user_id_with_the_due_date_in_utc(db):
    roster = worksheet.canvas(db, "lab")
    assert roster.ids == {"101": ["ann"], "202": ["bob", "bo2"]}
    assert roster.due == DUE.replace(tzinfo=UTC)
    assert worksheet.canvas(db, "open").due is None
    assert worksheet.canvas(db, "no such assignment").due is None


def test_one_student_per_id_or_none():
    roster = Roster(ids={"1": ["ann"], "2": ["bob", "bo2"], "3": []})
    assert roster.student("1") == "ann"
    assert roster.student("2") is None and roster.student("3") is None
    assert roster.student("9") is None
    assert roster.why_not("2") == "the roster gives this LMS id to 2 students (bob, bo2)"
    assert roster.why_not("9").startswith("unknown student")
    assert roster.missing({"ann"}) == []
    assert Roster(ids={"1": ["ann"], "4": ["dee"]}).missing({"ann"}) == ["dee"]


def test_what_hand_back_needs_is_kept_and_merged_per_platform(tmp_path):
    path = tmp_path / "lms" / "lab.json"
    first = Roster(names={"1": "Ann Able"})
    first.remember("ann", Named("1", "lab.ipynb", attachment="11", name="able"))
    first.save(path, "moodle")
    second = Roster()
    second.remember("bob", Named("2", "lab.ipynb", name="bob b"))
    second.save(path, "moodle")
    kept = json.loads(path.read_text())
    assert kept["lms"] == "moodle"
    assert kept["students"]["ann"] == {
        "lms_id": "1",
        "file": "lab.ipynb",
        "late": False,
        "attachment": "11",
        "name": "Ann Able",  # the worksheet's name wins over the file's
    }
    assert kept["students"]["bob"]["name"] == "bob b"
    third = Roster()
    third.remember("cid", Named("3", "lab.ipynb"))
    third.save(path, "canvas")  # another platform: the earlier record does not carry over
    assert list(json.loads(path.read_text())["students"]) == ["cid"]


SHEET = (
    "\ufeffIdentifier,Full name,Email address,Status,Last modified (submission),Grade\n"
    'Participant 11,Ann Able,ann@uni.example,Submitted,"Sunday, 1 November 2026, 11:30 AM",\n'
    "Participante 12,Bob B,bob@uni.example,Submitted,2026-11-02T10:00:00+02:00,\n"
    "Participant 13,Nobody,nobody@uni.example,No submission,-,\n"
    "Total,,,,,\n"
    "Participant 14\n"
)


def test_moodle_roster_through_the_worksheets_email_addresses(tmp_path, db):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    roster = worksheet.moodle(db, "lab", sheet)
    assert roster.ids == {"11": ["ann"], "12": ["bob", "bo2"], "13": []}
    assert roster.names == {"11": "Ann Able", "12": "Bob B", "13": "Nobody"}
    assert roster.submitted("11") == datetime(2026, 11, 1, 11, 30, tzinfo=UTC)
    assert roster.submitted("12") == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert roster.submitted("13") is None
    assert roster.due == DUE.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "is empty"), ("Identifier,Full name\nParticipant 1,Ann\n", "no e-mail column")],
)
def test_a_worksheet_that_is_not_moodles_is_refused(tmp_path, db, text, message):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(text)
    with pytest.raises(ValueError, match=message):
        worksheet.moodle(db, "lab", sheet)


def test_a_worksheet_too_large_is_refused_before_it_is_read(tmp_path, db, monkeypatch):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(SHEET)
    monkeypatch.setattr(worksheet, "MAX_WORKSHEET", 10)
    with pytest.raises(ValueError, match="larger than a grading worksheet"):
        worksheet.moodle(db, "lab", sheet)
