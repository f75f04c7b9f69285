"""The command line: ``python -m course_utils.grade ASSIGNMENT`` (also ``-m course_utils.grading``).

python -m course_utils.grade lab3_part2            # in the course folder
python -m course_utils.grade lab3_part2 --workers 4 --csv grades.csv
python -m course_utils.grade lab3_part2 --dask tls://scheduler:8786
python -m course_utils.grade collect lab3_part2 download.zip --lms canvas   # from the LMS
python -m course_utils.grade handback lab3_part2                           # back to it
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_utils.grading import require_course_extra
from course_utils.grading.jobs import GradingError, Limits, parse_size


def parser() -> argparse.ArgumentParser:
    """The grader's arguments."""
    p = argparse.ArgumentParser(
        prog="python -m course_utils.grade",
        description="Autograde every submission of an assignment with nbgrader, in parallel.",
    )
    p.add_argument("assignment")
    p.add_argument("--course", type=Path, default=Path.cwd(), help="course folder (default: here)")
    p.add_argument(
        "--workers", type=int, default=None, help="parallel submissions (default: one per core)"
    )
    p.add_argument(
        "--student", action="append", dest="students", help="grade only this student (repeatable)"
    )
    p.add_argument("--force", action="store_true", help="regrade submissions already graded")
    p.add_argument(
        "--timeout",
        type=int,
        default=Limits.submission_timeout,
        help="seconds a whole notebook may run (default %(default)s)",
    )
    p.add_argument(
        "--cell-timeout",
        type=int,
        default=Limits.cell_timeout,
        help="seconds one cell may run (default %(default)s)",
    )
    p.add_argument("--memory", default="4G", help="kernel data-memory limit (default %(default)s)")
    p.add_argument(
        "--judge-memory",
        help="the judge's own memory budget, apart from the kernel's (default: as --memory)",
    )
    p.add_argument(
        "--request-timeout",
        type=int,
        default=Limits.request_timeout,
        help="seconds the judge waits for the student's kernel to give a value or return from "
        "a call (default %(default)s)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=Limits.threads,
        help="TensorFlow threads per kernel, whatever the workers and cores (default "
        "%(default)s): a network trains to the same weights only with the same thread count",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=Limits.seed,
        help="seed of Python's, NumPy's and Keras's random numbers, set in every kernel before "
        "the notebook's first cell (default %(default)s)",
    )
    p.add_argument(
        "--no-isolation",
        action="store_true",
        help="as root, run student code as root too (not recommended)",
    )
    p.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")
    p.add_argument(
        "--no-judge",
        action="store_true",
        help="run test cells in the student's kernel, as plain nbgrader does (forgeable: "
        "for comparison only)",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="grade on a dask.distributed scheduler (or 'local' for a LocalCluster)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        help="grading length: train for this many epochs (LAB_EPOCHS in the kernel; default: "
        "the notebook's own length). Recorded per submission in the gradebook and the CSV. "
        "docs/calibration.md says which lengths keep every score",
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
        from course_utils.grading.report import main as report

        return report(argv[1:])
    if argv[:1] in (["collect"], ["handback"]):  # the LMS's download, and its upload
        from course_utils.grading import lms_commands

        run = lms_commands.collect_main if argv[0] == "collect" else lms_commands.handback_main
        return run(argv[1:])
    args = parser().parse_args(argv)
    for flag, value in (("--epochs", args.epochs), ("--threads", args.threads)):
        if value is not None and value < 1:
            print(f"error: {flag} must be at least 1", file=sys.stderr)
            return 2
    problem = require_course_extra()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from course_utils.grading.coordinator import grade_class
    from course_utils.grading.isolation import hand_back

    sizes = {}
    for flag, text in (("--memory", args.memory), ("--judge-memory", args.judge_memory or "0")):
        try:
            sizes[flag] = parse_size(text)
        except ValueError:
            print(f"error: {flag} {text!r} is not a size (e.g. 4G, 512M)", file=sys.stderr)
            return 2
    limits = Limits(
        submission_timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        memory=sizes["--memory"],
        isolate=not args.no_isolation,
        judge=not args.no_judge,
        threads=args.threads,
        seed=args.seed,
        judge_memory=sizes["--judge-memory"],
        request_timeout=args.request_timeout,
    )
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
