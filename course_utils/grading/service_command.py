"""``python -m course_utils.grade serve``: the grading service's command line."""

from __future__ import annotations

import argparse
import signal
import sys

from course_utils import settings as s
from course_utils.grading.flags import add_grading_flags, limits_or_error
from course_utils.grading.jobs import GradingError
from course_utils.settings import add_flag


def parser() -> argparse.ArgumentParser:
    """The service's arguments."""
    p = argparse.ArgumentParser(
        prog="python -m course_utils.grade serve",
        description="Grade each submission handed in through nbgrader's exchange as it comes, "
        "within the attempts each assignment allows (c.AttemptPolicy.assignments in "
        "nbgrader_config.py), and release its feedback for nbgrader fetch_feedback.",
    )
    add_grading_flags(p)
    add_flag(p, s.POLL, type=float)
    p.add_argument(
        "--once", action="store_true", help="handle what is in the exchange now, then stop"
    )
    return p


def main(argv: list[str]) -> int:
    """Run the service until stopped (SIGTERM or Ctrl-C: it resumes on its next start).

    Returns:
        0 when stopped, 2 when the course or its exchange cannot be served.
    """
    args = parser().parse_args(argv)
    if args.poll is not None and not 0 < args.poll < float("inf"):
        print("error: --poll must be more than 0", file=sys.stderr)
        return 2
    limits = limits_or_error(args)
    if limits is None:
        return 2
    from course_utils.grading.service import Service

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop as Ctrl-C does
    try:
        service = Service(
            args.course,
            limits=limits,
            workers=args.workers,
            epochs=args.epochs,
            log=lambda line: print(line, flush=True),
        )
        print(f"serving {service.inbound} for {args.course.resolve()}", flush=True)
        service.run(once=args.once, poll=args.poll or s.POLL.default)
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped: the next start resumes where this one was", file=sys.stderr)
    return 0
