"""The judge, on the lab: test cells run apart from the student's code, so tricks in the
student's kernel earn nothing, while correct solutions in other styles keep full marks.

One class, graded once by the kit at one epoch: the lab as handed out with a trick each
(IPython's hooks, tags, silenced errors, leaks), the solved lab with tricks aimed at one or
two tests (patched NumPy, builtins, modules and ``hashlib``, a ``course_utils`` folder, a fake
``History``, the epochs setting, a custom loss, lying models), and correct solutions written
differently, one with test cells deleted and moved (styles in different cells share a
notebook, and so a training: `support.hostile.STYLE_GROUPS`).
"""

from __future__ import annotations

import nbformat
import pytest

from support import LAB, Course
from support import hostile as h
from support.judged import (
    cell_output,
    grade,
    hidden_lines_in_returned_files,
    lost,
    order,
    returned_names,
    submit_all,
)

ASSIGNMENT = "lab3_part2"


@pytest.fixture(scope="module")
def lab_class(tmp_path_factory):
    """(course, the tests each student must lose, the scores), graded once."""
    course = Course(tmp_path_factory.mktemp("judge-lab"), ASSIGNMENT)
    reference = course.solved(LAB.answers)
    release = nbformat.read(course.release, as_version=4)
    expected = submit_all(course, {**h.lab_unsolved(release), **h.lab_reference(reference)})
    for student, nb in h.grouped_styles(reference).items():
        course.submit(student, nb)
        expected[student] = set()
    return course, expected, grade(course)


def test_there_are_enough_hostile_submissions(lab_class):
    _, expected, _ = lab_class
    assert sum(1 for lost_tests in expected.values() if lost_tests) >= 12


def test_each_submission_loses_exactly_what_it_targets(lab_class):
    course, expected, scores = lab_class
    assert set(scores) == set(expected), "every submission is graded"
    wrong = {s: (sorted(lost(scores[s])), sorted(want)) for s, want in expected.items()}
    assert {s: got for s, (got, want) in wrong.items() if got != want} == {}


def test_correct_styles_keep_full_marks(lab_class):
    _, expected, scores = lab_class
    styles = [s for s, want in expected.items() if not want]
    assert sorted(styles) == sorted("__".join(group) for group in h.STYLE_GROUPS)
    assert sum(len(group) for group in h.STYLE_GROUPS) >= 9
    assert {s: sorted(lost(scores[s])) for s in styles if lost(scores[s])} == {}


def test_no_returned_file_holds_a_hidden_test_line(lab_class):
    course, _, _ = lab_class
    assert hidden_lines_in_returned_files(course) == {}


def test_files_the_kernel_leaves_are_not_returned(lab_class):
    course, _, _ = lab_class
    names = returned_names(course, "leaks_hidden_tests")
    assert f"{ASSIGNMENT}.ipynb" in names
    assert not names & {"leak.txt", "leak.b64", "tests.txt", "gradebook.db", "course"}
    planted = returned_names(course, "hashlib_planted_labels_and_epochs_env")
    assert not any(name.startswith("planted") for name in planted)


def test_deleted_and_moved_test_cells_are_put_back_in_their_places(lab_class):
    course, _, scores = lab_class
    student = next(s for s in scores if s.startswith("layer_objects_tests_deleted_and_moved"))
    ids = order(course.autograded(student))
    assert ids.index("test_model") == ids.index("model_summary") + 1
    assert ids.index("test_confusion") == ids.index("confusion") + 1
    assert "question" in ids  # the written answer, back and empty
    assert scores[student]["test_model"] == (3.0, 3.0)


def test_a_refused_value_says_why(lab_class):
    course, _, _ = lab_class
    said = cell_output(course, "layer_class_renamed", "test_model")
    assert "Keras's own" in said and "Softmax" in said, said


def test_the_epoch_count_comes_from_the_grader(lab_class):
    course, _, _ = lab_class
    said = cell_output(course, "hashlib_planted_labels_and_epochs_env", "test_train")
    assert "epochs=EPOCHS (1)" in said, said


def test_a_custom_loss_leaves_the_model_usable_but_uncompiled(lab_class):
    course, _, scores = lab_class
    student = "module_class_lies_and_custom_loss"
    assert "passed to the tests uncompiled" in cell_output(course, student, "test_compile")
    assert scores[student]["test_train"] == (2.0, 2.0)
