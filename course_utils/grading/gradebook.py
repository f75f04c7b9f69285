"""How scores reach the gradebook: one submission's rows, a per-student copy, merging, CSV.

Workers never open the course's gradebook. Each gets a `snapshot` that holds only its
student, nbgrader writes its rows there, the worker reads them back (`submission_rows`), and
the coordinator alone `merge`s them into the course's gradebook, one transaction per
submission: the old rows of that submission go (`delete_submissions`), nbgrader's new ones
come in with their ids, so manual grades and ``nbgrader export`` behave as after a plain
``nbgrader autograde``.
"""

from __future__ import annotations

import csv
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from course_utils.grading.jobs import SUBMISSION_TABLES, GradingError, Rows
from course_utils.layout import GRADEBOOK, CourseFolder

#: The kit's own table in the gradebook: how each submission was graded (nbgrader ignores it).
RUNS = "course_kit_grading"
_RUNS_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {RUNS} (assignment TEXT NOT NULL, student TEXT NOT NULL, "
    "epochs INTEGER, copy_of TEXT, wall REAL, cpu REAL, peak_rss INTEGER, graded_at TEXT, "
    "judge_peak INTEGER, PRIMARY KEY (assignment, student))"
)


def _runs_table(con: sqlite3.Connection) -> None:
    """The kit's table, with the columns later versions added to gradebooks made before."""
    con.execute(_RUNS_SCHEMA)
    columns = {row[1] for row in con.execute(f"PRAGMA table_info({RUNS})")}
    if "judge_peak" not in columns:
        con.execute(f"ALTER TABLE {RUNS} ADD COLUMN judge_peak INTEGER")


_SUBMISSIONS_OF = (
    "SELECT s.id FROM submitted_assignment s JOIN assignment a ON s.assignment_id = a.id "
    "WHERE a.name = ? AND s.student_id = ?"
)


def _marks(ids: list[str]) -> str:
    return ",".join("?" * len(ids))


def submission_rows(db: Path, assignment: str, student: str) -> Rows:
    """The rows of `student`'s submission of `assignment`, table by table.

    Args:
        db: a gradebook file.
        assignment: the assignment's name.
        student: the student's id.

    Returns:
        For each of `SUBMISSION_TABLES`, its rows as dictionaries (empty lists when the
        student has no submission).
    """
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row

    def rows(table: str, column: str, ids: list[str]) -> list[dict[str, Any]]:
        query = f"SELECT * FROM {table} WHERE {column} IN ({_marks(ids)})"
        return [dict(r) for r in con.execute(query, ids)]

    try:
        ids = [r[0] for r in con.execute(_SUBMISSIONS_OF, (assignment, student))]
        found = {
            "submitted_assignment": rows("submitted_assignment", "id", ids),
            "submitted_notebook": rows("submitted_notebook", "assignment_id", ids),
        }
        nb_ids = [r["id"] for r in found["submitted_notebook"]]
        found["grade"] = rows("grade", "notebook_id", nb_ids)
        found["comment"] = rows("comment", "notebook_id", nb_ids)
    finally:
        con.close()
    return {table: found[table] for table in SUBMISSION_TABLES}


def delete_submissions(con: sqlite3.Connection, where: str, params: tuple[str, ...]) -> None:
    """Delete the submissions ``SELECT id FROM submitted_assignment WHERE <where>`` selects,
    with their notebooks, grades and comments (children first, as SQLite has no cascade here).
    """
    subs = f"SELECT id FROM submitted_assignment WHERE {where}"
    nbs = f"SELECT id FROM submitted_notebook WHERE assignment_id IN ({subs})"
    con.execute(f"DELETE FROM grade WHERE notebook_id IN ({nbs})", params)
    con.execute(f"DELETE FROM comment WHERE notebook_id IN ({nbs})", params)
    con.execute(f"DELETE FROM submitted_notebook WHERE assignment_id IN ({subs})", params)
    con.execute(f"DELETE FROM submitted_assignment WHERE {where}", params)


def snapshot(db: Path, student: str) -> bytes:
    """The gradebook with only `student`'s submissions (the worker needs no one else's).

    Args:
        db: the course's gradebook (read with SQLite's online backup, so never half-written).
        student: the student to keep.

    Returns:
        The bytes of a smaller gradebook file.
    """
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / GRADEBOOK
        src, dst = sqlite3.connect(db, timeout=60), sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            src.close()
        try:
            delete_submissions(dst, "student_id != ?", (student,))
            dst.execute("DELETE FROM student WHERE id != ?", (student,))
            _runs_table(dst)
            dst.execute(f"DELETE FROM {RUNS} WHERE student != ?", (student,))
            dst.commit()
            dst.execute("VACUUM")
        finally:
            dst.close()
        return copy.read_bytes()


def merge(
    db: Path, assignment: str, student: str, rows: Rows, run: dict[str, Any] | None = None
) -> None:
    """Replace `student`'s submission of `assignment` in `db` by `rows`, in one transaction.

    Args:
        db: the course's gradebook.
        assignment: the assignment's name.
        student: the student's id.
        rows: what `submission_rows` read from the worker's gradebook.
        run: how it was graded, for the kit's table (`RUNS`): epochs, copy_of, wall, cpu,
            peak_rss, judge_peak.
    """
    con = sqlite3.connect(db, timeout=120)
    try:
        with con:
            _runs_table(con)
            con.execute(
                f"DELETE FROM {RUNS} WHERE assignment = ? AND student = ?", (assignment, student)
            )
            if run is not None:
                con.execute(
                    f"INSERT INTO {RUNS} (assignment, student, epochs, copy_of, wall, cpu, "
                    "peak_rss, judge_peak, graded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, datetime('now'))",
                    (
                        assignment,
                        student,
                        run.get("epochs"),
                        run.get("copy_of") or None,
                        run.get("wall"),
                        run.get("cpu"),
                        run.get("peak_rss"),
                        run.get("judge_peak"),
                    ),
                )
            delete_submissions(con, f"id IN ({_SUBMISSIONS_OF})", (assignment, student))
            for table in SUBMISSION_TABLES:
                for row in rows[table]:
                    columns = ", ".join(row)
                    con.execute(
                        f"INSERT INTO {table} ({columns}) VALUES ({_marks(list(row))})",
                        tuple(row.values()),
                    )
    finally:
        con.close()


def runs(db: Path, assignment: str) -> dict[str, dict[str, Any]]:
    """How each student's submission of `assignment` was graded (the kit's table), by student."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        _runs_table(con)
        found = con.execute(f"SELECT * FROM {RUNS} WHERE assignment = ?", (assignment,))
        return {r["student"]: dict(r) for r in found}
    finally:
        con.close()


def check_course(course: Path, assignment: str) -> Path:
    """The gradebook of `course`, checked to hold `assignment`.

    Raises:
        GradingError: no course config, no gradebook, not a gradebook, or no such assignment.
    """
    if not CourseFolder(course).config.is_file():
        raise GradingError(f"{course} is not a course folder: it has no nbgrader_config.py")
    db = CourseFolder(course).gradebook
    if not db.is_file():
        raise GradingError(
            f"{db} does not exist: run `nbgrader generate_assignment {assignment}` first"
        )
    con = sqlite3.connect(db)
    try:
        found = con.execute("SELECT 1 FROM assignment WHERE name = ?", (assignment,)).fetchone()
    except sqlite3.DatabaseError as error:
        raise GradingError(f"{db} is not an nbgrader gradebook: {error}") from error
    finally:
        con.close()
    if not found:
        raise GradingError(
            f"assignment {assignment!r} is not in {db}: "
            f"run `nbgrader generate_assignment {assignment}`"
        )
    return db


def add_students(db: Path, students: list[str]) -> None:
    """Make sure every student in `students` has a record in `db`."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        for student in students:
            gb.update_or_create_student(student)


def write_csv(db: Path, assignment: str, path: Path, failed: dict[str, str]) -> Path:
    """One row per student: score, maximum, whether manual grading is pending, status.

    Args:
        db: the course's gradebook.
        assignment: the assignment's name.
        path: the CSV file to write.
        failed: why each submission that could not be graded failed, by student.

    Returns:
        `path`.
    """
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        rows = sorted(gb.submission_dicts(assignment), key=lambda r: r["student"])
    how = runs(db, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "student_id",
                "score",
                "max_score",
                "needs_manual_grade",
                "timestamp",
                "status",
                "epochs",
                "copy_of",
            ]
        )
        for r in rows:
            status = f"failed: {failed[r['student']]}" if r["student"] in failed else "graded"
            run = how.get(r["student"], {})
            writer.writerow(
                [
                    r["student"],
                    f"{r['score']:g}",
                    f"{r['max_score']:g}",
                    r["needs_manual_grade"],
                    r["timestamp"] or "",
                    status,
                    "" if run.get("epochs") is None else run["epochs"],
                    run.get("copy_of") or "",
                ]
            )
        for student in sorted(set(failed) - {r["student"] for r in rows}):
            writer.writerow([student, "", "", "", "", f"failed: {failed[student]}", "", ""])
    return path
