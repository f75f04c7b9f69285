"""The same marks every time: the grader seeds every kernel and fixes its thread count.

One small lab class (the reference, one notebook with a mistake aimed at each of the six tests,
and a notebook whose accuracy lies near the threshold) is graded three times at one epoch: with
one local worker, again with two (``--force``), and again on a Dask cluster of two workers
(``--force``). Every cell's score, every training record Keras printed, every test accuracy and
every confusion matrix must be the same each time, and the regrades must report no changed
score."""

from __future__ import annotations

import re

import pytest

from support import LAB, Course
from support.notebooks import cell, mutate

ASSIGNMENT = "lab3_part2"
#: Keras's figures in a training log ("accuracy: 0.8123"), without its timings
FIGURE = re.compile(r"\b(\w+): (\d+\.\d+(?:e-?\d+)?)")


def mistaken(reference, *names: str):
    """The reference with the lab's mistakes `names` (from `support.mistakes.LAB`)."""
    nb = reference
    for name in names:
        grade_id, old, new, _ = LAB.wrong[name]
        nb = mutate(nb, grade_id, old, new)
    return nb


def what_it_learned(course: Course, student: str) -> dict[str, object]:
    """What training made, as the graded notebook shows it: Keras's figures per epoch, the test
    accuracy, the confusion matrix."""
    nb = course.autograded(student)

    def text(grade_id: str) -> str:
        return "".join(str(o.get("text", "")) for o in cell(nb, grade_id).get("outputs", []))

    return {
        "training": FIGURE.findall(text("train")),
        "accuracy": text("accuracy"),
        "confusion": text("confusion"),
    }


@pytest.fixture(scope="module")
def three_gradings(tmp_path_factory):
    course = Course(tmp_path_factory.mktemp("same-marks"), ASSIGNMENT)
    reference = course.solved(LAB.answers)
    course.submit("reference", reference)
    # one notebook with a mistake aimed at each of the six tests (one training for all six):
    # the network, the preprocessing, the compile settings, the training, the accuracy and the
    # confusion matrix
    course.submit(
        "every_test",
        mistaken(
            reference,
            "wrong_order",
            "no_normalisation",
            "wrong_loss",
            "no_validation_split",
            "faked_accuracy",
            "transposed_confusion",
        ),
    )
    # about 0.82 at one epoch: a threshold that a different seed could cross either way
    course.submit("near_threshold", mutate(reference, "compile", "0.001", "0.0002"))
    runs, seen = [], []
    for args in (
        ["--workers", "1"],
        ["--workers", "2", "--force"],
        ["--dask", "local", "--workers", "2", "--force"],
    ):
        run = course.grade("--epochs", "1", *args)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        runs.append(run)
        seen.append(
            (
                course.scores(),
                {s: what_it_learned(course, s) for s in course.scores()},
            )
        )
    return course, runs, seen


def test_every_submission_gets_the_same_marks_each_time(three_gradings):
    _, _, seen = three_gradings
    first, *others = [scores for scores, _ in seen]
    assert len(first) == 3 and all(len(cells) == 6 for cells in first.values())
    for other in others:
        assert other == first
    lost = {s: {t for t, (got, most) in cells.items() if got < most} for s, cells in first.items()}
    assert lost["reference"] == set()
    assert lost["every_test"] == set(LAB.tests)


def test_training_is_the_same_each_time(three_gradings):
    _, _, seen = three_gradings
    first, *others = [learned for _, learned in seen]
    for student, made in first.items():
        assert len(made["training"]) >= 4, (student, made)
        assert re.search(r"\[\[", made["confusion"]), (student, made)
    for other in others:
        assert other == first


def test_regrades_report_no_changed_score(three_gradings):
    course, runs, _ = three_gradings
    assert not (course.root / "grades" / f"{ASSIGNMENT}-changes.csv").exists()
    for run in runs[1:]:
        assert "3 graded, 0 failed" in run.stdout, run.stdout
        assert "score(s) changed" not in run.stdout + run.stderr
    assert "seed=2024 threads=1" in runs[0].stdout
