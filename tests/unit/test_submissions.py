"""`submissions`: which submissions a run considers, which it refuses, the assignment's files."""

from __future__ import annotations

import io
import os
import tarfile

import nbformat
import pytest

from course_utils.grading import submissions
from course_utils.grading.jobs import GradingError
from unit.builders import notebook_bytes

NB = notebook_bytes("x = 1")


def hand_in(course, student: str, files: dict[str, bytes] | None = None, assignment: str = "lab"):
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    for name, data in (files or {"lab.ipynb": NB}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def test_find_and_select_submissions(tmp_path):
    for student in ("bob", "ann"):
        hand_in(tmp_path, student)
    hand_in(tmp_path, "cid", assignment="quiz")
    (tmp_path / "submitted" / "dee").mkdir()
    (tmp_path / "submitted" / "eve").mkdir()
    (tmp_path / "submitted" / "eve" / "lab").write_text("a file, not a folder")
    found = submissions.find_submissions(tmp_path, "lab")
    assert list(found) == ["ann", "bob"]
    assert found["ann"] == tmp_path / "submitted" / "ann" / "lab"
    assert submissions.select(tmp_path, "lab", None) == found
    assert list(submissions.select(tmp_path, "lab", ["bob"])) == ["bob"]
    with pytest.raises(GradingError, match="no submission of lab for: cid, zed"):
        submissions.select(tmp_path, "lab", ["zed", "cid", "ann"])
    with pytest.raises(GradingError, match="no submissions in"):
        submissions.select(tmp_path, "exam", None)


def test_a_plain_submission_is_graded(tmp_path):
    folder = hand_in(tmp_path, "ann", {"lab.ipynb": NB, "timestamp.txt": b"t", "data/x": b"1"})
    os.symlink("/etc/passwd", folder / "data" / "passwd")  # other links are left out, not refused
    assert submissions.refusal(folder) is None


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda f: os.symlink("/etc/passwd", f / "lab.ipynb"), "lab.ipynb is a link"),
        (lambda f: os.mkfifo(f / "timestamp.txt"), "timestamp.txt is a FIFO"),
        (lambda f: (f / "sub.ipynb").mkdir(), "sub.ipynb is not a plain file"),
        (lambda f: os.symlink("/dev/null", f / "x" / "deep.ipynb"), "x/deep.ipynb is a link"),
    ],
)
def test_notebooks_and_timestamps_that_are_not_files_are_refused(tmp_path, make, why):
    folder = hand_in(tmp_path, "ann", {"x/keep": b""})
    make(folder)
    assert submissions.refusal(folder).startswith(why)


def test_linked_folders_are_refused(tmp_path):
    real = hand_in(tmp_path, "ann")
    (tmp_path / "submitted" / "bob").mkdir()
    os.symlink(real, tmp_path / "submitted" / "bob" / "lab")
    os.symlink(tmp_path / "submitted" / "ann", tmp_path / "submitted" / "cid")
    assert "lab is a link, not a folder" in submissions.refusal(
        tmp_path / "submitted" / "bob" / "lab"
    )
    assert "cid is a link, not a folder" in submissions.refusal(
        tmp_path / "submitted" / "cid" / "lab"
    )


def test_too_many_files_or_bytes_are_refused(tmp_path, monkeypatch):
    folder = hand_in(tmp_path, "ann", {"lab.ipynb": NB, "a": b"12345", "b": b"12345"})
    monkeypatch.setattr(submissions, "MAX_FILES", 2)
    assert "more than 2 files" in submissions.refusal(folder)
    monkeypatch.setattr(submissions, "MAX_FILES", 10)
    monkeypatch.setattr(submissions, "MAX_BYTES", len(NB) + 9)
    assert "more than 10 files or" in submissions.refusal(folder)


def test_refusals_are_logged_per_student(tmp_path):
    good = hand_in(tmp_path, "ann")
    bad = hand_in(tmp_path, "bob", {"x": b""})
    os.symlink("/etc/passwd", bad / "lab.ipynb")
    said: list[str] = []
    refused = submissions.refusals({"ann": good, "bob": bad}, said.append)
    assert list(refused) == ["bob"] and refused["bob"].startswith("not graded: lab.ipynb is a link")
    assert said == [f"bob: {refused['bob']}"]


def test_source_files_are_the_data_files_without_notebooks_or_checkpoints(tmp_path):
    source = tmp_path / "source" / "lab"
    for name in ("lab.ipynb", "data/x.csv", "helper.py", ".ipynb_checkpoints/lab-checkpoint.ipynb",
                 ".ipynb_checkpoints/helper.py"):  # fmt: skip
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(name)
    with tarfile.open(fileobj=io.BytesIO(submissions.source_files(tmp_path, "lab"))) as tar:
        assert sorted(m.name for m in tar.getmembers() if m.isfile()) == ["data/x.csv", "helper.py"]
    empty = submissions.source_files(tmp_path, "none")
    with tarfile.open(fileobj=io.BytesIO(empty)) as tar:
        assert tar.getmembers() == []


def test_cell_order_is_each_notebooks_grade_ids_in_order(tmp_path):
    source = tmp_path / "source" / "lab"
    source.mkdir(parents=True)
    cells = []
    for grade_id in ("b_test", None, "a_test"):
        cell = nbformat.v4.new_code_cell("pass")
        if grade_id:
            cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": True, "points": 1}
        cells.append(cell)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), source / "lab.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), source / "extra.ipynb")
    assert submissions.cell_order(tmp_path, "lab") == {"extra": [], "lab": ["b_test", "a_test"]}
