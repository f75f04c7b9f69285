"""Which submissions a class run considers, and the assignment's files that go with them."""

from __future__ import annotations

from pathlib import Path

from course_utils.grading.archive import tar_folder
from course_utils.grading.jobs import GradingError


def find_submissions(course: Path, assignment: str) -> dict[str, Path]:
    """Every ``submitted/STUDENT/ASSIGNMENT`` folder, by student."""
    submitted = course / "submitted"
    return {p.parent.name: p for p in sorted(submitted.glob(f"*/{assignment}")) if p.is_dir()}


def select(course: Path, assignment: str, students: list[str] | None) -> dict[str, Path]:
    """The submissions to consider: all, or those of `students` (each must have one).

    Raises:
        GradingError: a named student has no submission, or there are none at all.
    """
    found = find_submissions(course, assignment)
    if students:
        missing = sorted(set(students) - set(found))
        if missing:
            raise GradingError(f"no submission of {assignment} for: {', '.join(missing)}")
        found = {s: found[s] for s in students}
    if not found:
        raise GradingError(f"no submissions in {course / 'submitted'}/*/{assignment}")
    return found


def source_files(course: Path, assignment: str) -> bytes:
    """The assignment's files besides its notebooks (data files a notebook reads), as a tar."""
    source = course / "source" / assignment

    def keep(path: Path) -> bool:
        return (
            path.is_file()
            and path.suffix != ".ipynb"
            and ".ipynb_checkpoints" not in path.relative_to(source).parts
        )

    return tar_folder(source, keep=keep)


def cell_order(course: Path, assignment: str) -> dict[str, list[str]]:
    """Each instructor notebook's grade ids in order, by notebook name (where test cells go)."""
    import nbformat

    order = {}
    for notebook in sorted((course / "source" / assignment).glob("*.ipynb")):
        cells = nbformat.read(notebook, as_version=4).cells
        ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]
        order[notebook.stem] = [i for i in ids if i]
    return order
