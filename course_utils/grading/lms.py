"""The file names of Canvas's and Moodle's "download all submissions" zips, and of their uploads.

Each platform names every file of its download after the student and the submission:

* Canvas (``lib/content_zipper.rb``): ``<name>_[LATE_]<user id>_<attachment id>_<file>``; the
  name is the student's sortable name, lower-cased without punctuation; under anonymous
  grading the id is ``anon_<id>`` and the name is left out; two files of the same name get
  ``-1``, ``-2`` before the extension. Its "re-upload submissions" zip takes files named the
  same way (the first two all-digit parts are the user and the attachment).
* Moodle (``mod/assign``): ``<full name>_<participant id>_assignsubmission_file_<file>``, or,
  with "download submissions in folders" (the default), a folder
  ``<full name>_<participant id>_assignsubmission_file[_]/`` holding the files as uploaded.
  The participant id is Moodle's per-assignment number, listed in the grading worksheet's
  ``Identifier`` column (``Participant 123``). Its "upload multiple feedback files in a zip"
  takes ``<name>_<participant id>_assignsubmission_file_<file>``.

The patterns are nbgrader's ``zip_collect`` plugins (`FileNameCollectorPlugin`, with
``student_id`` and ``file_id`` groups), so an instructor may also use them with
``nbgrader zip_collect``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

CANVAS_NAME = (
    r"^(?:.*/)?(?:(?P<name>[^/]*?)_)??(?:(?P<late>LATE)_)?"
    r"(?P<student_id>anon_[A-Za-z0-9]+|\d+)_(?P<attachment>\d+)_(?P<file_id>[^/]+)$"
)
MOODLE_NAME = (
    r"^(?:.*/)?(?P<name>[^/]*)_(?P<student_id>\d+)_assignsubmission_file"
    r"(?:_?/(?:.*/)?|_)(?P<file_id>[^/]+)$"
)
#: what platforms and browsers add to a file's name when it is copied or downloaded again
COPY_MARKS = (
    re.compile(r"^copy of ", re.IGNORECASE),  # Colab's "Save a copy in Drive"
    re.compile(r"^copia de ", re.IGNORECASE),
    re.compile(r"\s*\(\d+\)$"),  # a browser's second download: "lab (1).ipynb"
    re.compile(r"-\d+$"),  # Canvas's second file of the same name
)


class CanvasFileNames(FileNameCollectorPlugin):
    """The names of Canvas's download (and re-upload) zip."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(named_regexp=CANVAS_NAME, **kwargs)


class MoodleFileNames(FileNameCollectorPlugin):
    """The names of Moodle's download zip, flat or in folders."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(named_regexp=MOODLE_NAME, **kwargs)


PLUGINS: dict[str, type[FileNameCollectorPlugin]] = {
    "canvas": CanvasFileNames,
    "moodle": MoodleFileNames,
}
#: the plugins' own warnings about unmatched names: the collector reports each file once
QUIET = logging.getLogger("course_utils.grading.lms")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False


@dataclass(frozen=True)
class Named:
    """What a file's name in an LMS download says."""

    lms_id: str  # Canvas's user id (or anon_...), Moodle's participant id
    file: str  # the file's own name, as the student uploaded it
    late: bool = False  # Canvas marks late submissions in the name
    attachment: str = ""  # Canvas's attachment id (the re-upload zip needs it)
    name: str = ""  # the name the platform wrote


def parse(lms: str, path: str) -> Named | None:
    """What `path` (a file's path in the download, "/" between folders) says, or None."""
    extension = "." + path.rsplit(".", 1)[1] if "." in path.rsplit("/", 1)[-1] else ""
    plugin = PLUGINS[lms](valid_ext=[extension], log=QUIET)
    found = plugin.collect(path)
    if not found:
        return None
    return Named(
        lms_id=found["student_id"],
        file=found["file_id"],
        late=bool(found.get("late")),
        attachment=found.get("attachment") or "",
        name=found.get("name") or "",
    )


def plain_name(file: str) -> str:
    """A notebook's name without what copies and downloads add ("Copy of lab (1).ipynb" ->
    "lab"), lower-cased."""
    stem = file[: -len(".ipynb")] if file.lower().endswith(".ipynb") else file
    stem = stem.strip()
    for mark in COPY_MARKS:
        stem = mark.sub("", stem).strip()
    return stem.lower().replace(" ", "_")


def canvas_upload_name(student_name: str, user_id: str, attachment: str, file: str) -> str:
    """A file's name in Canvas's re-upload zip (matched to the submission by its two ids)."""
    name = re.sub(r"\W", "", student_name).lower() or "student"
    return f"{name}_{user_id}_{attachment}_{file}"


def moodle_upload_name(full_name: str, participant: str, file: str) -> str:
    """A file's name in Moodle's feedback zip: Moodle splits it on "_" into at most five
    parts, the second the participant, the third and fourth the plugin, the rest the file."""
    name = re.sub(r"[_/\\]", " ", full_name).strip() or "Participant"
    return f"{name}_{participant}_assignsubmission_file_{file}"
