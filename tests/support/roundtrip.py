"""Each assignment end to end, as an instructor runs it: generate, submit a class
(the reference, the untouched release and one submission per kind of mistake), grade it with
`python -m course_utils.grade`, read the gradebook, generate feedback with nbgrader.
(`nbgrader validate`, the step before, is tested in `tests/test_validate.py`.)

The tests live here once; each ``tests/test_roundtrip_ASSIGNMENT.py`` imports them and names its
``ASSIGNMENT``, so that the two round trips are two test files, which run side by side on two
pytest workers. Training is shortened by LAB_EPOCHS (`make test` sets it); the thresholds hold
at any length.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from course_utils.grading.preprocessors.hide_hidden_tests import is_test
from support.course import Course, assert_no_hidden_tests, build_class
from support.mistakes import SPECS
from support.notebooks import cell, grade_id_of
from support.paths import ASSIGNMENTS, ROOT

# The class is graded by the kit's grader: the lab (and any other assignment) with local
# workers, the quiz on a dask LocalCluster on loopback (the path to Slurm, PBS or Kubernetes
# clusters).
LOCAL_WORKERS = ["--workers", "2"]
GRADER_ARGS = {"lab3_quiz": ["--dask", "local", "--workers", "2"]}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One case per kind of mistake of the module's assignment."""
    if "student" in metafunc.fixturenames:
        metafunc.parametrize("student", sorted(SPECS[metafunc.module.ASSIGNMENT].wrong))


def test_every_assignment_has_a_round_trip():
    assert sorted(SPECS) == ASSIGNMENTS
    files = {p.name for p in (ROOT / "tests").glob("test_roundtrip_*.py")}
    assert files == {f"test_roundtrip_{a}.py" for a in ASSIGNMENTS}


@pytest.fixture(scope="module")
def assignment(request: pytest.FixtureRequest) -> str:
    """The module's assignment."""
    return request.module.ASSIGNMENT


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
            course = courses(name)
            build_class(course, SPECS[name])
            run = course.grade(*GRADER_ARGS.get(name, LOCAL_WORKERS))
            assert run.returncode == 0, run.stdout + run.stderr[-5000:]
            done[name] = course.scores()
        return done[name]

    return get


def test_reference_gets_full_marks(graded, assignment):
    scores = graded(assignment)["reference"]
    assert sorted(scores) == sorted(SPECS[assignment].tests)
    assert {t: s for t, (s, m) in scores.items() if s != m} == {}


def test_untouched_release_gets_zero(graded, assignment):
    scores = graded(assignment)["untouched"]
    assert {t: s for t, (s, _) in scores.items()} == {t: 0 for t in SPECS[assignment].tests}


def test_each_mistake_loses_the_points_aimed_at_it(graded, assignment, student):
    spec = SPECS[assignment]
    scores = graded(assignment)[spec.submission(student)]
    lost = {t for t, (s, m) in scores.items() if s < m}
    assert lost == spec.lost_by(spec.submission(student))
    assert spec.wrong[student][3] <= lost
    assert all(scores[t][0] == 0 for t in lost)


def test_test_cells_write_nothing_to_stderr(courses, graded, assignment):
    graded(assignment)
    nb = courses(assignment).autograded("reference")
    for test in filter(is_test, nb.cells):
        streams = [o for o in test.outputs if o.output_type == "stream" and o.name == "stderr"]
        assert streams == [], f"{grade_id_of(test)} wrote to stderr: {streams}"


def test_real_errors_still_reach_the_student(courses, graded, assignment):
    graded(assignment)
    mistake, test_id, message = SPECS[assignment].message
    nb = courses(assignment).autograded(SPECS[assignment].submission(mistake))
    errors = [o for o in cell(nb, test_id).outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "AssertionError"
    assert errors[0].evalue == message


def test_feedback_for_every_submission_shows_its_score(courses, graded, assignment):
    scores = graded(assignment)
    course, spec = courses(assignment), SPECS[assignment]
    feedback = course.feedback()
    assert set(feedback) == set(scores) == {"reference", "untouched", *spec.submissions()}
    by_hand = sum(  # the written answers' points: in the feedback's total, not in `scores`
        c.metadata["nbgrader"].get("points", 0)
        for c in nbformat.read(course.source, as_version=4).cells
        if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")
    )
    points = sum(m for _, m in scores["reference"].values()) + by_hand
    for student, path in feedback.items():
        total = sum(score for score, _ in scores[student].values())
        assert re.search(rf"Score: {total:.1f} / {points:.1f}", path.read_text()), student
    shown = feedback[spec.submission(spec.message[0])].read_text()
    assert spec.message[2].split(":")[0] in shown
    assert_no_hidden_tests(course.source, course.release, feedback.values())


def test_shortened_training_is_a_visible_switch_with_the_lab_default(courses, assignment):
    source = nbformat.read(courses(assignment).source, as_version=4)
    if not any(".fit(" in c.source for c in source.cells):
        pytest.skip(f"{assignment} trains no network")
    nb = nbformat.read(courses(assignment).release, as_version=4)
    setup = cell(nb, "setup")
    assert re.search(r'= int\(os\.environ\.get\("LAB_EPOCHS", "(10|3)"\)\)', setup.source)
