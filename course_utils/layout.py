"""The course folder's layout: every folder and file name the kit reads or writes, defined once.

A course folder is an nbgrader course (``nbgrader_config.py``, ``gradebook.db``, ``source/``,
``release/``, ``submitted/``, ``autograded/``, ``feedback/``) with the kit's own outputs beside:
``grades/`` (CSV files, logs, the class report, the LMS's upload) and ``.course-kit/`` (the
kit's state: kept results, collected copies, the LMS's ids). `CourseFolder` names every path;
modules ask it rather than spelling a folder. This module imports only the standard library.
"""

from __future__ import annotations

from pathlib import Path

CONFIG = "nbgrader_config.py"
GRADEBOOK = "gradebook.db"
SOURCE = "source"
RELEASE = "release"
SUBMITTED = "submitted"
AUTOGRADED = "autograded"
FEEDBACK = "feedback"
GRADES = "grades"  # the kit's: grade CSV files, logs, the class report, the LMS's upload
KIT = ".course-kit"  # the kit's state
#: what grading writes in a course folder (as root, handed back to the course's owner)
OUTPUTS = (GRADEBOOK, AUTOGRADED, FEEDBACK, GRADES, KIT)
#: names that only the instructor's side holds: never in what students get
INSTRUCTOR_ONLY_FOLDERS = (SOURCE, AUTOGRADED, SUBMITTED, FEEDBACK, GRADES)
INSTRUCTOR_ONLY_FILES = (GRADEBOOK, CONFIG, KIT)
#: the students' repository's record of what was published (`course_utils.publishing`)
PUBLISHED_MANIFEST = ".course-kit-published"
#: in each scratch folder of the worker: the kernels' folders and the judges'
SCRATCH_KERNELS = "kernels"
SCRATCH_JUDGES = "judge"


class CourseFolder:
    """The paths of one course folder."""

    def __init__(self, root: Path):
        """`root`: the folder that holds ``nbgrader_config.py``."""
        self.root = Path(root)

    @property
    def config(self) -> Path:
        """nbgrader's settings."""
        return self.root / CONFIG

    @property
    def gradebook(self) -> Path:
        """nbgrader's database."""
        return self.root / GRADEBOOK

    def source(self, assignment: str = "") -> Path:
        """The instructor's notebooks (of `assignment`)."""
        return self.root / SOURCE / assignment if assignment else self.root / SOURCE

    def release(self, assignment: str = "") -> Path:
        """The students' versions (of `assignment`)."""
        return self.root / RELEASE / assignment if assignment else self.root / RELEASE

    def submitted(self, student: str = "", assignment: str = "") -> Path:
        """Submissions: all, a student's, or a student's for `assignment`."""
        return self._by_student(SUBMITTED, student, assignment)

    def autograded(self, student: str = "", assignment: str = "") -> Path:
        """Graded notebooks: all, a student's, or a student's for `assignment`."""
        return self._by_student(AUTOGRADED, student, assignment)

    def feedback(self, student: str = "", assignment: str = "") -> Path:
        """Feedback HTML: all, a student's, or a student's for `assignment`."""
        return self._by_student(FEEDBACK, student, assignment)

    def _by_student(self, folder: str, student: str, assignment: str) -> Path:
        path = self.root / folder
        if student:
            path = path / student
            if assignment:
                path = path / assignment
        return path

    @property
    def grades(self) -> Path:
        """The kit's outputs for people: CSV files, logs, the class report, the LMS's upload."""
        return self.root / GRADES

    def grades_csv(self, assignment: str, kind: str = "") -> Path:
        """``grades/A.csv`` (the grades), or ``grades/A-KIND.csv`` (changes, collected...)."""
        return self.grades / f"{assignment}{'-' + kind if kind else ''}.csv"

    def logs(self, assignment: str) -> Path:
        """nbgrader's logs of the submissions' gradings."""
        return self.grades / "logs" / assignment

    def log(self, assignment: str, student: str) -> Path:
        """nbgrader's log of one submission's grading."""
        return self.logs(assignment) / f"{student}.log"

    def report(self, assignment: str) -> Path:
        """The class report: one HTML file."""
        return self.grades / f"{assignment}-report.html"

    def feedback_zip(self, assignment: str) -> Path:
        """The feedback of a class, as the LMS takes it back."""
        return self.grades / f"{assignment}-feedback.zip"

    @property
    def kit(self) -> Path:
        """The kit's state."""
        return self.root / KIT

    def results(self, assignment: str = "") -> Path:
        """Kept results of submissions graded before (`course_utils.grading.cache`)."""
        return self.kit / "results" / assignment if assignment else self.kit / "results"

    def collected(self, assignment: str, student: str) -> Path:
        """Where a submission replaced by a later LMS download is kept."""
        return self.kit / "collected" / assignment / student

    def lms_record(self, assignment: str) -> Path:
        """What the LMS needs to take the feedback back (ids, names)."""
        return self.kit / "lms" / f"{assignment}.json"

    @property
    def service_db(self) -> Path:
        """The grading service's record of attempts (`course_utils.grading.service_db`)."""
        return self.kit / "service.db"

    def attempts(self, assignment: str, student: str) -> Path:
        """Where the grading service keeps a student's attempts, each in a folder."""
        return self.kit / "attempts" / assignment / student


class ExchangeCourse:
    """The paths of one course in nbgrader's exchange (``<root>/<course id>/``)."""

    def __init__(self, root: Path, course_id: str):
        """`root`: the exchange's root (``c.Exchange.root``); `course_id`: the course's id."""
        self.folder = Path(root) / course_id

    @property
    def inbound(self) -> Path:
        """Where ``nbgrader submit`` puts submissions."""
        return self.folder / "inbound"

    @property
    def outbound(self) -> Path:
        """Where ``nbgrader release_assignment`` puts what students fetch."""
        return self.folder / "outbound"

    @property
    def feedback(self) -> Path:
        """Where released feedback waits for ``nbgrader fetch_feedback``."""
        return self.folder / "feedback"
