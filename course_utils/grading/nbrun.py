"""``nbgrader autograde`` and then ``nbgrader generate_feedback``, in one process.

    python -m course_utils.grading.nbrun ASSIGNMENT STUDENT [--feedback]

Both are nbgrader's own command-line applications, run one after the other as the ``nbgrader``
command would run them, in the course folder that is the working directory. One process saves
starting Python and importing nbgrader a second time (about 3.5 s a submission).

Exit status: 0 when all went well, 1 when autograding failed (no feedback is attempted),
`FEEDBACK_FAILED` when autograding worked and the feedback did not.
"""

from __future__ import annotations

import sys

FEEDBACK_FAILED = 3


def nbgrader(argv: list[str]) -> int:
    """Run ``nbgrader ARGV`` in this process; its exit status."""
    from nbgrader.apps import NbGraderApp

    try:
        NbGraderApp.launch_instance(argv)  # what the ``nbgrader`` command runs
        status = 0
    except SystemExit as done:
        status = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        subapp = (
            getattr(NbGraderApp._instance, "subapp", None) if NbGraderApp.initialized() else None
        )
        if subapp is not None:
            type(subapp).clear_instance()
        NbGraderApp.clear_instance()
    return status


def main(argv: list[str] | None = None) -> int:
    """Autograde one student's submission, then make its feedback if asked."""
    args = sys.argv[1:] if argv is None else argv
    feedback = "--feedback" in args
    assignment, student = [a for a in args if a != "--feedback"]
    common = [assignment, "--student", student, "--force"]
    if nbgrader(["autograde", *common]) != 0:
        return 1
    if feedback and nbgrader(["generate_feedback", *common]) != 0:
        return FEEDBACK_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
