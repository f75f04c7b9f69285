"""What the judge's test classes share: grading a class of hostile and correct submissions,
reading what each lost, and searching returned files for hidden tests, plain or encoded."""

from __future__ import annotations

import base64
import binascii
import html
import re
from pathlib import Path

import nbformat

from support.course import Course, hidden_test_lines
from support.hostile import Entry, write_files

B64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")


def submit_all(course: Course, entries: dict[str, Entry]) -> dict[str, set[str]]:
    """Hand in every entry (notebook and extra files); the tests each must lose."""
    for student, (nb, _, files) in entries.items():
        course.submit(student, nb)
        write_files(course.root / "submitted" / student / course.assignment, files)
    return {student: lost for student, (_, lost, _) in entries.items()}


def grade(course: Course) -> dict[str, dict[str, tuple[float, float]]]:
    """Grade the class with the kit (judge on), at one epoch; scores by student and test."""
    done = course.grade("--epochs", "1", "--workers", "2", "--cell-timeout", "300")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return course.scores()


def lost(scores: dict[str, tuple[float, float]]) -> set[str]:
    """The tests that did not get all their points (partial credit counts as lost)."""
    return {test for test, (score, most) in scores.items() if score != most}


def _views(text: str) -> list[str]:
    """`text` as itself, reversed, HTML-decoded and with every long base64 run decoded."""
    views = [text, text[::-1], html.unescape(re.sub(r"<[^>]+>", "", text))]
    for run in B64_RUN.findall(text):
        try:
            views.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode(errors="replace"))
        except (binascii.Error, ValueError):
            pass
    return views


def hidden_lines_in_returned_files(course: Course) -> dict[str, list[str]]:
    """Every file returned to students (``feedback/``) holding a hidden-test line, any way.

    (``autograded/`` stays with the instructor: its notebooks hold the tests themselves.)
    """
    secrets = hidden_test_lines(course.source, course.release)
    assert len(secrets) > 10
    found: dict[str, list[str]] = {}
    files = [p for p in (course.root / "feedback").rglob("*") if p.is_file()]
    assert files
    for path in files:
        text = path.read_bytes().decode(errors="replace")
        leaked = sorted({s for view in _views(text) for s in secrets if s in view})
        if leaked:
            found[str(path.relative_to(course.root))] = leaked[:3]
    return found


def returned_names(course: Course, student: str) -> set[str]:
    """Every path returned for `student` (autograded and feedback), relative to its folder."""
    names = set()
    for top in ("autograded", "feedback"):
        folder = course.root / top / student / course.assignment
        names.update(str(p.relative_to(folder)) for p in folder.rglob("*"))
    return names


def order(nb: nbformat.NotebookNode) -> list[str]:
    """The notebook's grade ids in order."""
    return [c.metadata.get("nbgrader", {}).get("grade_id", "") for c in nb.cells]


def cell_output(course: Course, student: str, grade_id: str) -> str:
    """The text of a test cell's outputs in `student`'s graded notebook."""
    for c in course.autograded(student).cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return "\n".join(
                str(o.get("text", "")) + str(o.get("evalue", "")) for o in c.get("outputs", [])
            )
    raise KeyError(grade_id)


__all__ = [
    "Path",
    "grade",
    "hidden_lines_in_returned_files",
    "lost",
    "order",
    "returned_names",
    "submit_all",
    "cell_output",
]
