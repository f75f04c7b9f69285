"""A throw-away nbgrader course: generate, submit, autograde, read the gradebook, feedback."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from course_utils.assignments import generate, nbgrader

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

    def autograde(self) -> str:
        done = nbgrader(["autograde", self.assignment, "--force"], self.root)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def scores(self) -> dict[str, dict[str, tuple[float, float]]]:
        """(score, max) of every autograded test cell, by student and grade id."""
        result = {}
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            for student in gb.students:
                nb = gb.find_submission_notebook(self.assignment, self.assignment, student.id)
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
        return {
            p.parts[-3]: p for p in (self.root / "feedback").glob(f"*/{self.assignment}/*.html")
        }


def mutate(nb: nbformat.NotebookNode, grade_id: str, old: str, new: str) -> nbformat.NotebookNode:
    """A copy of `nb` with `old` replaced by `new` in cell `grade_id` (which must hold it)."""
    nb = nbformat.from_dict(nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source, f"{old!r} is not in cell {grade_id}"
    cell.source = cell.source.replace(old, new, 1)
    return nb
