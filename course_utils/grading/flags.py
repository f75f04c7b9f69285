"""The flags of how each submission is graded, shared by the grader and the grading service."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_utils import settings as s
from course_utils.grading import require_course_extra
from course_utils.grading.jobs import Limits, parse_size
from course_utils.settings import add_flag

LIMITS: tuple[s.Setting, ...] = (s.SUBMISSION_TIMEOUT, s.CELL_TIMEOUT, s.MEMORY, s.JUDGE_MEMORY)
LIMITS += (s.REQUEST_TIMEOUT, s.THREADS, s.SEED)


def add_grading_flags(p: argparse.ArgumentParser) -> None:
    """The flags of how each submission is graded (the grader's and the service's)."""
    p.add_argument("--course", type=Path, default=Path.cwd(), help="course folder (default: here)")
    add_flag(p, s.WORKERS)
    for setting in LIMITS:
        add_flag(p, setting)
    p.add_argument(
        "--no-isolation",
        action="store_true",
        help="as root, run student code as root too (not recommended)",
    )
    p.add_argument(
        "--no-judge",
        action="store_true",
        help="run test cells in the student's kernel, as plain nbgrader does (forgeable: "
        "for comparison only)",
    )
    add_flag(p, s.EPOCHS)


def limits_from(args: argparse.Namespace) -> Limits:
    """The limits the flags set; the others keep their definitions' defaults.

    Raises:
        ValueError: a flag's value is out of range, with a message that names the flag.
    """
    for setting in (s.EPOCHS, s.THREADS, s.WORKERS):
        value = getattr(args, setting.name)
        if value is not None and value < 1:
            raise ValueError(f"{setting.flag} must be at least 1")
    chosen = {setting.name: getattr(args, setting.name) for setting in LIMITS}
    for setting, least in ((s.MEMORY, 1), (s.JUDGE_MEMORY, 0)):
        text = chosen[setting.name]
        try:
            size = None if text is None else parse_size(text)
        except ValueError:
            size = -1
        if size is not None and size < least:
            raise ValueError(f"{setting.flag} {text!r} is not a size (e.g. 4G, 512M)")
        chosen[setting.name] = size
    return Limits(
        isolate=not args.no_isolation,
        judge=not args.no_judge,
        **{name: value for name, value in chosen.items() if value is not None},
    )


def limits_or_error(args: argparse.Namespace) -> Limits | None:
    """`limits_from`, once the course extra is known to be installed; None after saying, on
    stderr, what is wrong (the commands then exit 2)."""
    try:
        limits = limits_from(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    problem = require_course_extra()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return None
    return limits
