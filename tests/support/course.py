"""A throw-away nbgrader course: generate, submit, grade, read the gradebook, feedback."""

from __future__ import annotations

import atexit
import html
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.utils import is_solution

from course_utils.assignments import generate, nbgrader
from course_utils.environment import tool_env
from course_utils.grading.regions import SOLUTION, hidden_lines, without_markers
from course_utils.layout import CourseFolder
from support.mistakes import Spec
from support.notebooks import cell as cell_of
from support.notebooks import grade_id_of, mutate
from support.paths import ROOT

#: (score, max score) of each autograded test cell, by grade id
Scores = dict[str, tuple[float, float]]


#: Each assignment's course as ``nbgrader generate_assignment`` left it, made once per test
#: process: a new course is a copy (generating takes seconds, copying a fraction of one).
_GENERATED: dict[str, Path] = {}


def _generated(assignment: str) -> Path:
    """The config, the instructor notebook, the release and the gradebook of `assignment`."""
    if assignment not in _GENERATED:
        folder = Path(tempfile.mkdtemp(prefix=f"course-kit-generated-{assignment}-"))
        atexit.register(shutil.rmtree, folder, True)
        shutil.copy(ROOT / "nbgrader_config.py", folder)
        shutil.copytree(ROOT / "source" / assignment, folder / "source" / assignment)
        generate(assignment, folder)
        _GENERATED[assignment] = folder
    return _GENERATED[assignment]


class Course:
    """A course folder made from this repository's config and one assignment of `source/`."""

    def __init__(self, folder: Path, assignment: str):
        """Copy the config and the instructor notebook into `folder`, with the release and the
        gradebook that ``nbgrader generate_assignment`` makes of them."""
        self.root = folder
        self.assignment = assignment
        shutil.copytree(_generated(assignment), folder, dirs_exist_ok=True)
        self.release = CourseFolder(folder).release(assignment) / f"{assignment}.ipynb"
        assert self.release.is_file(), self.release

    @property
    def source(self) -> Path:
        """The instructor notebook (solutions and hidden tests)."""
        return self.root / "source" / self.assignment / f"{self.assignment}.ipynb"

    def solved(self, answers: dict[str, str]) -> nbformat.NotebookNode:
        """The student version with every solution cell filled in from the instructor's.

        Args:
            answers: text for the manually graded answer cells, by grade id.
        """
        solutions = {
            grade_id_of(c): c.source
            for c in nbformat.read(self.source, as_version=4).cells
            if is_solution(c)
        }
        nb = nbformat.read(self.release, as_version=4)
        for cell in nb.cells:
            grade_id = grade_id_of(cell)
            if is_solution(cell):
                if cell.cell_type == "markdown":
                    cell.source = answers[grade_id]
                else:
                    cell.source = without_markers(solutions[grade_id], SOLUTION)
        return nb

    def submit(self, student: str, nb: nbformat.NotebookNode) -> None:
        """Place `nb` as `student`'s submission."""
        folder = self.root / "submitted" / student / self.assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{self.assignment}.ipynb")

    def grade_command(self, *args: str) -> list[str]:
        """The kit's grader for this course's assignment."""
        return [
            sys.executable,
            "-m",
            "course_utils.grade",
            self.assignment,
            "--course",
            str(self.root),
            *args,
        ]

    def grade(self, *args: str) -> subprocess.CompletedProcess:
        """Grade the class with `python -m course_utils.grade` (parallel workers)."""
        return subprocess.run(
            self.grade_command(*args), capture_output=True, text=True, env=tool_env()
        )

    def grade_process(self, *args: str) -> subprocess.Popen:
        """Start grading the class; the caller waits for (or interrupts) the process."""
        return subprocess.Popen(
            self.grade_command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=tool_env(),
        )

    def nbgrader(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``nbgrader ARGS`` in the course folder."""
        return nbgrader(list(args), self.root)

    def feedback_files(self) -> dict[str, Path]:
        """Feedback HTML by student."""
        return {
            p.parts[-3]: p for p in (self.root / "feedback").glob(f"*/{self.assignment}/*.html")
        }

    def autograde(self) -> str:
        """Plain `nbgrader autograde`, one submission after another; returns its output."""
        done = nbgrader(["autograde", self.assignment, "--force"], self.root)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def scores(self) -> dict[str, Scores]:
        """(score, max) of every autograded test cell, by student and grade id."""
        result = {}
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            for student in gb.students:
                try:
                    nb = gb.find_submission_notebook(self.assignment, self.assignment, student.id)
                except MissingEntry:  # not graded (a submission that could not be read)
                    continue
                result[student.id] = {
                    g.name: (g.auto_score, g.max_score)
                    for g in nb.grades
                    if g.cell.cell_type == "code"
                }
        return result

    def autograded(self, student: str) -> nbformat.NotebookNode:
        """`student`'s notebook as the grader ran it (with outputs)."""
        name = f"{self.assignment}.ipynb"
        return nbformat.read(
            self.root / "autograded" / student / self.assignment / name, as_version=4
        )

    def feedback(self) -> dict[str, Path]:
        """Generate feedback with plain nbgrader; feedback HTML by student."""
        done = nbgrader(["generate_feedback", self.assignment, "--force"], self.root)
        assert done.returncode == 0, done.stdout + done.stderr
        return self.feedback_files()


def build_class(
    course: Course,
    spec: Spec,
    mistakes: Iterable[str] | None = None,
    untouched: bool = True,
) -> nbformat.NotebookNode:
    """Submit a class: "reference" (the solved release), "untouched" (the release as given,
    unless `untouched` is false) and the students with mistakes: each of `mistakes` alone, or
    else every mistake of `spec`, alone or with the others of its group (`Spec.submissions`;
    `Spec.untrained` groups hand in its experiment as given).

    Returns:
        The reference notebook, to derive more submissions from.
    """
    reference = course.solved(spec.answers)
    course.submit("reference", reference)
    if untouched:
        course.submit("untouched", nbformat.read(course.release, as_version=4))
    if mistakes is not None:  # one student per named mistake
        groups = {m: (m,) for m in mistakes}
    else:
        groups = spec.submissions()
    for student, group in groups.items():
        nb = reference
        for mistake in group:
            grade_id, old, new, _ = spec.wrong[mistake]
            nb = mutate(nb, grade_id, old, new)
        if spec.experiment is not None and spec.skips_experiment(group):
            nb = as_given(nb, course, spec.experiment[0])
        course.submit(student, nb)
    return reference


def as_given(nb: nbformat.NotebookNode, course: Course, grade_id: str) -> nbformat.NotebookNode:
    """A copy of `nb` whose cell `grade_id` is as the release gives it (not solved)."""
    nb = nbformat.from_dict(nb)
    given = nbformat.read(course.release, as_version=4)
    cell_of(nb, grade_id).source = cell_of(given, grade_id).source
    return nb


def hidden_test_lines(source: Path, release: Path, min_length: int = 12) -> set[str]:
    """The lines of the hidden tests in an instructor notebook that are long enough to be
    telling and that the student version does not show anyway (not even as part of a line)."""
    lines = set()
    for cell in nbformat.read(source, as_version=4).cells:
        lines.update(line for line in hidden_lines(cell.source) if len(line) >= min_length)
    public = "\n".join(cell.source for cell in nbformat.read(release, as_version=4).cells)
    return {line for line in lines if line not in public}


def assert_no_hidden_tests(source: Path, release: Path, files: Iterable[Path]) -> None:
    """No feedback file shows a hidden-test line of `source` (as text, after HTML decoding)."""
    secrets = hidden_test_lines(source, release)
    assert secrets, f"{source} has no hidden tests to look for"
    files = list(files)
    assert files
    for path in files:
        raw = path.read_text()
        text = html.unescape(re.sub(r"<[^>]+>", "", raw))
        leaked = sorted(s for s in secrets if s in text or s in html.unescape(raw))
        assert leaked == [], f"{path} shows hidden tests: {leaked[:3]}"
