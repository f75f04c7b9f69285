"""`attempts`: the policies nbgrader's config sets, and which attempt is graded and counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from traitlets.config import Config

from course_utils import settings
from course_utils.grading.attempts import Policy, counted, decide, policies

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 12, 10, 23, 59, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_an_empty_entry_keeps_the_settings_defaults():
    assert Policy.from_config({}) == Policy(
        settings.MAX_ATTEMPTS.default,
        settings.MIN_INTERVAL.default,
        settings.COUNTS.default,
        settings.LATE.default,
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"max_attempt": 3}, "unknown attempt settings ['max_attempt']"),
        ({"max_attempts": 0}, "max_attempts is a whole number of at least 1"),
        ({"max_attempts": -2}, "max_attempts is a whole number of at least 1"),
        ({"max_attempts": 2.5}, "max_attempts is a whole number of at least 1"),
        ({"min_interval": -1}, "min_interval is a number of seconds, at least 0"),
        ({"min_interval": "15m"}, "min_interval is a number of seconds, at least 0"),
        ({"counts": "first"}, "counts is one of ('last', 'best')"),
        ({"late": "drop"}, "late is one of ('grade', 'hold')"),
        (["max_attempts", 3], "an assignment's attempt policy is a dict"),
    ],
)
def test_an_entry_out_of_range_is_refused_with_what_is_allowed(table, message):
    with pytest.raises(ValueError) as error:
        Policy.from_config(table)
    assert message in str(error.value)


def test_policies_come_from_the_config_per_assignment():
    c = Config()
    c.AttemptPolicy.assignments = {
        "lab1": {"max_attempts": 3, "min_interval": 900, "counts": "best", "late": "hold"},
        "lab2": {"counts": "best"},
    }
    found = policies(c)
    assert found == {
        "lab1": Policy(max_attempts=3, min_interval=900, counts="best", late="hold"),
        "lab2": Policy(counts="best"),
    }


def test_no_attempt_policy_in_the_config_is_no_policy():
    assert policies(Config()) == {}


def test_a_bad_entry_in_the_config_names_its_assignment():
    c = Config()
    c.AttemptPolicy.assignments = {"lab1": {"max_attempts": 0}}
    with pytest.raises(ValueError, match=r"c\.AttemptPolicy\.assignments\['lab1'\]: max_att"):
        policies(c)


def test_assignments_that_are_not_a_dict_are_refused():
    c = Config()
    c.AttemptPolicy.assignments = ["lab1"]
    with pytest.raises(ValueError, match="is a dict of assignment: policy"):
        policies(c)


@pytest.mark.parametrize(
    "policy",
    [
        Policy(),
        Policy(max_attempts=1, min_interval=3600, counts="best", late="hold"),
    ],
)
def test_the_first_attempt_is_always_graded(policy):
    choice = decide(policy, [], at(0), DUE)
    assert (choice.grade, choice.number, choice.reason, choice.next_at) == (True, 1, "", None)
    assert not choice.late


def test_an_attempt_over_the_limit_is_refused():
    policy = Policy(max_attempts=2)
    assert decide(policy, [at(0)], at(5), None).grade
    choice = decide(policy, [at(0), at(5)], at(10), None)
    assert (choice.grade, choice.number) == (False, 3)
    assert choice.reason == "you have used all 2 graded attempts of this assignment"
    assert choice.next_at is None


def test_no_limit_grades_every_attempt():
    assert decide(Policy(), [at(i) for i in range(50)], at(60), None).number == 51


def test_an_attempt_too_soon_says_exactly_when_the_next_can_be():
    policy = Policy(min_interval=900)
    choice = decide(policy, [at(0), at(30)], at(44), None)
    assert (choice.grade, choice.number) == (False, 3)
    assert choice.next_at == at(45)  # from the latest graded attempt
    assert choice.reason == "graded attempts must be at least 15 minute(s) apart"
    assert decide(policy, [at(0), at(30)], at(45), None).grade  # from then on, graded


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(7200, "2 hour(s)"), (120, "2 minute(s)"), (90, "90 second(s)"), (0.5, "0.5 second(s)")],
)
def test_the_interval_is_said_in_its_largest_whole_unit(seconds, text):
    choice = decide(Policy(min_interval=seconds), [T0], T0 + timedelta(seconds=0.25), None)
    assert choice.reason.endswith(f"at least {text} apart")
    assert not choice.grade


def test_a_late_attempt_is_held_for_the_instructor_when_the_policy_holds():
    choice = decide(Policy(late="hold"), [], DUE + timedelta(seconds=1), DUE)
    assert (choice.grade, choice.late, choice.number) == (False, True, 1)
    assert "after the due date" in choice.reason and "instructor" in choice.reason


def test_a_late_attempt_is_graded_and_marked_late_when_the_policy_grades():
    choice = decide(Policy(late="grade"), [], DUE + timedelta(seconds=1), DUE)
    assert (choice.grade, choice.late) == (True, True)


def test_an_attempt_on_the_due_date_itself_is_not_late():
    assert decide(Policy(late="hold"), [], DUE, DUE) == decide(Policy(), [], DUE, None)


def test_a_late_attempt_over_the_limit_is_still_refused_and_marked_late():
    choice = decide(Policy(max_attempts=1), [at(0)], DUE + timedelta(days=1), DUE)
    assert (choice.grade, choice.late) == (False, True)
    assert "used all 1 graded attempts" in choice.reason


def test_counted_last_is_the_last_graded():
    assert counted(Policy(counts="last"), [(1, 9.0), (2, 3.0), (3, 5.0)]) == 3


def test_counted_best_is_the_best_and_a_tie_keeps_the_earliest():
    policy = Policy(counts="best")
    assert counted(policy, [(1, 3.0), (2, 9.0), (3, 5.0)]) == 2
    assert counted(policy, [(1, 7.0), (2, 9.0), (3, 9.0), (4, 9.0)]) == 2
    assert counted(policy, [(1, 0.0), (2, 0.0)]) == 1


@pytest.mark.parametrize("counts", ["last", "best"])
def test_nothing_graded_counts_nothing(counts):
    assert counted(Policy(counts=counts), []) is None
