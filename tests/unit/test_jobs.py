"""`jobs`: the limits of one submission, sizes as people write them, jobs and outcomes."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from course_utils.grading import jobs
from course_utils.grading.jobs import Job, Limits, Outcome, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4G", 4 << 30),
        ("4g", 4 << 30),
        (" 512M ", 512 << 20),
        ("1.5GiB", 3 << 29),
        ("2KB", 2048),
        ("1T", 1 << 40),
        ("1000", 1000),
        ("0", 0),
    ],
)
def test_sizes_as_people_write_them(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "lots", "4X", "1.5", "four G"])
def test_what_is_no_size_is_refused(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_the_default_limits_and_how_they_read():
    limits = Limits()
    assert limits.memory == 4 << 30 and limits.memory_text == "4 GiB"
    assert limits.judge_budget == limits.memory  # no judge memory of its own: as much
    assert limits.judge_memory_text == "4 GiB"
    assert limits.outcome_settings == "seed=2024 threads=1"
    half = Limits(memory=1 << 30, judge_memory=1 << 29, seed=7, threads=2)
    assert (half.memory_text, half.judge_budget, half.judge_memory_text) == (
        "1 GiB",
        1 << 29,
        "0.5 GiB",
    )
    assert half.outcome_settings == "seed=7 threads=2"


def test_limits_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Limits().memory = 1  # type: ignore[misc]


def test_a_job_and_its_outcome_travel_as_bytes():
    job = Job("lab", "ann", "c = 1", b"db", b"tar", b"files", "digest", Limits(), epochs=2)
    assert job.feedback is True and job.cell_order == {}
    assert pickle.loads(pickle.dumps(job)) == job
    outcome = Outcome("ann", "digest", True, "graded")
    assert (outcome.rows, outcome.autograded, outcome.copy_of, outcome.judge_peak) == (
        {},
        b"",
        "",
        0,
    )
    assert pickle.loads(pickle.dumps(outcome)) == outcome
    assert Outcome("a", "d", True, "m").rows is not Outcome("b", "d", True, "m").rows


def test_the_submission_tables_are_parents_first():
    assert jobs.SUBMISSION_TABLES == (
        "submitted_assignment",
        "submitted_notebook",
        "grade",
        "comment",
    )
    assert issubclass(jobs.GradingError, RuntimeError)
