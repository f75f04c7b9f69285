"""A throw-away nbgrader course: generate, submit, autograde, read the gradebook, feedback."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from course_utils.assignments import HIDDEN_BLOCK, generate, nbgrader

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"### (BEGIN|END) SOLUTION")


class Course:
    """A course folder made from this repository's config and `source/`."""

    def __init__(self, folder: Path, assignment: str):
        self.root = folder
        self.assignment = assignment
        shutil.copy(ROOT / "nbgrader_config.py", folder)
        shutil.copytree(ROOT / "source" / assignment, folder / "source" / assignment)
        self.release = generate(assignment, folder) / f"{assignment}.ipynb"

    @property
    def source(self) -> Path:
        return self.root / "source" / self.assignment / f"{self.assignment}.ipynb"

    def solved(self, answers: dict[str, str]) -> nbformat.NotebookNode:
        """The student version with every solution cell filled in from the instructor's.

        Args:
            answers: text for the manually graded answer cells, by grade id.
        """
        solutions = {
            c.metadata["nbgrader"]["grade_id"]: c.source
            for c in nbformat.read(self.source, as_version=4).cells
            if c.metadata.get("nbgrader", {}).get("solution")
        }
        nb = nbformat.read(self.release, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata["nbgrader"].get("solution"):
                if cell.cell_type == "markdown":
                    cell.source = answers[grade_id]
                else:
                    cell.source = "\n".join(
                        line for line in solutions[grade_id].splitlines()
                        if not MARKER.search(line)
                    )
        return nb

    def submit(self, student: str, nb: nbformat.NotebookNode) -> None:
        folder = self.root / "submitted" / student / self.assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{self.assignment}.ipynb")

    def grade_command(self, *args: str) -> list[str]:
        """The kit's grader for this course's assignment."""
        return [sys.executable, "-m", "course_utils.grade", self.assignment, "--course", str(self.root), *args]

    def grade(self, *args: str) -> subprocess.CompletedProcess:
        """Grade the class with `python -m course_utils.grade` (parallel workers)."""
        return subprocess.run(self.grade_command(*args), capture_output=True, text=True, env=_env())

    def grade_process(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.grade_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=_env())

    def nbgrader(self, *args: str) -> subprocess.CompletedProcess:
        return nbgrader(list(args), self.root)

    def feedback_files(self) -> dict[str, Path]:
        """Feedback HTML by student."""
        return {p.parts[-3]: p for p in (self.root / "feedback").glob(f"*/{self.assignment}/*.html")}

    def autograde(self) -> str:
        """Plain `nbgrader autograde`, one submission after another."""
        done = nbgrader(["autograde", self.assignment, "--force"], self.root)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def scores(self) -> dict[str, dict[str, tuple[float, float]]]:
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
        path = self.root / "autograded" / student / self.assignment / f"{self.assignment}.ipynb"
        return nbformat.read(path, as_version=4)

    def feedback(self) -> dict[str, Path]:
        done = nbgrader(["generate_feedback", self.assignment, "--force"], self.root)
        assert done.returncode == 0, done.stdout + done.stderr
        return self.feedback_files()


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}


def hidden_test_lines(source: Path, release: Path, min_length: int = 12) -> set[str]:
    """The lines of the hidden tests in an instructor notebook that are long enough to be telling
    and that the student version does not show anyway (not even as part of a line)."""
    lines = set()
    for cell in nbformat.read(source, as_version=4).cells:
        for block in HIDDEN_BLOCK.findall(cell.source):
            lines.update(line.strip() for line in block.splitlines() if len(line.strip()) >= min_length)
    public = "\n".join(cell.source for cell in nbformat.read(release, as_version=4).cells)
    return {line for line in lines if line not in public}


def assert_no_hidden_tests(source: Path, release: Path, files) -> None:
    """No feedback file shows a hidden-test line of `source` (as text, after HTML decoding)."""
    secrets = hidden_test_lines(source, release)
    assert len(secrets) > 10
    files = list(files)
    assert files
    for path in files:
        raw = path.read_text()
        text = html.unescape(re.sub(r"<[^>]+>", "", raw))
        leaked = sorted(s for s in secrets if s in text or s in html.unescape(raw))
        assert leaked == [], f"{path} shows hidden tests: {leaked[:3]}"


def mutate(nb: nbformat.NotebookNode, grade_id: str, old: str, new: str) -> nbformat.NotebookNode:
    """A copy of `nb` with `old` replaced by `new` in cell `grade_id` (which must hold it)."""
    nb = nbformat.from_dict(nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source, f"{old!r} is not in cell {grade_id}"
    cell.source = cell.source.replace(old, new, 1)
    return nb
