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

import json
import os
import shutil
from pathlib import Path

from course_utils.grading.jobs import Outcome

FOLDER = Path(".course-kit") / "results"
_FILES = ("outcome.json", "autograded.tar.gz", "feedback.tar.gz")


class Results:
    """The kept results of one assignment's submissions, by key."""

    def __init__(self, course: Path, assignment: str) -> None:
        """Use (and make) ``course/.course-kit/results/assignment``, closed to other users."""
        self.folder = course / FOLDER / assignment
        self.folder.mkdir(parents=True, exist_ok=True)
        for part in (course / ".course-kit", course / FOLDER, self.folder):
            os.chmod(part, 0o700)

    def get(self, key: str) -> Outcome | None:
        """The outcome kept under `key`, or None (nothing kept, or unreadable)."""
        entry = self.folder / key
        try:
            if entry.is_symlink() or not entry.is_dir():
                return None
            meta = json.loads((entry / _FILES[0]).read_text())
            return Outcome(
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
        except (OSError, ValueError, KeyError, TypeError):
            return None

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
