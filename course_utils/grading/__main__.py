"""``python -m course_utils.grading ASSIGNMENT``: the same as ``python -m course_utils.grade``."""

import sys

from course_utils.grading.cli import main

sys.exit(main())
