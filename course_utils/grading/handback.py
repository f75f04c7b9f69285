"""Feedback back through the LMS: the zip that Canvas or Moodle takes, from ``feedback/``.

    python -m course_utils.grade handback lab3_part2            # grades/lab3_part2-feedback.zip

For every student whose notebook was collected from the platform's download
(`course_utils.grading.collect` kept, in ``.course-kit/lms/<assignment>.json``, the ids the
platform needs), each feedback page (a plain ``.html`` file of
``feedback/<student>/<assignment>/``) goes into the zip under
the name the platform matches to that student's submission: Moodle's "Upload multiple feedback
files in a zip" (``<name>_<participant id>_assignsubmission_file_<file>``), Canvas's "Re-upload
submissions" (``<name>_<user id>_<attachment id>_<file>``). Nothing else goes in: feedback HTML
holds no hidden test (`course_utils.grading.preprocessors.hide_hidden_tests`), links and
special files are left out, and a student's files go only under that student's ids.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_utils.grading.lms import canvas_upload_name, moodle_upload_name
from course_utils.layout import CourseFolder
from course_utils.settings import MiB

MAX_FEEDBACK = 50 * MiB  # bytes of one feedback file


@dataclass
class Returned:
    """One line of the hand-back's report."""

    student: str
    outcome: str
    detail: str = ""


def _read(folder: Path, name: str) -> bytes | None:
    """A plain file of `folder`, opened without following links (None if it is not one)."""
    try:
        fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:  # a folder opens too, but is no file to read
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FEEDBACK:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_FEEDBACK + 1)
    finally:
        os.close(fd)


def upload_name(lms: str, kept: dict[str, Any], file: str) -> str:
    """The name under which the platform `lms` matches `file` to the student `kept`."""
    if lms == "canvas":
        return canvas_upload_name(kept.get("name", ""), kept["lms_id"], kept["attachment"], file)
    return moodle_upload_name(kept.get("name", ""), kept["lms_id"], file)


def handback(course: Path, assignment: str, out: Path) -> list[Returned]:
    """Write the platform's feedback zip for `assignment` to `out`; what each student got.

    Raises:
        FileNotFoundError: nothing of this assignment was collected from a platform.
    """
    record_path = CourseFolder(course).lms_record(assignment)
    if not record_path.is_file():
        raise FileNotFoundError(
            f"no LMS collection for {assignment}: run `python -m course_utils.grade collect "
            f"{assignment} DOWNLOAD.zip --lms canvas|moodle` first"
        )
    record = json.loads(record_path.read_text())
    lms, students = record["lms"], record["students"]
    rows: list[Returned] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for student, kept in sorted(students.items()):
            folder = CourseFolder(course).feedback(student, assignment)
            if folder.is_symlink() or folder.parent.is_symlink() or not folder.is_dir():
                rows.append(Returned(student, "no feedback", "generate it first"))
                continue
            names = []
            for name in sorted(os.listdir(folder)):
                if not name.endswith(".html") or name.startswith((".", "~")):
                    continue  # the feedback itself (nbgrader also leaves timestamp.txt there)
                data = _read(folder, name)
                if data is None:
                    continue
                archive.writestr(upload_name(lms, kept, name), data)
                names.append(name)
            detail = ", ".join(names)
            if lms == "canvas" and not str(kept["lms_id"]).isdigit():
                detail += " (anonymous grading: Canvas may not match it; upload it by hand)"
            rows.append(Returned(student, "returned" if names else "no feedback", detail))
    return rows
