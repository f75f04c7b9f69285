"""Results kept by submission key, so a submission seen before is not graded again.

A submission's key (`copies.submission_key`) covers what nbgrader runs and what it is run
against: the files handed in, the assignment's source (tests included), the course's config
and the training length. Once a submission is graded, its results are kept under its key in
``.course-kit/results/ASSIGNMENT/`` in the course folder; a later submission with the same key
(typically the untouched release, handed in again in a later run) gets a copy of them at once.
``--force`` grades everything again (and keeps the new results). The folder holds autograded
notebooks, hidden tests included: it is closed to other users like the rest of the course, and
deleting it only costs time.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

from course_utils.grading.jobs import SUBMISSION_TABLES, Outcome
from course_utils.layout import CourseFolder

_FILES = ("outcome.json", "autograded.tar.gz", "feedback.tar.gz")


def _check(outcome: Outcome) -> None:
    """Raise ValueError unless a kept `outcome` can be installed as it is (rows and folders)."""
    texts = (outcome.student, outcome.digest, outcome.message)
    numbers = (outcome.wall, outcome.cpu, outcome.peak_rss)
    rows = outcome.rows
    if (
        not all(isinstance(t, str) for t in texts)
        or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers)
        or not isinstance(rows, dict)
        or set(rows) != set(SUBMISSION_TABLES)
        or not all(isinstance(r, list) for r in rows.values())
        or not all(isinstance(r, dict) and "id" in r for t in rows.values() for r in t)
        or not outcome.autograded
    ):
        raise ValueError("not an outcome as kept")
    for data in (outcome.autograded, outcome.feedback):
        if data:  # a whole gzipped tar (reading it to its end checks its length and CRC)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for member in tar:
                    handle = tar.extractfile(member) if member.isfile() else None
                    if handle is not None:
                        handle.read()


class Results:
    """The kept results of one assignment's submissions, by key."""

    def __init__(self, course: Path, assignment: str) -> None:
        """Use (and make) ``course/.course-kit/results/assignment``, closed to other users."""
        paths = CourseFolder(course)
        self.folder = paths.results(assignment)
        self.folder.mkdir(parents=True, exist_ok=True)
        for part in (paths.kit, paths.results(), self.folder):
            os.chmod(part, 0o700)

    def get(self, key: str) -> Outcome | None:
        """The outcome kept under `key`, or None (nothing kept, or unreadable or incomplete)."""
        entry = self.folder / key
        try:
            if entry.is_symlink() or not entry.is_dir():
                return None
            meta = json.loads((entry / _FILES[0]).read_text())
            outcome = Outcome(
                meta["student"],
                meta["digest"],
                True,
                meta["message"],
                rows=meta["rows"],
                autograded=(entry / _FILES[1]).read_bytes(),
                feedback=(entry / _FILES[2]).read_bytes(),
                wall=meta["wall"],
                cpu=meta["cpu"],
                peak_rss=meta["peak_rss"],
            )
            _check(outcome)
        except (OSError, ValueError, KeyError, TypeError, EOFError, tarfile.TarError):
            return None
        return outcome

    def put(self, key: str, outcome: Outcome) -> None:
        """Keep a successful, freshly graded `outcome` under `key` (written whole or not at all)."""
        if not outcome.ok or outcome.copy_of:
            return
        fresh = self.folder / f".incoming-{key}"
        try:
            self._write(fresh, key, outcome)
        except OSError:  # a full disk costs only the time saved later
            shutil.rmtree(fresh, ignore_errors=True)

    def _write(self, fresh: Path, key: str, outcome: Outcome) -> None:
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(mode=0o700)
        meta = {
            "student": outcome.student,
            "digest": outcome.digest,
            "message": outcome.message,
            "rows": outcome.rows,
            "wall": outcome.wall,
            "cpu": outcome.cpu,
            "peak_rss": outcome.peak_rss,
        }
        (fresh / _FILES[0]).write_text(json.dumps(meta))
        (fresh / _FILES[1]).write_bytes(outcome.autograded)
        (fresh / _FILES[2]).write_bytes(outcome.feedback)
        shutil.rmtree(self.folder / key, ignore_errors=True)
        fresh.rename(self.folder / key)
