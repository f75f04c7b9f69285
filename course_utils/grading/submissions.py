"""Which submissions a class run considers, and the assignment's files that go with them."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

from course_utils.grading.archive import MAX_BYTES, MAX_FILES, tar_folder
from course_utils.grading.jobs import GradingError
from course_utils.layout import CourseFolder


def find_submissions(course: Path, assignment: str) -> dict[str, Path]:
    """Every ``submitted/STUDENT/ASSIGNMENT`` folder, by student."""
    submitted = CourseFolder(course).submitted()
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


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a plain file"


def refusal(folder: Path) -> str | None:
    """Why the submission in `folder` is not graded (None: it is).

    A notebook or ``timestamp.txt`` that is a link or a special file is refused, as is a link
    in place of the student's or the assignment's folder, and a submission of more than
    `MAX_FILES` files or `MAX_BYTES` bytes. Other links and special files are left out of
    what is graded (`tar_folder`).
    """
    for path in (folder.parent, folder):
        if path.is_symlink():
            return f"{path.name} is a link, not a folder: hand in the files themselves"
    count = size = 0
    for path in folder.rglob("*"):  # does not follow links
        mode = path.lstat().st_mode
        name = str(path.relative_to(folder))
        if (path.suffix == ".ipynb" or name == "timestamp.txt") and not stat.S_ISREG(mode):
            return f"{name} is {_kind(mode)}, not a file: hand in the notebook itself"
        count, size = count + 1, size + (path.lstat().st_size if stat.S_ISREG(mode) else 0)
    if count > MAX_FILES or size > MAX_BYTES:
        return f"the submission holds more than {MAX_FILES} files or {MAX_BYTES} bytes"
    return None


def source_files(course: Path, assignment: str) -> bytes:
    """The assignment's files besides its notebooks (data files a notebook reads), as a tar."""
    source = CourseFolder(course).source(assignment)

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
    for notebook in sorted(CourseFolder(course).source(assignment).glob("*.ipynb")):
        cells = nbformat.read(notebook, as_version=4).cells
        ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]
        order[notebook.stem] = [i for i in ids if i]
    return order


def refusals(found: dict[str, Path], log: Callable[[str], None]) -> dict[str, str]:
    """The submissions in `found` that are not graded, with why (each said to `log`)."""
    refused = {}
    for student, folder in found.items():
        why = refusal(folder)
        if why:
            refused[student] = f"not graded: {why}"
            log(f"{student}: {refused[student]}")
    return refused
