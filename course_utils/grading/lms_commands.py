"""The LMS commands: ``python -m course_utils.grade collect`` and ``... handback``.

python -m course_utils.grade collect ASSIGNMENT DOWNLOAD.zip --lms canvas
python -m course_utils.grade collect ASSIGNMENT DOWNLOAD.zip --lms moodle --worksheet W.csv
python -m course_utils.grade handback ASSIGNMENT [--to FEEDBACK.zip]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_utils.layout import CourseFolder


def _parser(command: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m course_utils.grade {command}", description=description
    )
    p.add_argument("assignment")
    p.add_argument("--course", type=Path, default=Path.cwd(), help="course folder (default: here)")
    return p


def _course(args: argparse.Namespace) -> tuple[Path, Path] | None:
    course = args.course.resolve()
    db = CourseFolder(course).gradebook
    if not db.is_file():
        print(f"error: no gradebook in {course}: run it in the course folder", file=sys.stderr)
        return None
    return course, db


def collect_main(argv: list[str]) -> int:
    """Collect an LMS download into ``submitted/``; 0, or 2 when it cannot be read."""
    from course_utils.grading import collect, worksheet

    p = _parser(
        "collect",
        "Collect Canvas's or Moodle's 'download all submissions' zip into submitted/, one "
        "notebook per roster student, and report every file.",
    )
    p.add_argument("download", type=Path, help="the zip the LMS gave")
    p.add_argument("--lms", choices=["canvas", "moodle"], required=True)
    p.add_argument("--worksheet", type=Path, help="Moodle: its grading worksheet (CSV)")
    args = p.parse_args(argv)
    found = _course(args)
    if found is None:
        return 2
    course, db = found
    if not CourseFolder(course).source(args.assignment).is_dir():
        print(f"error: no assignment {args.assignment} in {course / 'source'}", file=sys.stderr)
        return 2
    if not args.download.is_file():
        print(f"error: {args.download} is not a file", file=sys.stderr)
        return 2
    if args.lms == "moodle" and args.worksheet is None:
        print(
            "error: Moodle's participant ids need its grading worksheet: --worksheet FILE.csv "
            "(Moodle: the assignment's grading action 'Download grading worksheet')",
            file=sys.stderr,
        )
        return 2
    try:
        roster = (
            worksheet.canvas(db, args.assignment)
            if args.lms == "canvas"
            else worksheet.moodle(db, args.assignment, args.worksheet)
        )
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    done = collect.collect(course, args.assignment, args.download, args.lms, roster)
    print(collect.table(done))
    path = collect.report(course, args.assignment, done)
    print(f"{len(done.written)} notebook(s) in submitted/; the table is in {path}")
    return 0


def handback_main(argv: list[str]) -> int:
    """Write the LMS's feedback zip; 0, or 2 when there is nothing to hand back."""
    from course_utils.grading.handback import handback

    p = _parser(
        "handback",
        "Write the zip of feedback files that the LMS of the collection takes back (Moodle: "
        "upload multiple feedback files; Canvas: re-upload submissions).",
    )
    p.add_argument("--to", type=Path, help="the zip (default grades/ASSIGNMENT-feedback.zip)")
    args = p.parse_args(argv)
    found = _course(args)
    if found is None:
        return 2
    course, _ = found
    out = args.to or CourseFolder(course).feedback_zip(args.assignment)
    try:
        rows = handback(course, args.assignment, out)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for row in rows:
        print(f"{row.student}: {row.outcome}" + (f" ({row.detail})" if row.detail else ""))
    returned = sum(row.outcome == "returned" for row in rows)
    print(f"{returned} student(s)' feedback in {out}: upload it to the LMS")
    return 0
