"""The nbgrader preprocessors the kit adds, one per module (as nbgrader keeps its own).

- `GuardedExecute` (``guarded_execute.py``): nbgrader's `Execute`, bounded in time and
  output, and graded past a dead kernel. The grader puts it in place of `Execute`.
- `HideHiddenTests` (``hide_hidden_tests.py``): removes the hidden tests from a notebook before
  it becomes feedback. The course's ``nbgrader_config.py`` names it.
"""

from course_utils.grading.preprocessors.guarded_execute import GuardedExecute
from course_utils.grading.preprocessors.hide_hidden_tests import HideHiddenTests

__all__ = ["GuardedExecute", "HideHiddenTests"]
