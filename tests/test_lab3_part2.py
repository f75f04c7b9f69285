"""The lab assignment end to end: release, validation, and a graded class of submissions.

Training is shortened by LAB_EPOCHS (make test sets it); the thresholds hold at any length.
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest

from course_utils.assignments import validate
from nbgrader_course import Course, mutate

ASSIGNMENT = "lab3_part2"
TESTS = ["test_preprocess", "test_model", "test_compile", "test_train", "test_accuracy", "test_confusion"]
ANSWER = {
    "question": "Shirts are confused with T-shirts, pullovers and coats: same outline at 28x28. "
    "Trousers and bags are recognised best: their shapes are like no other class."
}

# Each wrong submission: the change made to the reference, and the tests it must lose.
# The others keep full marks. A submission whose labels are not one-hot cannot train with
# categorical cross-entropy (Keras raises), so it also loses what depends on training.
WRONG = {
    "wrong_order": (
        "model",
        'layers.BatchNormalization(),\n            layers.Activation("relu"),\n            layers.MaxPooling2D',
        'layers.Activation("relu"),\n            layers.BatchNormalization(),\n            layers.MaxPooling2D',
        {"test_model"},
    ),
    "no_batchnorm": (
        "model",
        'layers.Conv2D(num_filters, kernel_size=(3, 3), padding="same"),\n            layers.BatchNormalization(),\n            layers.Activation("relu"),\n            layers.Flatten()',
        'layers.Conv2D(num_filters, kernel_size=(3, 3), padding="same"),\n            layers.Activation("relu"),\n            layers.Flatten()',
        {"test_model"},
    ),
    "eight_filters": ("model", "num_filters = 4", "num_filters = 8", {"test_model"}),
    "no_normalisation": ("preprocess", '.astype("float32") / 255.0', '.astype("float32")', {"test_preprocess"}),
    "wrong_loss": ("compile", '"categorical_crossentropy"', '"mean_squared_error"', {"test_compile"}),
    "wrong_learning_rate": ("compile", "learning_rate=0.001", "learning_rate=0.01", {"test_compile"}),
    "no_validation_split": ("train", "    validation_split=0.1,\n", "", {"test_train"}),
    "faked_accuracy": (
        "accuracy",
        "test_loss, test_accuracy = model.evaluate(test_img, test_labels_1h, verbose=0)",
        "test_accuracy = 0.91",
        {"test_accuracy"},
    ),
    "transposed_confusion": ("confusion", "confusion_matrix(actual, predicted)", "confusion_matrix(predicted, actual)", {"test_confusion"}),
    "labels_not_one_hot": (
        "preprocess",
        "keras.utils.to_categorical(labels, NUM_CLASSES)",
        "labels",
        {"test_preprocess", "test_train", "test_accuracy", "test_confusion"},
    ),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return Course(tmp_path_factory.mktemp("course"), ASSIGNMENT)


@pytest.fixture(scope="module")
def graded(course):
    """Submit the reference, the untouched release and every wrong version; autograde all."""
    reference = course.solved(ANSWER)
    course.submit("reference", reference)
    course.submit("untouched", nbformat.read(course.release, as_version=4))
    for student, (cell, old, new, _) in WRONG.items():
        course.submit(student, mutate(reference, cell, old, new))
    log = course.autograde()
    return course.scores(), log


def test_instructor_solution_passes_its_tests(course):
    result = validate(course.source, course.root)
    assert result.passed, result.output


def test_untouched_release_fails_every_test(course):
    result = validate(course.release, course.root, invert=True)
    assert result.passed, result.output


def test_reference_gets_full_marks(graded):
    scores, _ = graded
    assert set(scores["reference"]) == set(TESTS)
    assert {t: s for t, (s, m) in scores["reference"].items() if s != m} == {}


def test_untouched_release_gets_zero(graded):
    scores, _ = graded
    assert {t: s for t, (s, _) in scores["untouched"].items()} == {t: 0 for t in TESTS}


@pytest.mark.parametrize("student", sorted(WRONG))
def test_each_mistake_loses_the_points_aimed_at_it(graded, student):
    scores, _ = graded
    lost = {t for t, (s, m) in scores[student].items() if s < m}
    assert lost == WRONG[student][3]
    assert all(scores[student][t][0] == 0 for t in lost)


def test_test_cells_write_nothing_to_stderr(course, graded):
    nb = course.autograded("reference")
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            streams = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
            assert streams == [], f"{meta['grade_id']} wrote to stderr: {streams}"


def test_real_errors_still_reach_the_student(course, graded):
    nb = course.autograded("wrong_order")
    cell = next(c for c in nb.cells if c.metadata["nbgrader"].get("grade_id") == "test_model")
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "AssertionError"
    assert errors[0].evalue == "layer 1 is ReLU, expected BatchNormalization: BatchNormalization after the first Conv2D"


def test_feedback_for_every_submission_shows_its_score(course, graded):
    scores, _ = graded
    feedback = course.feedback()
    assert set(feedback) == set(scores) == {"reference", "untouched", *WRONG}
    for student, path in feedback.items():
        total = sum(score for score, _ in scores[student].values())
        assert re.search(rf"Score: {total:.1f} / 16\.0", path.read_text()), student
    assert "layer 1 is ReLU, expected BatchNormalization" in feedback["wrong_order"].read_text()


def test_shortened_training_is_visible_and_off_by_default(course):
    nb = nbformat.read(course.release, as_version=4)
    setup = next(c for c in nb.cells if c.metadata["nbgrader"].get("grade_id") == "setup")
    assert 'EPOCHS = int(os.environ.get("LAB_EPOCHS", "10"))' in setup.source
