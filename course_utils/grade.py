"""``python -m course_utils.grade ASSIGNMENT``: grade a class (see `course_utils.grading`)."""

import sys

if __name__ == "__main__":
    # Run the package's main, so that jobs refer to `course_utils.grading.worker`, not
    # `__main__` (Dask workers import them by name).
    from course_utils.grading.cli import main

    sys.exit(main())
