"""The course's late policy, as an nbgrader late-submission plugin.

``nbgrader_config.py`` names it (``c.AssignLatePenalties.plugin_class``), so ``nbgrader
autograde`` and the kit's grader (which runs nbgrader's own ``AssignLatePenalties``) apply it
alike, from the assignment's due date in the gradebook and the submission's ``timestamp.txt``.
"""

from __future__ import annotations

import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

from course_utils.settings import PERCENT_PER_DAY


class PercentPerDay(LateSubmissionPlugin):
    """Take `percent_per_day` of the score for each day, or part of a day, after the due date,
    up to the whole score."""

    percent_per_day = Float(
        PERCENT_PER_DAY.default, help="Percent of the score taken per day late."
    ).tag(config=True)

    def late_submission_penalty(
        self, student_id: str, score: float, total_seconds_late: float
    ) -> float | None:
        """The points taken from `score` for a submission `total_seconds_late` seconds late."""
        if total_seconds_late <= 0:
            return None
        days = math.ceil(total_seconds_late / 86_400)
        penalty: float = min(score, score * self.percent_per_day * days / 100)
        self.log.info(
            "%s: %d day(s) late, %g%% a day: %g of %g points taken",
            student_id,
            days,
            self.percent_per_day,
            penalty,
            score,
        )
        return penalty
