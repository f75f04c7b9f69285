"""Collecting an LMS's download into ``submitted/``: ``python -m course_utils.grade collect``.

    python -m course_utils.grade collect lab3_part2 submissions.zip --lms canvas
    python -m course_utils.grade collect lab3_part2 submissions.zip --lms moodle \\
        --worksheet "Grades-lab3_part2.csv"

The download is read in memory, never unpacked: names that climb out of a folder (``../``),
absolute paths, links and special files are reported and skipped, every file is read up to a
size limit (a zip bomb stops at it), and a zip a student handed in is opened one level down.
Each file is matched to a roster student by the name the platform gave it (`lms`): Canvas's
user id is the roster's ``lms_user_id``; Moodle's participant id is looked up in the grading
worksheet Moodle exports beside the download, whose e-mail address is the roster's. Each
student's notebook (the one named after the assignment, else their only notebook, else the
latest) becomes ``submitted/<student>/<assignment>/<assignment>.ipynb`` with nbgrader's
``timestamp.txt``. What each file became is one row of a table, printed and written to
``grades/<assignment>-collected.csv``; an earlier collected copy that changes is kept aside in
``.course-kit/collected/``, and what the platform needs to take feedback back is kept in
``.course-kit/lms/<assignment>.json`` (`course_utils.grading.handback`).
"""

from __future__ import annotations

import csv
import io
import shutil
import stat
import zipfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat

from course_utils.grading.lms import Named, parse, plain_name
from course_utils.grading.worksheet import Roster
from course_utils.layout import SUBMITTED, CourseFolder
from course_utils.settings import GiB, MiB

MAX_FILES = 20_000  # entries in one download
MAX_NOTEBOOK = 50 * MiB  # bytes of one notebook (or of one zip a student handed in)
MAX_TOTAL = 4 * GiB  # bytes read from the whole download, nested zips included
STAMP = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's timestamp.txt


@dataclass
class File:
    """One file of the download, as read (or refused)."""

    path: str
    data: bytes | None = None
    problem: str = ""
    when: datetime | None = None
    named: Named | None = None
    outer: str = ""  # for a file inside a zip the student handed in: that zip's path

    @property
    def matched(self) -> Named:
        """What its name says, for a file matched to a student (such a file has a name)."""
        if self.named is None:
            raise ValueError(f"{self.path} has no name the platform gives its files")
        return self.named


@dataclass
class Row:
    """One line of the collection's report."""

    path: str
    student: str
    outcome: str
    detail: str = ""


@dataclass
class Collection:
    """What a collection did: its rows, and the students whose notebook it wrote."""

    rows: list[Row] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)  # student -> path in the download


class Budget:
    """Bytes still to be read from the download (all files together)."""

    def __init__(self, total: int = MAX_TOTAL):
        self.left = total

    def read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
        """The entry's bytes, at most `limit` of them (ValueError past it or the budget)."""
        with archive.open(info) as stream:
            data = stream.read(min(limit, self.left) + 1)
        if len(data) > limit:
            raise ValueError(f"more than {limit >> 20} MiB unpacked: over the size limit")
        if len(data) > self.left:
            raise ValueError("the download unpacks to more than the collector reads in all")
        self.left -= len(data)
        return data


def _unsafe(name: str) -> str:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in parts:
        return "a path that climbs out of its folder (..)"
    return ""


def _kind(info: zipfile.ZipInfo) -> str:
    """What a zip entry is, when not a plain file: Unix mode bits, where the zip has them."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return "a link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "a special file"
    return ""


def read_download(source: Path | io.BytesIO, budget: Budget, prefix: str = "") -> list[File]:
    """Every file of the zip `source`, each read within the limits or with its problem."""
    files: list[File] = []
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        return [File(prefix.rstrip("/") or str(source), problem=f"not a zip file ({error})")]
    with archive:
        entries = [i for i in archive.infolist() if not i.is_dir()]
        if len(entries) > MAX_FILES:
            return [File(prefix or str(source), problem=f"more than {MAX_FILES} files")]
        for info in entries:
            path = prefix + info.filename
            found = File(path, when=datetime(*info.date_time, tzinfo=UTC))
            found.problem = _unsafe(info.filename) or _kind(info)
            if not found.problem:
                try:
                    found.data = budget.read(archive, info, MAX_NOTEBOOK)
                except (ValueError, zipfile.BadZipFile, RuntimeError, OSError) as error:
                    found.problem = str(error)
            if found.data is not None and path.lower().endswith(".zip") and not prefix:
                inner = read_download(io.BytesIO(found.data), budget, path + "/")
                for nested in inner:
                    nested.outer = path
                files.extend(inner)
                continue
            files.append(found)
    return files


def _notebook(data: bytes) -> str:
    """Why `data` is not a notebook ("" when it is one)."""
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        return f"not a notebook ({type(error).__name__}: {str(error)[:80]})"
    return "" if isinstance(nb.get("cells"), list) else "not a notebook (no cells)"


def choose(assignment: str, others: set[str], files: list[File]) -> tuple[File | None, str]:
    """The student's notebook for `assignment` among their `files`, and why that one."""
    notebooks = [f for f in files if f.data is not None and f.path.lower().endswith(".ipynb")]
    named = [f for f in notebooks if plain_name(f.matched.file) == assignment]
    if not named:
        named = [f for f in notebooks if plain_name(f.matched.file) not in others]
        if len(named) > 1:
            return None, "several notebooks, none named after the assignment"
    if not named:
        return None, ""
    latest = max(named, key=lambda f: (int(f.matched.attachment or 0), f.when, f.path))
    why = "its only notebook" if len(notebooks) == 1 else "the latest of its notebooks"
    if latest.matched.file != f"{assignment}.ipynb":
        why += f", handed in as {latest.matched.file!r}"
    return latest, why


def timestamp(found: File, submitted: datetime | None, due: datetime | None) -> datetime:
    """When it was handed in: the worksheet's time, else the zip's; never before the due
    date when the platform marked it late."""
    when = submitted or found.when or datetime.now(UTC)
    if found.named is not None and found.named.late and due is not None and when <= due:
        when = due + timedelta(seconds=1)
    return when


def write(course: Path, assignment: str, student: str, data: bytes, when: datetime) -> str:
    """Place the notebook in ``submitted/``; what happened to an earlier copy."""
    folder = CourseFolder(course).submitted(student, assignment)
    notebook = folder / f"{assignment}.ipynb"
    outcome = "collected"
    if folder.is_symlink() or (folder.parent.exists() and folder.parent.is_symlink()):
        raise ValueError(f"{SUBMITTED}/{student} is a link: not written")
    if folder.exists():
        if notebook.is_file() and not notebook.is_symlink() and notebook.read_bytes() == data:
            return "unchanged"
        aside = CourseFolder(course).collected(assignment, student)
        aside.mkdir(parents=True, exist_ok=True)
        kept = aside / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        shutil.move(str(folder), kept)
        outcome = f"replaced (the earlier copy is in {kept.relative_to(course)})"
    folder.mkdir(parents=True)
    notebook.write_bytes(data)
    (folder / "timestamp.txt").write_text(when.strftime(STAMP))
    return outcome


def collect(course: Path, assignment: str, download: Path, lms: str, roster: Roster) -> Collection:
    """Collect `download` (the LMS's zip) for `assignment` into ``submitted/``."""
    done = Collection()
    others = {p.name for p in CourseFolder(course).source().iterdir() if p.is_dir()} - {assignment}
    mine: dict[str, list[File]] = {}
    seen: set[str] = set()  # students with any file in the download
    for found in read_download(download, Budget()):
        found.named = parse(lms, found.outer or found.path)
        if found.named is not None and found.outer:  # a notebook inside the student's zip
            found.named = replace(found.named, file=found.path.rsplit("/", 1)[-1])
        student = roster.student(found.named.lms_id) if found.named else None
        seen.add(student or "")
        if found.problem or found.named is None or student is None:
            if found.problem:
                why = found.problem
            elif found.named is None:
                why = f"a name {lms.capitalize()} does not give its files"
            else:
                why = roster.why_not(found.named.lms_id)
            who = found.named.lms_id if found.named else ""
            done.rows.append(Row(found.path, student or who, "skipped", why))
            continue
        if not found.path.lower().endswith(".ipynb"):
            done.rows.append(Row(found.path, student, "skipped", "not a notebook"))
            continue
        problem = _notebook(found.data or b"")
        if problem:
            done.rows.append(Row(found.path, student, "skipped", problem))
            continue
        mine.setdefault(student, []).append(found)
    for student, files in sorted(mine.items()):
        chosen, why = choose(assignment, others, files)
        for other in files:
            if other is not chosen:
                reason = (
                    "another assignment's notebook"
                    if plain_name(other.matched.file) in others
                    else "not collected: " + (why or "an older notebook")
                )
                done.rows.append(Row(other.path, student, "skipped", reason))
        if chosen is None:
            continue
        when = timestamp(chosen, roster.submitted(chosen.matched.lms_id), roster.due)
        try:
            outcome = write(course, assignment, student, chosen.data or b"", when)
        except (OSError, ValueError) as error:
            done.rows.append(Row(chosen.path, student, "skipped", str(error)))
            continue
        done.rows.append(Row(chosen.path, student, outcome, why))
        done.written[student] = chosen.path
        roster.remember(student, chosen.matched)
    for student in roster.missing(seen):
        done.rows.append(Row("", student, "nothing handed in"))
    roster.save(CourseFolder(course).lms_record(assignment), lms)
    return done


def report(course: Path, assignment: str, done: Collection) -> Path:
    """Write the collection's table to ``grades/<assignment>-collected.csv``; its path."""
    path = CourseFolder(course).grades_csv(assignment, "collected")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "student_id", "outcome", "detail"])
        for row in done.rows:
            writer.writerow([row.path, row.student, row.outcome, row.detail])
    return path


def table(done: Collection) -> str:
    """The collection's rows as an aligned text table."""
    rows = [("student", "outcome", "file", "detail")]
    rows += [(r.student, r.outcome, r.path, r.detail) for r in done.rows]
    widths = [min(40, max(len(r[i]) for r in rows)) for i in range(3)]
    return "\n".join(
        "  ".join(cell[:40].ljust(width) for cell, width in zip(r[:3], widths, strict=True))
        + ("  " + r[3] if r[3] else "")
        for r in rows
    )
