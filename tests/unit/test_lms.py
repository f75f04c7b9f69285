"""`lms`: the platforms' file names, parsed and written (upload names that parse back)."""

from __future__ import annotations

import logging

import pytest

from course_utils.grading import lms
from course_utils.grading.lms import Named


def test_canvas_upload_names_parse_back_to_the_same_submission():
    for student, user, attachment, file in [
        ("Smith, John", "12345", "67890", "lab3_part2.html"),
        ("O'Brien-Núñez, Seán", "7", "8", "lab_with_underscores.html"),
        ("", "22", "33", "x.html"),
        ("___", "44", "55", "_lead.html"),
    ]:
        name = lms.canvas_upload_name(student, user, attachment, file)
        named = lms.parse("canvas", name)
        assert (named.lms_id, named.attachment, named.file) == (user, attachment, file)
        # Canvas's re-upload takes the first two all-digit parts as the user and attachment
        assert [p for p in name.split("_") if p.isdigit()][:2] == [user, attachment]


def test_canvas_upload_names_keep_only_word_characters():
    assert lms.canvas_upload_name("Smith, John", "1", "2", "f.html") == "smithjohn_1_2_f.html"
    assert lms.canvas_upload_name("../../etc", "1", "2", "f.html") == "etc_1_2_f.html"
    assert lms.canvas_upload_name(" ,.", "1", "2", "f.html") == "student_1_2_f.html"


def test_moodle_feedback_names_split_as_moodle_splits_them():
    for full_name in ("Jane Doe", "Jane_Doe", "a/b\\c", "", "Participant"):
        name = lms.moodle_upload_name(full_name, "101", "lab_3_part2.html")
        parts = name.split("_", 4)
        assert parts[1:] == ["101", "assignsubmission", "file", "lab_3_part2.html"]
        assert "/" not in parts[0] and "\\" not in parts[0] and parts[0].strip()
        assert lms.parse("moodle", name).lms_id == "101"
    assert lms.moodle_upload_name("", "5", "f.html").startswith("Participant_5_")


@pytest.mark.parametrize(
    ("lms_name", "path", "named"),
    [
        ("canvas", "d_LATE_anon_AbC9_12_a.ipynb", Named("anon_AbC9", "a.ipynb", True, "12", "d")),
        ("canvas", "22_33_lab.ipynb", Named("22", "lab.ipynb", False, "33", "")),
        ("canvas", "x_1_2_notes.txt", Named("1", "notes.txt", False, "2", "x")),
        ("moodle", "A B_7_assignsubmission_file_x_y.ipynb", Named("7", "x_y.ipynb", name="A B")),
        ("moodle", "A_7_assignsubmission_file/a/b/c.ipynb", Named("7", "c.ipynb", name="A")),
    ],
)  # fmt: skip
def test_names_parse_into_their_parts(lms_name, path, named):
    assert lms.parse(lms_name, path) == named


@pytest.mark.parametrize(
    ("lms_name", "path"),
    [
        ("canvas", "lab.ipynb"),
        ("canvas", "smith_x1_2_lab.ipynb"),  # an id is digits, or anon_...
        ("canvas", "smith_12_lab.ipynb"),  # no attachment id
        ("canvas", "smith_12_34_"),  # no file
        ("moodle", "Jane_101_assignsubmission_onlinetext_a.html"),
        ("moodle", "Jane_x_assignsubmission_file_a.ipynb"),
        ("moodle", "Jane_101_assignsubmission_file/"),
    ],
)
def test_names_the_platform_never_writes_are_no_match(lms_name, path):
    assert lms.parse(lms_name, path) is None


def test_the_plugins_match_the_absolute_paths_nbgrader_zip_collect_gives_them():
    # nbgrader's ZipCollectApp hands each plugin the absolute path of an extracted file
    canvas = lms.CanvasFileNames().collect("/course/downloaded/lab/extracted/smith_12_34_lab.ipynb")
    assert (canvas["student_id"], canvas["file_id"], canvas["name"]) == ("12", "lab.ipynb", "smith")
    moodle = lms.MoodleFileNames().collect(
        "/course/downloaded/lab/extracted/Jane Doe_101_assignsubmission_file/lab.ipynb"
    )
    assert (moodle["student_id"], moodle["file_id"]) == ("101", "lab.ipynb")
    assert lms.CanvasFileNames().collect("/course/extracted/notes_12_34_a.txt") is None  # .ipynb


@pytest.mark.parametrize(
    ("file", "plain"),
    [
        ("lab3_part2.ipynb", "lab3_part2"),
        ("Copy of lab3_part2 (1).ipynb", "lab3_part2"),
        ("Copia de Lab3_Part2.IPYNB", "lab3_part2"),
        ("lab3_part2-1.ipynb", "lab3_part2"),
        ("  My Lab (12) .ipynb", "my_lab"),
        ("notes.txt", "notes.txt"),
    ],
)
def test_plain_names_drop_what_copies_and_downloads_add(file, plain):
    assert lms.plain_name(file) == plain


def test_the_plugins_own_warnings_stay_quiet():
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    try:
        assert lms.parse("canvas", "nothing to see.ipynb") is None
    finally:
        logging.getLogger().removeHandler(handler)
    assert seen == []  # the collector reports each file itself
