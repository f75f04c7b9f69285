"""`flags`: the grading flags shared by the grader and the service, and the limits they set."""

from __future__ import annotations

import argparse

import pytest

from course_utils.grading.flags import add_grading_flags, limits_from
from course_utils.grading.jobs import Limits
from course_utils.settings import GiB, MiB


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_grading_flags(p)
    return p.parse_args(argv)


def test_no_flags_are_the_default_limits():
    assert limits_from(parse()) == Limits()


def test_only_the_flags_given_change_the_limits():
    limits = limits_from(
        parse("--memory", "512M", "--threads", "2", "--timeout", "60", "--judge-memory", "1G")
    )
    assert limits == Limits(memory=512 * MiB, threads=2, submission_timeout=60, judge_memory=GiB)
    assert limits.cell_timeout == Limits().cell_timeout and limits.seed == Limits().seed


def test_every_limit_flag_reaches_its_limit():
    limits = limits_from(
        parse(
            "--cell-timeout",
            "30",
            "--request-timeout",
            "40",
            "--seed",
            "7",
            "--memory",
            "1.5G",
        )
    )
    assert (limits.cell_timeout, limits.request_timeout, limits.seed) == (30, 40, 7)
    assert limits.memory == int(1.5 * GiB)


def test_isolation_and_the_judge_are_on_unless_turned_off():
    assert (Limits().isolate, Limits().judge) == (True, True)
    limits = limits_from(parse("--no-isolation", "--no-judge"))
    assert limits == Limits(isolate=False, judge=False)


def test_workers_and_epochs_are_not_limits():
    args = parse("--workers", "3", "--epochs", "2")
    assert (args.workers, args.epochs) == (3, 2)
    assert limits_from(args) == Limits()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--threads", "0"), "--threads must be at least 1"),
        (("--epochs", "-1"), "--epochs must be at least 1"),
        (("--workers", "0"), "--workers must be at least 1"),
        (("--memory", "lots"), "--memory 'lots' is not a size (e.g. 4G, 512M)"),
        (("--judge-memory", ""), "--judge-memory '' is not a size"),
    ],
)
def test_values_out_of_range_are_refused_naming_the_flag(argv, message):
    with pytest.raises(ValueError) as error:
        limits_from(parse(*argv))
    assert message in str(error.value)
