"""The nbgrader preprocessors the kit adds, one per module (as nbgrader keeps its own).

- `GuardedExecute` (``guarded_execute.py``): nbgrader's `Execute`, bounded in time and
  output, and graded past a dead kernel. The grader puts it in place of `Execute`.
- `JudgedExecute` (``judged_execute.py``): `GuardedExecute` with the test cells run in a judge
  process (`course_utils.grading.judge`) apart from the student's kernel. The grader puts it in
  place of `Execute`.
- `RestoreTests` (``restore_tests.py``): every test cell from the gradebook, in the instructor's
  place (deleted, moved or re-tagged ones too). The grader puts it before `OverwriteCells`.
- `HideHiddenTests` (``hide_hidden_tests.py``): removes the hidden tests from a notebook before
  it becomes feedback. The course's ``nbgrader_config.py`` names it.
"""

from course_utils.grading.preprocessors.guarded_execute import GuardedExecute
from course_utils.grading.preprocessors.hide_hidden_tests import HideHiddenTests
from course_utils.grading.preprocessors.judged_execute import JudgedExecute
from course_utils.grading.preprocessors.restore_tests import RestoreTests

__all__ = ["GuardedExecute", "HideHiddenTests", "JudgedExecute", "RestoreTests"]
