"""What the fast grading tests share: small gradebooks, notebooks and zips built in memory.

nbgrader makes a new gradebook slowly, so one empty gradebook is made per test session and each
test gets a copy of it.
"""

from __future__ import annotations

import atexit
import functools
import io
import shutil
import stat
import tempfile
import warnings
import zipfile
from datetime import datetime
from pathlib import Path
from unittest import mock

import nbformat


@functools.cache
def _empty_gradebook() -> Path:
    import nbgrader.api
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import _temp_alembic_ini

    folder = Path(tempfile.mkdtemp(prefix="empty-gradebook-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    db = folder / "gradebook.db"
    # nbgrader stamps a new gradebook with its schema's version, which it asks of an `alembic`
    # process; the same answer, read here in this process, is many times faster
    with _temp_alembic_ini(f"sqlite:///{db}") as ini:
        head = ScriptDirectory.from_config(Config(ini)).get_current_head()
    with mock.patch.object(nbgrader.api, "get_alembic_version", return_value=head):
        with nbgrader.api.Gradebook(f"sqlite:///{db}"):
            pass
    return db


def empty_gradebook(dest: Path) -> Path:
    """A fresh nbgrader gradebook at `dest` (a file path), with nothing in it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_empty_gradebook(), dest)
    return dest


def gradebook(db: Path):
    """nbgrader's API on `db` (a context manager)."""
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{db}")


def add_lab(
    db: Path,
    assignment: str,
    cells: dict[str, float],
    *,
    notebook: str | None = None,
    duedate: datetime | None = None,
) -> None:
    """Add `assignment` with one notebook (its own name by default) and code grade cells."""
    notebook = notebook or assignment
    with gradebook(db) as gb:
        gb.add_assignment(assignment, duedate=duedate)
        gb.add_notebook(notebook, assignment)
        for name, points in cells.items():
            gb.add_grade_cell(name, notebook, assignment, max_score=points, cell_type="code")


def add_submission(
    db: Path,
    assignment: str,
    student: str,
    scores: dict[str, float],
    *,
    notebook: str | None = None,
    late_penalty: float | None = None,
    timestamp: datetime | None = None,
) -> None:
    """Give `student` (made if missing) a submission of `assignment` with these auto scores."""
    notebook = notebook or assignment
    with gradebook(db) as gb:
        gb.update_or_create_student(student)
        with warnings.catch_warnings():  # nbgrader's own add_submission warns (SQLAlchemy)
            warnings.simplefilter("ignore")
            gb.add_submission(
                assignment, student, **({"timestamp": timestamp} if timestamp else {})
            )
        for cell, score in scores.items():
            gb.find_grade(cell, notebook, assignment, student).auto_score = score
        if late_penalty is not None:
            found = gb.find_submission_notebook(notebook, assignment, student)
            found.late_submission_penalty = late_penalty
        gb.db.commit()


def notebook_bytes(*sources: str, solution: bool = False, **metadata: object) -> bytes:
    """A notebook of code cells (nbgrader solution cells when `solution`), as file bytes."""
    cells = []
    for i, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        if solution:
            cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": f"s{i}"}
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells, metadata=metadata)
    return nbformat.writes(nb).encode()


def zip_bytes(
    entries: dict[str, bytes],
    *,
    links: tuple[str, ...] = (),
    fifos: tuple[str, ...] = (),
    when: tuple = (2026, 11, 1, 11, 0, 0),
) -> bytes:
    """A zip built in memory: plain files, and entries marked as symlinks or FIFOs."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(zipfile.ZipInfo(name, date_time=when), data)
        for kind, names in ((stat.S_IFLNK, links), (stat.S_IFIFO, fifos)):
            for name in names:
                info = zipfile.ZipInfo(name, date_time=when)
                info.external_attr = (kind | 0o777) << 16
                z.writestr(info, "/etc/shadow")
    return out.getvalue()


def copy_file(src: Path, dest: Path) -> Path:
    """A copy of `src` at `dest` (its folder made): a gradebook built once, for one test."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(src, dest))
