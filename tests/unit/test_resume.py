"""`resume`: a submission is skipped only when its marker and its rows are both there."""

from __future__ import annotations

import pytest

from course_utils.grading import resume
from unit.builders import add_lab, add_submission, copy_file, empty_gradebook


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    db = empty_gradebook(tmp_path_factory.mktemp("resume") / "gradebook.db")
    add_lab(db, "lab", {"t": 1})
    add_submission(db, "lab", "ann", {"t": 1})
    return db


@pytest.fixture
def course(tmp_path, base):
    copy_file(base, tmp_path / "gradebook.db")
    return tmp_path


def done(course, student="ann", digest="d1 epochs=1") -> bool:
    return resume.is_done(course, course / "gradebook.db", "lab", student, digest)


def test_a_marked_and_recorded_submission_is_done(course):
    graded = course / "autograded" / "ann" / "lab"
    graded.mkdir(parents=True)
    assert not done(course)  # no marker yet
    resume.mark_done(graded, "d1 epochs=1")
    assert (graded / resume.MARKER).read_text() == "d1 epochs=1"
    assert done(course)


def test_a_changed_digest_or_length_is_not_done(course):
    graded = course / "autograded" / "ann" / "lab"
    graded.mkdir(parents=True)
    resume.mark_done(graded, "d1 epochs=1")
    assert not done(course, digest="d2 epochs=1")  # resubmitted
    assert not done(course, digest="d1 epochs=2")  # another training length


def test_a_marker_without_rows_in_the_gradebook_is_not_done(course):
    graded = course / "autograded" / "bob" / "lab"
    graded.mkdir(parents=True)
    resume.mark_done(graded, "d1 epochs=1")
    assert not done(course, "bob")


def test_a_folder_in_place_of_the_marker_is_not_done(course):
    (course / "autograded" / "ann" / "lab" / resume.MARKER).mkdir(parents=True)
    assert not done(course)
