"""Hand-in and hand-back through the LMS: Canvas's and Moodle's downloads, as they name their
files, collected into ``submitted/``; feedback back as the zip each platform takes.

The downloads are built here as each platform builds them (`course_utils.grading.lms` cites
where each pattern comes from), with what real classes hand in (renamed copies, several
notebooks, the other assignment's notebook, a zip, a text file, broken JSON, unknown and
ambiguous students, nothing at all) and hostile entries (``../``, absolute paths, links, a zip
bomb). The last test goes from a Canvas download through the real grader to the hand-back zip.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course_utils.environment import tool_env
from course_utils.grading import collect, handback, lms, worksheet
from support import LAB, Course, grade_id_of

ASSIGNMENT = "lab3_part2"
DUE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
BEFORE = (2026, 11, 1, 11, 0, 0)  # a zip entry's time: an hour before the due date
AFTER = (2026, 11, 2, 10, 0, 0)


def notebook(marker: str) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = {marker!r}")])
    return nbformat.writes(nb).encode()


def marker_of(path: Path) -> str:
    return nbformat.read(path, as_version=4).cells[0].source


def build_zip(entries: list[tuple[str, bytes, tuple]], links: tuple[str, ...] = ()) -> bytes:
    """A zip as a platform writes it: (name, bytes, date) per file; `links` are symlinks."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, when in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=when), data)
        for name in links:
            info = zipfile.ZipInfo(name, date_time=BEFORE)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/shadow")
    return out.getvalue()


@pytest.fixture(scope="module")
def gradebook_with_roster(tmp_path_factory):
    """One gradebook, made once (nbgrader makes it slowly): the assignment and every roster."""
    db = tmp_path_factory.mktemp("roster") / "gradebook.db"
    with Gradebook(f"sqlite:///{db}") as gradebook:
        gradebook.add_assignment(ASSIGNMENT, duedate=DUE.replace(tzinfo=None))
        for student, fields in {**CANVAS_ROSTER, **MOODLE_ROSTER}.items():
            gradebook.add_student(student, **fields)
    return db


def course_folder(tmp_path: Path, db: Path) -> Path:
    """A course folder with both assignments' sources and the roster's gradebook."""
    course = tmp_path / "course"
    for name in (ASSIGNMENT, "lab3_quiz"):
        (course / "source" / name).mkdir(parents=True)
    shutil.copy(db, course / "gradebook.db")
    return course


CANVAS_ROSTER = {
    "smith": {"lms_user_id": "12345", "first_name": "John", "last_name": "Smith"},
    "doe": {"lms_user_id": "22222"},
    "roe": {"lms_user_id": "33333"},
    "lee": {"lms_user_id": "44444"},
    "kim": {"lms_user_id": "55555"},
    "park": {"lms_user_id": "66666"},
    "wu": {"lms_user_id": "77777"},
    "absent": {"lms_user_id": "10101"},
    "twin_a": {"lms_user_id": "20202"},
    "twin_b": {"lms_user_id": "20202"},
}
MOODLE_ROSTER = {
    "jdoe": {"email": "Jane.Doe@uni.example"},
    "asmith": {"email": "a.smith@uni.example"},
}


def canvas_download() -> bytes:
    inner = build_zip([(f"{ASSIGNMENT}.ipynb", notebook("kim"), BEFORE)])
    return build_zip(
        [
            (f"smithjohn_12345_67890_{ASSIGNMENT}.ipynb", notebook("smith new"), BEFORE),
            (f"doejane_LATE_22222_11111_Copy of {ASSIGNMENT} (1).ipynb", notebook("doe"), BEFORE),
            (f"roealex_33333_44444_{ASSIGNMENT}.ipynb", notebook("roe first"), BEFORE),
            (f"roealex_33333_44445_{ASSIGNMENT}-1.ipynb", notebook("roe second"), BEFORE),
            ("leesam_44444_50000_lab3_quiz.ipynb", notebook("lee quiz"), BEFORE),
            ("kimlee_55555_60000_submission.zip", inner, BEFORE),
            ("parkjo_66666_70000_notes.txt", b"my notes", BEFORE),
            (f"wuwei_77777_80000_{ASSIGNMENT}.ipynb", b'{"cells": [', BEFORE),
            (f"ghost_99999_90000_{ASSIGNMENT}.ipynb", notebook("ghost"), BEFORE),
            (f"twin_20202_91000_{ASSIGNMENT}.ipynb", notebook("twin"), BEFORE),
            (f"../smithjohn_12345_1_{ASSIGNMENT}.ipynb", notebook("climb"), BEFORE),
            (f"/smithjohn_12345_2_{ASSIGNMENT}.ipynb", notebook("absolute"), BEFORE),
            (f"smithjohn_12345_4_{ASSIGNMENT}.ipynb", bytes(60 << 20), BEFORE),  # a bomb
        ],
        links=(f"smithjohn_12345_3_{ASSIGNMENT}.ipynb",),
    )


@pytest.fixture
def canvas_class(tmp_path, gradebook_with_roster):
    course = course_folder(tmp_path, gradebook_with_roster)
    old = course / "submitted" / "smith" / ASSIGNMENT
    old.mkdir(parents=True)
    (old / f"{ASSIGNMENT}.ipynb").write_bytes(notebook("smith old"))
    download = tmp_path / "canvas.zip"
    download.write_bytes(canvas_download())
    roster = worksheet.canvas(course / "gradebook.db", ASSIGNMENT)
    done = collect.collect(course, ASSIGNMENT, download, "canvas", roster)
    return course, done


def rows_of(done: collect.Collection) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for row in done.rows:
        found.setdefault(row.student, []).append((row.outcome, row.detail))
    return found


def test_canvas_names_parse_as_canvas_writes_them():
    late = lms.parse("canvas", f"smithjohn_LATE_12345_67890_{ASSIGNMENT}.ipynb")
    assert late == lms.Named("12345", f"{ASSIGNMENT}.ipynb", True, "67890", "smithjohn")
    anonymous = lms.parse("canvas", f"anon_x7Yz2_67890_{ASSIGNMENT}.ipynb")
    assert anonymous.lms_id == "anon_x7Yz2" and anonymous.name == ""
    underscored = lms.parse("canvas", "o_brien_12_34_Copy of lab (2).ipynb")
    assert (underscored.name, underscored.lms_id, underscored.file) == (
        "o_brien",
        "12",
        "Copy of lab (2).ipynb",
    )
    assert lms.parse("canvas", f"no ids here {ASSIGNMENT}.ipynb") is None
    for name in (f"Copy of {ASSIGNMENT} (1).ipynb", f"{ASSIGNMENT}-2.ipynb", "Lab3_Part2.ipynb"):
        assert lms.plain_name(name) == ASSIGNMENT


def test_moodle_names_parse_flat_and_in_folders():
    flat = lms.parse("moodle", f"Jane Doe_101_assignsubmission_file_{ASSIGNMENT}.ipynb")
    assert (flat.lms_id, flat.file, flat.name) == ("101", f"{ASSIGNMENT}.ipynb", "Jane Doe")
    for folder in ("Jane Doe_101_assignsubmission_file", "Jane Doe_101_assignsubmission_file_"):
        found = lms.parse("moodle", f"{folder}/work/{ASSIGNMENT}.ipynb")
        assert (found.lms_id, found.file) == ("101", f"{ASSIGNMENT}.ipynb")
    assert lms.parse("moodle", "Jane Doe_101_assignsubmission_onlinetext_onlinetext.html") is None


def test_canvas_download_each_file_reported_and_nothing_lost(canvas_class):
    course, done = canvas_class
    got = rows_of(done)
    submitted = course / "submitted"
    assert got["smith"][-1][0].startswith("replaced (the earlier copy is in .course-kit/")
    kept = list((course / ".course-kit" / "collected" / ASSIGNMENT / "smith").rglob("*.ipynb"))
    assert [marker_of(p) for p in kept] == ["x = 'smith old'"]
    assert marker_of(submitted / "smith" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb") == "x = 'smith new'"
    assert marker_of(submitted / "doe" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb") == "x = 'doe'"
    assert got["doe"] == [
        ("collected", f"its only notebook, handed in as 'Copy of {ASSIGNMENT} (1).ipynb'")
    ]
    assert marker_of(submitted / "roe" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb") == "x = 'roe second'"
    assert any(o == "skipped" and "not collected" in d for o, d in got["roe"])
    assert got["lee"] == [("skipped", "another assignment's notebook")]
    assert marker_of(submitted / "kim" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb") == "x = 'kim'"
    assert got["park"] == [("skipped", "not a notebook")]
    assert got["wu"][0][0] == "skipped" and got["wu"][0][1].startswith("not a notebook")
    assert got["99999"] == [("skipped", "unknown student: not in the roster (or the worksheet)")]
    assert "gives this LMS id to 2 students" in got["20202"][0][1]
    assert got["absent"] == [("nothing handed in", "")]
    hostile = {r.path: r.detail for r in done.rows if "smithjohn_12345" in r.path}
    assert "climbs out" in hostile[f"../smithjohn_12345_1_{ASSIGNMENT}.ipynb"]
    assert hostile[f"/smithjohn_12345_2_{ASSIGNMENT}.ipynb"] == "an absolute path"
    assert hostile[f"smithjohn_12345_3_{ASSIGNMENT}.ipynb"] == "a link"
    assert "over the size limit" in hostile[f"smithjohn_12345_4_{ASSIGNMENT}.ipynb"]
    assert sorted(p.name for p in submitted.iterdir()) == ["doe", "kim", "roe", "smith"]
    assert not (course.parent / "smithjohn_12345_1_lab3_part2.ipynb").exists()


def test_the_late_flag_and_the_zip_time_become_nbgraders_timestamp(canvas_class):
    course, _ = canvas_class
    stamp = (course / "submitted" / "doe" / ASSIGNMENT / "timestamp.txt").read_text()
    assert stamp == "2026-11-01 12:00:01.000000 UTC"  # marked LATE: after the due date
    stamp = (course / "submitted" / "smith" / ASSIGNMENT / "timestamp.txt").read_text()
    assert stamp == "2026-11-01 11:00:00.000000 UTC"


def test_collecting_again_changes_nothing_unchanged(canvas_class, tmp_path):
    course, _ = canvas_class
    download = tmp_path / "canvas.zip"
    roster = worksheet.canvas(course / "gradebook.db", ASSIGNMENT)
    again = collect.collect(course, ASSIGNMENT, download, "canvas", roster)
    assert rows_of(again)["smith"][-1] == ("unchanged", "its only notebook")


def moodle_class(tmp_path: Path, db: Path, folders: bool) -> tuple[Path, collect.Collection]:
    course = course_folder(tmp_path, db)
    sheet = tmp_path / "worksheet.csv"
    with open(sheet, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["Identifier", "Full name", "Email address", "Status", "Last modified (submission)"]
        )
        writer.writerow(
            ["Participant 101", "Jane Doe", "jane.doe@uni.example", "Submitted",
             "Monday, 2 November 2026, 10:00 AM"]
        )  # fmt: skip
        writer.writerow(
            ["Participant 102", "Al Smith", "a.smith@uni.example", "No submission", "-"]
        )
        writer.writerow(["Participant 103", "Sam Other", "other@uni.example", "Submitted", "-"])
    sep = "/" if folders else "_"
    download = tmp_path / "moodle.zip"
    entries = [
        (f"{who}_assignsubmission_file{sep}{ASSIGNMENT}.ipynb", notebook(marker), AFTER)
        for who, marker in (("Jane Doe_101", "jane"), ("Sam Other_103", "sam"))
    ]
    download.write_bytes(build_zip(entries))
    found = worksheet.moodle(course / "gradebook.db", ASSIGNMENT, sheet)
    return course, collect.collect(course, ASSIGNMENT, download, "moodle", found)


@pytest.mark.parametrize("folders", [True, False])
def test_moodle_download_matches_participants_through_the_worksheet(
    tmp_path, gradebook_with_roster, folders
):
    course, done = moodle_class(tmp_path, gradebook_with_roster, folders)
    got = rows_of(done)
    assert got["jdoe"] == [("collected", "its only notebook")]
    folder = course / "submitted" / "jdoe" / ASSIGNMENT
    assert marker_of(folder / f"{ASSIGNMENT}.ipynb") == "x = 'jane'"
    assert (folder / "timestamp.txt").read_text() == "2026-11-02 10:00:00.000000 UTC"
    assert got["asmith"] == [("nothing handed in", "")]
    assert got["103"][0][0] == "skipped"  # in Moodle, not in the roster
    kept = json.loads((course / ".course-kit" / "lms" / f"{ASSIGNMENT}.json").read_text())
    assert kept["lms"] == "moodle" and kept["students"]["jdoe"]["name"] == "Jane Doe"


def write_feedback(course: Path, students: list[str]) -> None:
    for student in students:
        folder = course / "feedback" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{ASSIGNMENT}.html").write_text(f"<p>feedback for {student}</p>")
        (folder / "shadow.html").symlink_to("/etc/shadow")


def test_hand_back_names_rematch_the_right_students(canvas_class, tmp_path):
    course, done = canvas_class
    write_feedback(course, sorted(done.written))
    out = tmp_path / "back.zip"
    rows = handback.handback(course, ASSIGNMENT, out)
    assert {r.student for r in rows if r.outcome == "returned"} == set(done.written)
    kept = json.loads((course / ".course-kit" / "lms" / f"{ASSIGNMENT}.json").read_text())
    ids = {info["lms_id"]: s for s, info in kept["students"].items()}
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        assert len(names) == len(done.written)  # the links are left out
        for name in names:
            named = lms.parse("canvas", name)
            student = ids[named.lms_id]
            assert named.attachment == kept["students"][student]["attachment"]
            assert z.read(name).decode() == f"<p>feedback for {student}</p>"


def test_moodle_hand_back_is_named_for_its_feedback_import(tmp_path, gradebook_with_roster):
    course, _ = moodle_class(tmp_path, gradebook_with_roster, folders=True)
    write_feedback(course, ["jdoe"])
    out = tmp_path / "back.zip"
    handback.handback(course, ASSIGNMENT, out)
    with zipfile.ZipFile(out) as z:
        assert z.namelist() == [f"Jane Doe_101_assignsubmission_file_{ASSIGNMENT}.html"]
    parts = z.namelist()[0].split("_", 4)  # as Moodle's importer splits it
    assert parts[1:4] == ["101", "assignsubmission", "file"]


def test_the_commands_say_what_is_missing(tmp_path, gradebook_with_roster):
    course = course_folder(tmp_path, gradebook_with_roster)
    run = [sys.executable, "-m", "course_utils.grade"]

    def said(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*run, *args, "--course", str(course)], capture_output=True, text=True, env=tool_env()
        )

    done = said("collect", ASSIGNMENT, str(tmp_path / "none.zip"), "--lms", "canvas")
    assert done.returncode == 2 and "is not a file" in done.stderr
    (tmp_path / "d.zip").write_bytes(build_zip([]))
    done = said("collect", ASSIGNMENT, str(tmp_path / "d.zip"), "--lms", "moodle")
    assert done.returncode == 2 and "--worksheet" in done.stderr
    done = said("handback", ASSIGNMENT)
    assert done.returncode == 2 and "collect" in done.stderr


def test_from_a_canvas_download_to_grades_and_the_upload(tmp_path):
    """Collect, grade with the kit, hand back: the late student loses a day's penalty."""
    course = Course(tmp_path, ASSIGNMENT)
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=DUE.replace(tzinfo=None))
        gradebook.add_student("on_time", lms_user_id="111")
        gradebook.add_student("late", lms_user_id="222")
    solved = course.solved(LAB.answers)
    partial = nbformat.read(course.release, as_version=4)
    for mine, theirs in zip(partial.cells, solved.cells, strict=True):
        if grade_id_of(mine) in ("preprocess", "model", "compile"):
            mine.source = theirs.source  # 7 points, no training
    data = nbformat.writes(partial).encode()
    download = tmp_path / "canvas.zip"
    download.write_bytes(
        build_zip(
            [
                (f"ontime_111_1001_{ASSIGNMENT}.ipynb", data, BEFORE),
                (f"late_LATE_222_1002_Copy of {ASSIGNMENT}.ipynb", data, BEFORE),
            ]
        )
    )
    base = [sys.executable, "-m", "course_utils.grade"]
    where = ["--course", str(course.root)]
    run = subprocess.run(
        [*base, "collect", ASSIGNMENT, str(download), "--lms", "canvas", *where],
        capture_output=True, text=True, env=tool_env(),
    )  # fmt: skip
    assert run.returncode == 0 and "2 notebook(s) in submitted/" in run.stdout, run.stdout
    graded = course.grade("--epochs", "1", "--workers", "2")
    assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        scores = {
            s: (gradebook.find_submission(ASSIGNMENT, s).score,
                gradebook.find_submission(ASSIGNMENT, s).late_submission_penalty or 0.0)
            for s in ("on_time", "late")
        }  # fmt: skip
    assert scores == {"on_time": (7.0, 0.0), "late": (7.0, pytest.approx(0.7))}
    out = tmp_path / "upload.zip"
    run = subprocess.run(
        [*base, "handback", ASSIGNMENT, "--to", str(out), *where],
        capture_output=True, text=True, env=tool_env(),
    )  # fmt: skip
    assert run.returncode == 0 and "2 student(s)' feedback" in run.stdout, run.stdout + run.stderr
    with zipfile.ZipFile(out) as z:
        ids = {lms.parse("canvas", n).lms_id: n for n in z.namelist()}
        assert set(ids) == {"111", "222"}
        assert "Score: 7.0" in z.read(ids["111"]).decode()
        assert "BEGIN HIDDEN TESTS" not in z.read(ids["222"]).decode()
