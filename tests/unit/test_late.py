"""`late.PercentPerDay`: a share of the score per day or part of a day late, up to all of it."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from course_utils.grading.late import PercentPerDay

DAY = 86_400


@pytest.mark.parametrize(
    ("seconds_late", "penalty"),
    [
        (1, 1.0),  # a second late is a day late
        (DAY, 1.0),
        (DAY + 1, 2.0),
        (3 * DAY - 1, 3.0),
        (9.5 * DAY, 10.0),  # the whole score
        (30 * DAY, 10.0),  # and never more
    ],
)
def test_ten_percent_per_day_or_part_of_a_day(seconds_late, penalty):
    assert PercentPerDay().late_submission_penalty("ann", 10.0, seconds_late) == pytest.approx(
        penalty
    )


@pytest.mark.parametrize("seconds_late", [0, -1, -DAY])
def test_on_time_is_no_penalty(seconds_late):
    assert PercentPerDay().late_submission_penalty("ann", 10.0, seconds_late) is None


def test_the_rate_is_set_in_the_config():
    config = Config()
    config.PercentPerDay.percent_per_day = 25.0
    plugin = PercentPerDay(config=config)
    assert plugin.percent_per_day == 25.0
    assert plugin.late_submission_penalty("ann", 8.0, 2 * DAY) == pytest.approx(4.0)
    assert plugin.late_submission_penalty("ann", 8.0, 5 * DAY) == pytest.approx(8.0)


def test_a_zero_score_loses_nothing():
    assert PercentPerDay().late_submission_penalty("ann", 0.0, 3 * DAY) == 0.0
