"""nbgrader settings for the Fashion-MNIST lab course. Run nbgrader from this folder."""

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "fashion-mnist-lab"

# A student's notebook trains a network: the training cell took 160-200 s for 10 epochs on
# 2 CPU cores (docs/calibration.md), and nbgrader's default of 30 s per cell would kill it.
# 1,800 s leaves room for slower machines; a cell that runs longer is stopped and graded as is.
c.Execute.timeout = 1800
c.Execute.startup_timeout = 120

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

# Late submissions lose 10% of their score per day (or part of one) after the due date set with
# `nbgrader db assignment add ASSIGNMENT --duedate=...`; no due date, no penalty.
c.AssignLatePenalties.plugin_class = "course_utils.grading.late.PercentPerDay"
c.PercentPerDay.percent_per_day = 10.0
