"""The command line: ``python -m course_utils.grade ASSIGNMENT`` (also ``-m course_utils.grading``).

python -m course_utils.grade lab3_part2            # in the course folder
python -m course_utils.grade lab3_part2 --workers 4 --csv grades.csv
python -m course_utils.grade lab3_part2 --dask local --workers 2   # a local Dask cluster (TLS)
python -m course_utils.grade collect lab3_part2 download.zip --lms canvas   # from the LMS
python -m course_utils.grade handback lab3_part2                           # back to it
python -m course_utils.grade serve          # feedback on submit through nbgrader's exchange
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_utils.grading.flags import add_grading_flags, limits_or_error
from course_utils.grading.jobs import GradingError


def parser() -> argparse.ArgumentParser:
    """The grader's arguments."""
    p = argparse.ArgumentParser(
        prog="python -m course_utils.grade",
        description="Autograde every submission of an assignment with nbgrader, in parallel. "
        "Also: report, collect, handback, serve (python -m course_utils.grade serve --help).",
    )
    p.add_argument("assignment")
    add_grading_flags(p)
    p.add_argument(
        "--student", action="append", dest="students", help="grade only this student (repeatable)"
    )
    p.add_argument("--force", action="store_true", help="regrade submissions already graded")
    p.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="grade on a dask.distributed scheduler: tls://HOST:PORT (with certificates), or "
        "'local' for a cluster of local processes",
    )
    p.add_argument(
        "--csv", type=Path, help="where to write the grades (default grades/ASSIGNMENT.csv)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Grade a class from the command line.

    Returns:
        0 when every submission was graded, 1 when some failed, 2 when the class could not be
        graded as asked, 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:  # `python -m course_utils.grade report ASSIGNMENT`
        from course_utils.grading.report import main as report_main

        return report_main(argv[1:])
    if argv[:1] in (["collect"], ["handback"]):  # the LMS's download, and its upload
        from course_utils.grading import lms_commands

        run = lms_commands.collect_main if argv[0] == "collect" else lms_commands.handback_main
        return run(argv[1:])
    if argv[:1] == ["serve"]:  # feedback on submit, through nbgrader's exchange
        from course_utils.grading.service_command import main as serve_main

        return serve_main(argv[1:])
    args = parser().parse_args(argv)
    limits = limits_or_error(args)
    if limits is None:
        return 2
    from course_utils.grading.coordinator import grade_class
    from course_utils.grading.isolation import hand_back

    try:
        report = grade_class(
            args.course,
            args.assignment,
            workers=args.workers,
            limits=limits,
            students=args.students,
            force=args.force,
            feedback=not args.no_feedback,
            dask=args.dask,
            epochs=args.epochs,
            csv_path=args.csv,
        )
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: submissions graded so far are saved; run again to grade the rest",
            file=sys.stderr,
        )
        return 130
    finally:
        hand_back(args.course.resolve())  # as root: the outputs to the course's owner
    return 1 if report.failed else 0
