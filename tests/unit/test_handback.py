"""`handback`: the platform's feedback zip, with each student's pages under their own ids."""

from __future__ import annotations

import json
import os
import zipfile

import pytest

from course_utils.grading import handback


def collected(course, lms: str, students: dict[str, dict]) -> None:
    record = course / ".course-kit" / "lms" / "lab.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"lms": lms, "students": students}))


def feedback(course, student: str, files: dict[str, str]):
    folder = course / "feedback" / student / "lab"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_without_a_collection_there_is_nothing_to_hand_back(tmp_path):
    with pytest.raises(FileNotFoundError, match="collect lab DOWNLOAD.zip"):
        handback.handback(tmp_path, "lab", tmp_path / "out.zip")


def test_canvas_zip_holds_only_each_students_html_under_their_ids(tmp_path):
    course = tmp_path
    collected(
        course,
        "canvas",
        {
            "ann": {"lms_id": "101", "attachment": "11", "name": "able"},
            "bob": {"lms_id": "202", "attachment": "22", "name": ""},
            "cid": {"lms_id": "anon_Xy1", "attachment": "33", "name": ""},
            "dee": {"lms_id": "404", "attachment": "44", "name": "dee"},
        },
    )
    folder = feedback(
        course,
        "ann",
        {"lab.html": "ann's", "timestamp.txt": "t", ".hidden.html": "x", "~lab.html": "x"},
    )
    os.symlink("/etc/passwd", folder / "passwd.html")
    os.mkfifo(folder / "pipe.html")
    (folder / "folder.html").mkdir()
    feedback(course, "bob", {"notes.txt": "no page"})
    feedback(course, "cid", {"lab.html": "cid's"})
    out = tmp_path / "grades" / "back.zip"
    rows = handback.handback(course, "lab", out)
    assert [(r.student, r.outcome, r.detail) for r in rows] == [
        ("ann", "returned", "lab.html"),
        ("bob", "no feedback", ""),
        (
            "cid",
            "returned",
            "lab.html (anonymous grading: Canvas may not match it; upload it by hand)",
        ),
        ("dee", "no feedback", "generate it first"),
    ]
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["able_101_11_lab.html", "student_anon_Xy1_33_lab.html"]
        assert z.read("able_101_11_lab.html") == b"ann's"


def test_moodle_zip_names_and_a_linked_feedback_folder(tmp_path):
    course = tmp_path
    collected(
        course,
        "moodle",
        {"ann": {"lms_id": "7", "name": "Ann_Able"}, "bob": {"lms_id": "8", "name": "Bob"}},
    )
    feedback(course, "ann", {"lab.html": "ann's"})
    elsewhere = tmp_path / "elsewhere"
    feedback(elsewhere, "bob", {"lab.html": "someone else's"})
    (course / "feedback" / "bob").symlink_to(elsewhere / "feedback" / "bob")
    rows = handback.handback(course, "lab", tmp_path / "back.zip")
    assert [(r.student, r.outcome) for r in rows] == [("ann", "returned"), ("bob", "no feedback")]
    with zipfile.ZipFile(tmp_path / "back.zip") as z:
        assert z.namelist() == ["Ann Able_7_assignsubmission_file_lab.html"]


def test_read_takes_plain_files_only_and_within_the_limit(tmp_path, monkeypatch):
    (tmp_path / "page.html").write_bytes(b"x" * 100)
    os.symlink(tmp_path / "page.html", tmp_path / "link.html")
    (tmp_path / "dir.html").mkdir()
    assert handback._read(tmp_path, "page.html") == b"x" * 100
    assert handback._read(tmp_path, "link.html") is None
    assert handback._read(tmp_path, "dir.html") is None
    assert handback._read(tmp_path, "missing.html") is None
    monkeypatch.setattr(handback, "MAX_FEEDBACK", 99)
    assert handback._read(tmp_path, "page.html") is None


def test_upload_names_per_platform():
    kept = {"lms_id": "5", "attachment": "6", "name": "Smith, J"}
    assert handback.upload_name("canvas", kept, "f.html") == "smithj_5_6_f.html"
    assert (
        handback.upload_name("moodle", kept, "f.html") == "Smith, J_5_assignsubmission_file_f.html"
    )
    assert handback.upload_name("moodle", {"lms_id": "5"}, "f.html").startswith("Participant_5_")
