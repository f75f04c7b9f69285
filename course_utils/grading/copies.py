"""Identical submissions graded once: what nbgrader would see, as a key; results copied over.

Two submissions with the same key run the same code against the same tests, so the grader runs
one of them and gives the other a copy of its results (its own ids, its own timestamp). The key
covers every file nbgrader is handed (links and special files are never handed over), with each
notebook reduced to what decides its grade and feedback: the cells' type, source, metadata and
attachments, and the notebook's metadata. Outputs and execution counts are left out, as nbgrader
clears them before it runs the notebook. ``timestamp.txt`` is left out unless the assignment
has a due date (then the timestamp decides the late penalty, and only submissions with the same
one are copies).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from dataclasses import replace
from pathlib import Path

from course_utils.grading.jobs import Outcome, Rows
from course_utils.layout import CourseFolder

TIMESTAMP = "timestamp.txt"


def _notebook_text(data: bytes) -> bytes:
    """The parts of a notebook that change how nbgrader grades it (`data` if not a notebook)."""
    try:
        nb = json.loads(data)
        cells = [
            {key: cell.get(key) for key in ("cell_type", "source", "metadata", "attachments")}
            for cell in nb["cells"]
        ]
        kept = {"cells": cells, "metadata": nb.get("metadata")}
    except (ValueError, TypeError, KeyError, AttributeError):
        return data
    return json.dumps(kept, sort_keys=True).encode()


def _framed(data: bytes) -> bytes:
    """`data` after its length, so that no file's bytes can pass for a name or the next file."""
    return len(data).to_bytes(8, "big") + data


def submission_key(folder: Path, context: str, *, with_timestamp: bool) -> str:
    """The key of the submission in `folder`, graded in `context` (tests, config, length).

    Args:
        folder: a ``submitted/STUDENT/ASSIGNMENT`` folder.
        context: a digest of what else decides the grade (the source, the config, the epochs).
        with_timestamp: count ``timestamp.txt`` (the assignment has a due date).

    Returns:
        A hex digest; equal keys mean the same grading.
    """
    digest = hashlib.sha256(_framed(context.encode()))
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        name = str(path.relative_to(folder))
        if name == TIMESTAMP and not with_timestamp:
            continue
        data = path.read_bytes()
        digest.update(_framed(os.fsencode(name)))
        digest.update(_framed(_notebook_text(data) if path.suffix == ".ipynb" else data))
    return digest.hexdigest()


def class_keys(
    course: Path, db: Path, assignment: str, found: dict[str, Path], context: str
) -> dict[str, str]:
    """Each submission's key (`submission_key`) in `found`, by student.

    Args:
        course: the course folder (its ``source/ASSIGNMENT`` is part of every key).
        db: the course's gradebook (does the assignment have a due date?).
        assignment: the assignment's name.
        found: the submission folders, by student.
        context: anything else that decides the grade (the config, the training length).
    """
    source = CourseFolder(course).source(assignment)
    context = submission_key(source, context, with_timestamp=True)
    con = sqlite3.connect(db)
    try:
        due = con.execute("SELECT duedate FROM assignment WHERE name = ?", (assignment,))
        with_timestamp = bool(due.fetchone()[0])
    finally:
        con.close()
    return {
        s: submission_key(folder, context, with_timestamp=with_timestamp)
        for s, folder in found.items()
    }


def group(keys: dict[str, str]) -> dict[str, list[str]]:
    """For each first student of a key (in the order of `keys`), the later ones with it."""
    leaders: dict[str, str] = {}
    copies: dict[str, list[str]] = {}
    for student, key in keys.items():
        if key in leaders:
            copies[leaders[key]].append(student)
        else:
            leaders[key] = student
            copies[student] = []
    return copies


def timestamp_of(folder: Path) -> str | None:
    """The submission's timestamp as nbgrader stores it in the gradebook (None without one)."""
    from nbgrader.utils import parse_utc

    path = folder / TIMESTAMP
    if path.is_symlink() or not path.is_file():
        return None
    text = path.read_text(errors="replace").strip()
    try:
        return parse_utc(text).strftime("%Y-%m-%d %H:%M:%S.%f") if text else None
    except ValueError:
        return None


def copy_rows(rows: Rows, student: str, timestamp: str | None) -> Rows:
    """`rows` (one submission's gradebook rows) for `student`, with fresh ids throughout."""
    fresh: dict[str, str] = {}

    def new(old: str) -> str:
        return fresh.setdefault(old, uuid.uuid4().hex)

    copied: Rows = {}
    for table, table_rows in rows.items():
        copied[table] = []
        for row in table_rows:
            row = dict(row, id=new(row["id"]))
            if table == "submitted_assignment":
                row.update(student_id=student, timestamp=timestamp)
            elif table == "submitted_notebook":
                row["assignment_id"] = new(row["assignment_id"])
            else:
                row["notebook_id"] = new(row["notebook_id"])
            copied[table].append(row)
    return copied


def copied(leader: Outcome, student: str, digest: str, timestamp: str | None) -> Outcome:
    """`leader`'s outcome given to `student`, whose submission has the same key."""
    return replace(
        leader,
        student=student,
        digest=digest,
        rows=copy_rows(leader.rows, student, timestamp) if leader.ok else {},
        copy_of=leader.student,
        wall=0.0,
        cpu=0.0,
        peak_rss=0,
    )
