"""The grading service's record: every attempt, its files, its result, what was released.

An SQLite database beside the gradebook (``.course-kit/service.db``) and a folder per attempt
(``.course-kit/attempts/ASSIGNMENT/STUDENT/NAME/``): an attempt's files are kept before it is
recorded, and a record moves forward only once what it says is on disk, so a service stopped
at any moment finds on its next start what it missed and what it left half done.

An attempt's status: ``new`` (kept, not decided), ``grading`` (to grade, or being graded),
``graded``, ``failed`` (the grader could not grade it), ``refused`` (over the limits, or not
the student's), ``held`` (late, for the instructor).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path

from course_utils.layout import CourseFolder

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    name TEXT PRIMARY KEY, assignment TEXT NOT NULL, student TEXT NOT NULL,
    owner TEXT NOT NULL, received TEXT NOT NULL, secret TEXT NOT NULL,
    notebooks TEXT NOT NULL, status TEXT NOT NULL, number INTEGER,
    score REAL, max_score REAL, reason TEXT NOT NULL DEFAULT '', next_at TEXT,
    released INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS counted (
    assignment TEXT NOT NULL, student TEXT NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (assignment, student)
);
"""


@dataclass
class Attempt:
    """One row of ``attempts``."""

    name: str
    assignment: str
    student: str
    owner: str
    received: str  # ISO time, the service's
    secret: str
    notebooks: str  # JSON list of notebook ids
    status: str
    number: int | None = None
    score: float | None = None
    max_score: float | None = None
    reason: str = ""
    next_at: str | None = None
    released: int = 0

    @property
    def received_at(self) -> datetime:
        """`received` as a time."""
        return datetime.fromisoformat(self.received)

    @property
    def notebook_ids(self) -> list[str]:
        """The notebooks' ids."""
        return [str(n) for n in json.loads(self.notebooks)]


COLUMNS = [f.name for f in fields(Attempt)]


class Record:
    """The service's database and attempt folders in one course folder."""

    def __init__(self, course: Path):
        """Open (and make) ``.course-kit/service.db`` in `course`."""
        self.paths = CourseFolder(course)
        self.paths.kit.mkdir(mode=0o700, exist_ok=True)
        self.path = self.paths.service_db
        with self._connect() as con:
            con.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=60)
        try:
            with con:
                yield con
        finally:
            con.close()

    def names(self) -> set[str]:
        """Every attempt recorded."""
        with self._connect() as con:
            return {row[0] for row in con.execute("SELECT name FROM attempts")}

    def add(self, attempt: Attempt, files: dict[str, bytes]) -> None:
        """Keep `files` in the attempt's folder, then record it (in that order)."""
        folder = self.folder(attempt)
        if not folder.is_dir():
            tmp = folder.with_name(folder.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            for path, data in files.items():
                (tmp / path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                (tmp / path).write_bytes(data)
            tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.replace(tmp, folder)
        values = [getattr(attempt, c) for c in COLUMNS]
        with self._connect() as con:
            con.execute(
                f"INSERT OR IGNORE INTO attempts ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(COLUMNS))})",
                values,
            )

    def folder(self, attempt: Attempt) -> Path:
        """Where the attempt's files are kept."""
        folder = self.paths.attempts(attempt.assignment, attempt.student) / attempt.name
        folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder

    def feedback(self, attempt: Attempt) -> Path:
        """Where the attempt's feedback is kept once graded (released from there)."""
        return self.folder(attempt).with_name(attempt.name + ".feedback")

    def update(self, name: str, **values: object) -> None:
        """Change some columns of the attempt `name`."""
        unknown = set(values) - set(COLUMNS)
        if unknown:
            raise ValueError(f"no columns {sorted(unknown)}")
        assignments = ", ".join(f"{key} = ?" for key in values)
        with self._connect() as con:
            con.execute(
                f"UPDATE attempts SET {assignments} WHERE name = ?", [*values.values(), name]
            )

    def attempts(self, where: str = "1", params: tuple[object, ...] = ()) -> list[Attempt]:
        """Attempts matching the SQL condition `where`, oldest first."""
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {', '.join(COLUMNS)} FROM attempts WHERE {where} ORDER BY received, name",
                params,
            ).fetchall()
        return [Attempt(*row) for row in rows]

    def of(self, assignment: str, student: str) -> list[Attempt]:
        """One student's attempts of one assignment, oldest first."""
        return self.attempts("assignment = ? AND student = ?", (assignment, student))

    def counted(self, assignment: str, student: str) -> str | None:
        """The attempt whose grade is in the gradebook now."""
        with self._connect() as con:
            row = con.execute(
                "SELECT name FROM counted WHERE assignment = ? AND student = ?",
                (assignment, student),
            ).fetchone()
        return row[0] if row else None

    def set_counted(self, assignment: str, student: str, name: str) -> None:
        """Record that the gradebook holds the grade of attempt `name`."""
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO counted (assignment, student, name) VALUES (?, ?, ?)",
                (assignment, student, name),
            )
