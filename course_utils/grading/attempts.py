"""How many graded attempts a student has, how often, what counts, and what a late one gets.

Set per assignment in ``nbgrader_config.py``, for the grading service
(``python -m course_utils.grade serve``)::

    c.AttemptPolicy.assignments = {
        "lab3_part2": {"max_attempts": 3, "min_interval": 900, "counts": "best", "late": "hold"},
    }

Keys left out keep the defaults of `course_utils.settings` (``docs/settings.md``). `decide`
says, from the attempts graded before, whether a new one is graded now, and if not, why and
when the next one can be. Times are the service's (when the submission was complete in the
exchange), never a time the student's files claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from course_utils import settings

COUNTS = ("last", "best")
LATE = ("grade", "hold")


@dataclass(frozen=True)
class Policy:
    """One assignment's attempt policy."""

    max_attempts: int | None = settings.MAX_ATTEMPTS.default
    min_interval: float = settings.MIN_INTERVAL.default  # seconds between graded attempts
    counts: str = settings.COUNTS.default  # "last" or "best"
    late: str = settings.LATE.default  # "grade" (the late policy applies) or "hold"

    @classmethod
    def from_config(cls, table: Any) -> Policy:
        """The policy a ``c.AttemptPolicy.assignments`` entry sets.

        Raises:
            ValueError: an unknown key, or a value out of range, with what is allowed.
        """
        if not isinstance(table, dict):
            raise ValueError("an assignment's attempt policy is a dict")
        unknown = set(table) - {"max_attempts", "min_interval", "counts", "late"}
        if unknown:
            raise ValueError(f"unknown attempt settings {sorted(unknown)}")
        policy = cls(**table)
        if isinstance(policy.max_attempts, bool) or isinstance(policy.min_interval, bool):
            raise ValueError("max_attempts and min_interval are numbers, not True or False")
        if policy.max_attempts is not None and (
            not isinstance(policy.max_attempts, int) or policy.max_attempts < 1
        ):
            raise ValueError("max_attempts is a whole number of at least 1, or None")
        if not isinstance(policy.min_interval, int | float) or policy.min_interval < 0:
            raise ValueError("min_interval is a number of seconds, at least 0")
        if policy.counts not in COUNTS:
            raise ValueError(f"counts is one of {COUNTS}")
        if policy.late not in LATE:
            raise ValueError(f"late is one of {LATE}")
        return policy


def policies(config: Any) -> dict[str, Policy]:
    """Each assignment's policy from nbgrader's loaded config (``c.AttemptPolicy``)."""
    section = config.get("AttemptPolicy", {}) if hasattr(config, "get") else {}
    table = section.get("assignments", {}) if hasattr(section, "get") else {}
    if not isinstance(table, dict):
        raise ValueError("c.AttemptPolicy.assignments is a dict of assignment: policy")
    found = {}
    for name, entry in table.items():
        try:
            found[str(name)] = Policy.from_config(dict(entry) if hasattr(entry, "items") else entry)
        except (TypeError, ValueError) as error:
            raise ValueError(f"c.AttemptPolicy.assignments[{name!r}]: {error}") from None
    return found


@dataclass(frozen=True)
class Decision:
    """Whether an attempt is graded now; if not, why, and when the next one can be."""

    grade: bool
    number: int  # the attempt's number among the graded ones (1 for the first)
    reason: str = ""
    next_at: datetime | None = None
    late: bool = False


def decide(
    policy: Policy,
    graded: list[datetime],
    received: datetime,
    due: datetime | None,
) -> Decision:
    """Whether the attempt `received` is graded, given when earlier graded attempts came.

    Args:
        policy: the assignment's policy.
        graded: when each attempt graded so far was received, oldest first.
        received: when this attempt was complete in the exchange.
        due: the assignment's due date (None: none).
    """
    number = len(graded) + 1
    late = due is not None and received > due
    if late and policy.late == "hold":
        return Decision(
            False,
            number,
            "it came after the due date: it is kept for the "
            "instructor, who decides whether it is graded",
            late=True,
        )
    if policy.max_attempts is not None and len(graded) >= policy.max_attempts:
        return Decision(
            False,
            number,
            f"you have used all {policy.max_attempts} graded attempts of this assignment",
            late=late,
        )
    if graded and policy.min_interval:
        next_at = graded[-1] + timedelta(seconds=policy.min_interval)
        if received < next_at:
            return Decision(
                False,
                number,
                f"graded attempts must be at least {_duration(policy.min_interval)} apart",
                next_at=next_at,
                late=late,
            )
    return Decision(True, number, late=late)


def counted(policy: Policy, scores: list[tuple[int, float]]) -> int | None:
    """Which graded attempt counts for the grade: its number, from (number, score) pairs."""
    if not scores:
        return None
    if policy.counts == "best":  # the earliest of the best, so that a tie changes nothing
        return max(scores, key=lambda pair: (pair[1], -pair[0]))[0]
    return scores[-1][0]


def _duration(seconds: float) -> str:
    for unit, size in (("hour", timedelta(hours=1)), ("minute", timedelta(minutes=1))):
        if seconds % size.total_seconds() == 0:
            return f"{seconds / size.total_seconds():g} {unit}(s)"
    return f"{seconds:g} second(s)"
