"""The class as an LMS knows it: which roster student each LMS id is, and when they handed in.

Canvas's ids are its user ids, which the roster import keeps as ``lms_user_id``
(``nbgrader db student import roster.csv``). Moodle's participant ids exist per assignment
only: Moodle lists them in the grading worksheet it exports (Grading action: "Download grading
worksheet"), one row per participant, ``Identifier`` (``Participant 123``, the word in the
course's language), the e-mail address and the time of the last submission; the e-mail
address is the roster's. Times without a zone are read as UTC, as nbgrader stores due dates.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from course_utils.grading.lms import Named
from course_utils.settings import MiB

MAX_WORKSHEET = 20 * MiB


@dataclass
class Roster:
    """LMS ids of the roster's students, and what the platform says of their submissions."""

    ids: dict[str, list[str]] = field(default_factory=dict)  # LMS id -> roster students
    names: dict[str, str] = field(default_factory=dict)  # LMS id -> the platform's name
    times: dict[str, datetime] = field(default_factory=dict)  # LMS id -> last submission
    due: datetime | None = None
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)  # student -> for hand-back

    def student(self, lms_id: str) -> str | None:
        """The roster student with this LMS id (None when none, or more than one)."""
        found = self.ids.get(lms_id, [])
        return found[0] if len(found) == 1 else None

    def why_not(self, lms_id: str) -> str:
        """Why `lms_id` is no roster student."""
        found = self.ids.get(lms_id, [])
        if len(found) > 1:
            return f"the roster gives this LMS id to {len(found)} students ({', '.join(found)})"
        return "unknown student: not in the roster (or the worksheet)"

    def submitted(self, lms_id: str) -> datetime | None:
        """When the platform says this student last handed in, if it says."""
        return self.times.get(lms_id)

    def missing(self, collected: set[str]) -> list[str]:
        """Roster students the platform knows who handed nothing in."""
        return sorted({s for ss in self.ids.values() for s in ss if len(ss) == 1} - collected)

    def remember(self, student: str, named: Named) -> None:
        """Keep what the platform's upload needs to find this student's submission."""
        self.kept[student] = {**asdict(named), "name": self.names.get(named.lms_id, named.name)}

    def save(self, path: Path, lms: str) -> None:
        """Write what was kept (for hand-back), merged with an earlier collection's."""
        earlier = json.loads(path.read_text()) if path.is_file() else {}
        if earlier.get("lms") != lms:
            earlier = {}
        students = {**earlier.get("students", {}), **self.kept}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"lms": lms, "students": students}, indent=1))


def _due(db: Path, assignment: str) -> datetime | None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{db}") as gradebook:
        try:
            due: datetime | None = gradebook.find_assignment(assignment).duedate
        except MissingEntry:
            return None
    return due.replace(tzinfo=UTC) if due is not None and due.tzinfo is None else due


def canvas(db: Path, assignment: str) -> Roster:
    """The roster by Canvas user id (``lms_user_id``)."""
    from nbgrader.api import Gradebook

    roster = Roster(due=_due(db, assignment))
    with Gradebook(f"sqlite:///{db}") as gradebook:
        for student in gradebook.students:
            if student.lms_user_id:
                roster.ids.setdefault(str(student.lms_user_id).strip(), []).append(student.id)
    return roster


def _time(text: str) -> datetime | None:
    from dateutil import parser

    try:
        when = parser.parse(text, fuzzy=True)
    except (ValueError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def moodle(db: Path, assignment: str, worksheet: Path) -> Roster:
    """The roster by Moodle participant id, through the grading worksheet's e-mail addresses.

    Raises:
        ValueError: the worksheet is not Moodle's (no identifier or e-mail column).
    """
    from nbgrader.api import Gradebook

    if worksheet.stat().st_size > MAX_WORKSHEET:
        raise ValueError(f"{worksheet} is larger than a grading worksheet can be")
    with open(worksheet, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{worksheet} is empty")
    head = [h.strip().lower() for h in rows[0]]
    email = next((i for i, h in enumerate(head) if "mail" in h), None)
    if email is None or not head:
        raise ValueError(f"{worksheet} has no e-mail column: is it Moodle's grading worksheet?")
    name = next((i for i, h in enumerate(head) if "name" in h), None)
    when = next((i for i, h in enumerate(head) if "submission" in h and "modified" in h), None)
    roster = Roster(due=_due(db, assignment))
    with Gradebook(f"sqlite:///{db}") as gradebook:
        by_email: dict[str, list[str]] = {}
        for student in gradebook.students:
            if student.email:
                by_email.setdefault(student.email.strip().lower(), []).append(student.id)
    for row in rows[1:]:
        number = re.search(r"(\d+)\s*$", row[0]) if row else None
        if number is None or len(row) <= email:
            continue
        pid = number.group(1)
        roster.ids[pid] = by_email.get(row[email].strip().lower(), [])
        if name is not None and len(row) > name:
            roster.names[pid] = row[name].strip()
        if when is not None and len(row) > when and (stamp := _time(row[when])) is not None:
            roster.times[pid] = stamp
    return roster
