"""nbgrader settings for the Fashion-MNIST lab course. Run nbgrader from this folder."""

from course_utils import settings

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "fashion-mnist-lab"

# A student's notebook trains a network: the training cell took 160-200 s for 10 epochs on
# 2 CPU cores (docs/calibration.md), and nbgrader's default of 30 s per cell would kill it.
# The kit's limit (course_utils/settings.py, docs/settings.md) leaves room for slower machines;
# a cell that runs longer is stopped and graded as is. Set a number here to change it for
# nbgrader run by hand; the kit's grader takes its --cell-timeout flag.
c.Execute.timeout = settings.CELL_TIMEOUT.default
c.Execute.startup_timeout = settings.STARTUP_TIMEOUT.default

# A test cell a student deleted is put back when the notebook is graded.
c.OverwriteCells.add_missing_cells = True

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Feedback shows each test's result and message but not the hidden tests: their lines are
# removed from the test cells and from every output
# (course_utils/grading/preprocessors/hide_hidden_tests.py).
c.GenerateFeedback.preprocessors = [
    "course_utils.grading.preprocessors.hide_hidden_tests.HideHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Late submissions lose a percentage of their score per day (or part of one) after the due date
# set with `nbgrader db assignment add ASSIGNMENT --duedate=...`; no due date, no penalty. The
# kit's default is in docs/settings.md; set a number here to change it.
c.AssignLatePenalties.plugin_class = "course_utils.grading.late.PercentPerDay"
c.PercentPerDay.percent_per_day = settings.PERCENT_PER_DAY.default
