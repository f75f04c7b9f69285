"""Grades out of the gradebook, for a learning platform: nbgrader export plugins.

    nbgrader db student import roster.csv        # id, first_name, last_name, email, lms_user_id
    nbgrader export --exporter course_utils.grading.export.CanvasExport --to canvas.csv
    nbgrader export --exporter course_utils.grading.export.MoodleExport --to moodle.csv
    nbgrader export --exporter course_utils.grading.export.LongExport --to long.csv

They read the gradebook through nbgrader's API, so scores are the ones nbgrader reports:
automatic and manual grades (the formgrader's) with late penalties applied. A student with a
submission but no roster entry (no email or platform id), and a roster student with no
submission, are reported in nbgrader's log and kept in the file (no grade where none exists).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TYPE_CHECKING

from nbgrader.api import Assignment, Gradebook, MissingEntry, Student, SubmittedAssignment
from nbgrader.plugins import ExportPlugin

if TYPE_CHECKING:
    from _csv import Writer


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def total(submission: SubmittedAssignment | None) -> str:
    """A submission's score after its late penalty, as nbgrader's own CSV export gives it."""
    if submission is None:
        return ""
    return _number(max(0.0, submission.score - (submission.late_submission_penalty or 0.0)))


class _Export(ExportPlugin):
    """What every export shares: the students and assignments asked for, and the report."""

    default_file = "grades.csv"

    def _assignments(self, gradebook: Gradebook) -> list[Assignment]:
        wanted = {str(a) for a in self.assignment}
        return [a for a in gradebook.assignments if not wanted or a.name in wanted]

    def _students(self, gradebook: Gradebook) -> list[Student]:
        wanted = {str(s) for s in self.student}
        return [s for s in gradebook.students if not wanted or s.id in wanted]

    def _scores(
        self, gradebook: Gradebook
    ) -> Iterator[tuple[Student, Assignment, SubmittedAssignment | None]]:
        """(student, assignment, submission or None) for every pair; gaps are reported."""
        assignments = self._assignments(gradebook)
        for student in self._students(gradebook):
            if not (student.email or student.lms_user_id):
                self.log.warning(
                    "%s has no email or LMS id in the roster (nbgrader db student import)",
                    student.id,
                )
            for assignment in assignments:
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    submission = None
                    self.log.warning("%s has no submission of %s", student.id, assignment.name)
                yield student, assignment, submission

    def export(self, gradebook: Gradebook) -> None:
        """Write the file named by ``--to`` (default `default_file`)."""
        dest = self.to or self.default_file
        self.log.info("Exporting grades to %s", dest)
        with open(dest, "w", newline="") as f:
            self.write(csv.writer(f), gradebook)

    def write(self, writer: Writer, gradebook: Gradebook) -> None:
        """Write the rows."""
        raise NotImplementedError


class CanvasExport(_Export):
    """A Canvas gradebook CSV: Canvas's five leading columns, then one column per assignment.

    ``ID`` is the student's ``lms_user_id`` (Canvas's user id), ``SIS Login ID`` the email;
    the second row gives each assignment's points possible, as Canvas's own export does.
    """

    default_file = "canvas.csv"

    def write(self, writer: Writer, gradebook: Gradebook) -> None:
        """Header, points possible, one row per student."""
        assignments = self._assignments(gradebook)
        writer.writerow(
            ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
            + [a.name for a in assignments]
        )
        writer.writerow(
            ["Points Possible", "", "", "", ""] + [_number(a.max_score) for a in assignments]
        )
        rows: dict[str, list[str]] = {}
        for student, _assignment, submission in self._scores(gradebook):
            row = rows.setdefault(
                student.id,
                [
                    f"{student.last_name or ''}, {student.first_name or ''}".strip(", ")
                    or student.id,
                    student.lms_user_id or "",
                    student.id,
                    student.email or "",
                    "",
                ],
            )
            row.append(total(submission))
        writer.writerows(rows.values())


class MoodleExport(_Export):
    """A Moodle grade import CSV: identified by email address, one column per assignment."""

    default_file = "moodle.csv"

    def write(self, writer: Writer, gradebook: Gradebook) -> None:
        """Header, one row per student."""
        assignments = self._assignments(gradebook)
        writer.writerow(
            ["First name", "Last name", "ID number", "Email address"]
            + [a.name for a in assignments]
        )
        rows: dict[str, list[str]] = {}
        for student, _assignment, submission in self._scores(gradebook):
            row = rows.setdefault(
                student.id,
                [
                    student.first_name or "",
                    student.last_name or "",
                    student.id,
                    student.email or "",
                ],
            )
            row.append(total(submission))
        writer.writerows(rows.values())


class LongExport(_Export):
    """One row per student, assignment and graded cell: score and maximum."""

    default_file = "grades-long.csv"

    def write(self, writer: Writer, gradebook: Gradebook) -> None:
        """Header, then every graded cell of every submission, and its late penalty as a
        negative score (one empty row for no submission)."""
        writer.writerow(["student", "assignment", "notebook", "test", "score", "max_score"])
        for student, assignment, submission in self._scores(gradebook):
            if submission is None:
                writer.writerow([student.id, assignment.name, "", "", "", ""])
                continue
            for notebook in submission.notebooks:
                for grade in sorted(notebook.grades, key=lambda g: g.name):
                    writer.writerow(
                        [
                            student.id,
                            assignment.name,
                            notebook.name,
                            grade.name,
                            _number(grade.score),
                            _number(grade.max_score),
                        ]
                    )
                if notebook.late_submission_penalty:
                    writer.writerow(
                        [
                            student.id,
                            assignment.name,
                            notebook.name,
                            "late penalty",
                            _number(-notebook.late_submission_penalty),
                            "",
                        ]
                    )
