"""Each assignment end to end, as an instructor runs it: validate, generate, submit a class
(the reference, the untouched release and one submission per kind of mistake), grade it with
`python -m course_utils.grade`, read the gradebook, generate feedback with nbgrader.

Training is shortened by LAB_EPOCHS (`make test` sets it); the thresholds hold at any length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import nbformat
import pytest

from course_utils.assignments import validate
from nbgrader_course import Course, assert_no_hidden_tests, mutate


@dataclass
class Spec:
    tests: list[str]
    answers: dict[str, str]
    # student -> (cell, text in the reference, replacement, the tests it must lose)
    wrong: dict[str, tuple[str, str, str, set[str]]]
    # a failing test whose message must reach the student: (student, test, message)
    message: tuple[str, str, str]


LAB = Spec(
    tests=["test_preprocess", "test_model", "test_compile", "test_train", "test_accuracy", "test_confusion"],
    answers={"question": "Shirts are confused with T-shirts, pullovers and coats: same outline at "
             "28x28. Trousers and bags are recognised best: their shapes are like no other class."},
    wrong={
        "wrong_order": (
            "model",
            'layers.BatchNormalization(),\n            layers.Activation("relu"),\n            layers.MaxPooling2D',
            'layers.Activation("relu"),\n            layers.BatchNormalization(),\n            layers.MaxPooling2D',
            {"test_model"},
        ),
        "no_batchnorm": (
            "model",
            'padding="same"),\n            layers.BatchNormalization(),\n            layers.Activation("relu"),\n            layers.Flatten()',
            'padding="same"),\n            layers.Activation("relu"),\n            layers.Flatten()',
            {"test_model"},
        ),
        "eight_filters": ("model", "num_filters = 4", "num_filters = 8", {"test_model"}),
        "no_normalisation": ("preprocess", '.astype("float32") / 255.0', '.astype("float32")', {"test_preprocess"}),
        "wrong_loss": ("compile", '"categorical_crossentropy"', '"mean_squared_error"', {"test_compile"}),
        # 1,000 times too large: training diverges, so the accuracy test fails as well. (A rate
        # only a few times off trains to about the threshold after one epoch, on some seeds
        # above it and on others below: no fair test of what this submission must lose.)
        "wrong_learning_rate": ("compile", "learning_rate=0.001", "learning_rate=1.0", {"test_compile", "test_accuracy"}),
        "no_validation_split": ("train", "    validation_split=0.1,\n", "", {"test_train"}),
        "faked_accuracy": (
            "accuracy",
            "test_loss, test_accuracy = model.evaluate(test_img, test_labels_1h, verbose=0)",
            "test_accuracy = 0.91",
            {"test_accuracy"},
        ),
        "transposed_confusion": (
            "confusion", "confusion_matrix(actual, predicted)", "confusion_matrix(predicted, actual)", {"test_confusion"}
        ),
        # Keras cannot train with categorical cross-entropy on integer labels, so this mistake
        # also loses what depends on training.
        "labels_not_one_hot": (
            "preprocess",
            "keras.utils.to_categorical(labels, NUM_CLASSES)",
            "labels",
            {"test_preprocess", "test_train", "test_accuracy", "test_confusion"},
        ),
    },
    message=("wrong_order", "test_model",
             "layer 1 is ReLU, expected BatchNormalization: BatchNormalization after the first Conv2D"),
)

QUIZ = Spec(
    tests=["test_conv", "test_activations", "test_loss", "test_adam", "test_params", "test_sweep"],
    answers={
        "q_filters": "More filters bought about a point of accuracy and cost parameters and time.",
        "q_bias": "The moments start at zero; the corrections remove that bias in early steps.",
        "q_confusion": "Accuracy hides which classes are confused, such as shirts and T-shirts.",
    },
    wrong={
        "valid_padding": (
            "conv",
            "padded = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))",
            "padded = x\n    height, width = height - kh + 1, width - kw + 1",
            {"test_conv"},
        ),
        "softmax_unshifted": (
            "activations", "shifted = s - np.max(s, axis=-1, keepdims=True)", "shifted = s", {"test_activations"}
        ),
        "summed_crossentropy": (
            "loss", "-np.mean(np.sum(y_true * np.log(y_pred), axis=-1))", "-np.sum(y_true * np.log(y_pred))", {"test_loss"}
        ),
        "adam_no_bias_correction": (
            "adam", "v_hat = v / (1 - beta1**t)\n    r_hat = r / (1 - beta2**t)", "v_hat = v\n    r_hat = r", {"test_adam"}
        ),
        "adam_betas_swapped": (
            "adam",
            "v_hat = v / (1 - beta1**t)\n    r_hat = r / (1 - beta2**t)",
            "v_hat = v / (1 - beta2**t)\n    r_hat = r / (1 - beta1**t)",
            {"test_adam"},
        ),
        "params_without_running_stats": ("params", "batch_norm = 4 * f", "batch_norm = 2 * f", {"test_params"}),
        "picks_the_best_model": (
            "choice",
            'return min(close, key=lambda f: results[f]["parameters"])',
            'return max(results, key=lambda f: results[f]["accuracy"])',
            {"test_sweep"},
        ),
    },
    message=("adam_betas_swapped", "test_adam",
             "the bias corrections are swapped: v (averaged with beta1) is divided by 1 - beta1**t, "
             "r (averaged with beta2) by 1 - beta2**t"),
)

SPECS = {"lab3_part2": LAB, "lab3_quiz": QUIZ}
# The class is graded by the kit's grader: the lab with local workers, the quiz on a dask
# LocalCluster on loopback (the path to Slurm, PBS or Kubernetes clusters).
GRADER_ARGS = {"lab3_part2": ["--workers", "2"], "lab3_quiz": ["--dask", "local", "--workers", "2"]}
CASES = [(a, s) for a, spec in SPECS.items() for s in sorted(spec.wrong)]


def test_every_assignment_has_a_round_trip():
    from conftest import ASSIGNMENTS

    assert sorted(SPECS) == ASSIGNMENTS


@pytest.fixture(scope="module", params=sorted(SPECS))
def assignment(request):
    return request.param


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """One course folder per assignment, made on first use."""
    made: dict[str, Course] = {}

    def get(name: str) -> Course:
        if name not in made:
            made[name] = Course(tmp_path_factory.mktemp(name), name)
        return made[name]

    return get


@pytest.fixture(scope="module")
def graded(courses):
    """Submit the whole class for an assignment and autograde it (once per assignment)."""
    done: dict[str, dict] = {}

    def get(name: str) -> dict[str, dict[str, tuple[float, float]]]:
        if name not in done:
            course, spec = courses(name), SPECS[name]
            reference = course.solved(spec.answers)
            course.submit("reference", reference)
            course.submit("untouched", nbformat.read(course.release, as_version=4))
            for student, (cell, old, new, _) in spec.wrong.items():
                course.submit(student, mutate(reference, cell, old, new))
            run = course.grade(*GRADER_ARGS[name])
            assert run.returncode == 0, run.stdout + run.stderr[-5000:]
            done[name] = course.scores()
        return done[name]

    return get


def test_instructor_solution_passes_its_tests(courses, assignment):
    course = courses(assignment)
    result = validate(course.source, course.root)
    assert result.passed, result.output


def test_untouched_release_fails_every_test(courses, assignment):
    course = courses(assignment)
    result = validate(course.release, course.root, invert=True)
    assert result.passed, result.output


def test_reference_gets_full_marks(graded, assignment):
    scores = graded(assignment)["reference"]
    assert sorted(scores) == sorted(SPECS[assignment].tests)
    assert {t: s for t, (s, m) in scores.items() if s != m} == {}


def test_untouched_release_gets_zero(graded, assignment):
    scores = graded(assignment)["untouched"]
    assert {t: s for t, (s, _) in scores.items()} == {t: 0 for t in SPECS[assignment].tests}


@pytest.mark.parametrize("name, student", CASES)
def test_each_mistake_loses_the_points_aimed_at_it(graded, name, student):
    scores = graded(name)[student]
    lost = {t for t, (s, m) in scores.items() if s < m}
    assert lost == SPECS[name].wrong[student][3]
    assert all(scores[t][0] == 0 for t in lost)


def test_test_cells_write_nothing_to_stderr(courses, graded, assignment):
    graded(assignment)
    nb = courses(assignment).autograded("reference")
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            streams = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
            assert streams == [], f"{meta['grade_id']} wrote to stderr: {streams}"


def test_real_errors_still_reach_the_student(courses, graded, assignment):
    graded(assignment)
    student, test_id, message = SPECS[assignment].message
    nb = courses(assignment).autograded(student)
    cell = next(c for c in nb.cells if c.metadata["nbgrader"].get("grade_id") == test_id)
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "AssertionError"
    assert errors[0].evalue == message


def test_feedback_for_every_submission_shows_its_score(courses, graded, assignment):
    scores = graded(assignment)
    course, spec = courses(assignment), SPECS[assignment]
    feedback = course.feedback()
    assert set(feedback) == set(scores) == {"reference", "untouched", *spec.wrong}
    points = sum(m for _, m in scores["reference"].values()) + 2 * len(spec.answers)
    for student, path in feedback.items():
        total = sum(score for score, _ in scores[student].values())
        assert re.search(rf"Score: {total:.1f} / {points:.1f}", path.read_text()), student
    assert spec.message[2].split(":")[0] in feedback[spec.message[0]].read_text()
    assert_no_hidden_tests(course.source, course.release, feedback.values())


def test_shortened_training_is_a_visible_switch_with_the_lab_default(courses, assignment):
    nb = nbformat.read(courses(assignment).release, as_version=4)
    setup = next(c for c in nb.cells if c.metadata["nbgrader"].get("grade_id") == "setup")
    assert re.search(r'= int\(os\.environ\.get\("LAB_EPOCHS", "(10|3)"\)\)', setup.source)
