"""Grading one submission: the real ``nbgrader autograde`` (and ``generate_feedback``, in the
same process: `course_utils.grading.nbrun`) in a scratch copy of the course.

The scratch course holds the course's config (with the kit's settings added by `kit_config`),
a gradebook holding only this student, the submission, and the assignment's non-notebook
files. The kernel starts through `course_utils.grading.sandbox`. After nbgrader, the worker
reads back this student's gradebook rows and packs the autograded and feedback folders: the
`Outcome` is all that leaves the worker, and the scratch folder is removed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from course_utils.environment import tool_env
from course_utils.grading import cgroups, cores, judge_servers, nbrun_server
from course_utils.grading.archive import TooLarge, tar_folder, untar
from course_utils.grading.gradebook import submission_rows
from course_utils.grading.isolation import (
    free_uid,
    kill_user,
    sandbox_problem,
    staged_data,
    unmount_below,
)
from course_utils.grading.jobs import Job, Limits, Outcome, failure_reason
from course_utils.grading.nbrun import FEEDBACK_FAILED
from course_utils.grading.process import tail
from course_utils.grading.sandbox import MAX_PROCESSES, Settings, kernel_spec
from course_utils.layout import SCRATCH_JUDGES, SCRATCH_KERNELS, CourseFolder
from course_utils.settings import EPOCHS, FEEDBACK_TIMEOUT, GRACE, MiB

GRACE_SECONDS = GRACE.default
FEEDBACK_SECONDS = FEEDBACK_TIMEOUT.default
MAX_RETURNED_FILE = 50 * MiB
#: NumPy's advice to back large arrays with huge pages, in the kernels (0: off), unless the
#: grader's environment sets NUMPY_MADVISE_HUGEPAGE. Where the kernel compacts memory to find
#: a huge page at the first touch (transparent huge pages on "madvise"), each new array of
#: the training images cost about a second of system time: off, a graded reference takes
#: about 15 % less CPU (docs/performance.md).
HUGE_PAGES = "0"


def dotted(cls: type) -> str:
    """The import path nbgrader's config uses for a class."""
    return f"{cls.__module__}.{cls.__qualname__}"


def kit_config(
    course: Path,
    limits: Limits,
    *,
    root: Path,
    order: dict[str, list[str]],
    judge: dict[str, str] | None = None,
    cores: str = "",
) -> str:
    """The nbgrader settings the grader appends to the course's own config.

    nbgrader's autograde preprocessors, with `JudgedExecute` in place of `Execute` (the test
    cells in a judge, unless ``limits.judge`` is off) and `RestoreTests` in place of
    ``add_missing_cells``, and `HideHiddenTests` first among the feedback preprocessors.

    Args:
        course: the scratch course folder.
        limits: the submission's limits.
        root: the scratch folder, where the kernel's working folder and the judge's go.
        order: each notebook's grade ids in the instructor's order.
        judge: the sandbox launcher's settings for the judge (`Settings.for_kernel`).
        cores: the grading process's folder of cores (`cores.folder`); empty: no limit.

    Returns:
        Python source for ``nbgrader_config.py``.
    """
    from nbgrader.converters import Autograde, GenerateFeedback
    from nbgrader.preprocessors import Execute, OverwriteCells

    from course_utils.grading.preprocessors import HideHiddenTests, JudgedExecute, RestoreTests

    def name(cls: type | str) -> str:
        return cls if isinstance(cls, str) else dotted(cls)

    autograde = [
        dotted(JudgedExecute) if cls is Execute else name(cls)
        for cls in Autograde.class_traits()["autograde_preprocessors"].default()
    ]
    sanitize = []
    for cls in Autograde.class_traits()["sanitize_preprocessors"].default():
        if cls is OverwriteCells:
            sanitize.append(dotted(RestoreTests))
        sanitize.append(name(cls))
    hide = dotted(HideHiddenTests)
    feedback = [name(cls) for cls in GenerateFeedback.class_traits()["preprocessors"].default()]
    judge_folder = str(root / SCRATCH_JUDGES) if limits.judge else ""
    return "\n".join(
        [
            "",
            "# Added by course_utils.grading for this submission.",
            f"c.CourseDirectory.root = {str(course)!r}",
            f"c.Autograde.sanitize_preprocessors = {sanitize!r}",
            f"c.Autograde.autograde_preprocessors = {autograde!r}",
            "c.OverwriteCells.add_missing_cells = False",
            f"c.RestoreTests.order = {order!r}",
            f"c.JudgedExecute.kernels = {str(root / SCRATCH_KERNELS)!r}",
            f"c.JudgedExecute.judge_folder = {judge_folder!r}",
            f"c.JudgedExecute.judge_settings = {dict(judge or {})!r}",
            f"c.JudgedExecute.judge_memory_note = {limits.judge_memory_text!r}",
            f"c.JudgedExecute.request_timeout = {limits.request_timeout}",
            f"c.GuardedExecute.seed = {limits.seed}",
            f"c.GuardedExecute.core_folder = {cores!r}",
            f"c.GenerateFeedback.preprocessors = {[hide] + [f for f in feedback if f != hide]!r}",
            f"c.GuardedExecute.timeout = {limits.cell_timeout}",
            f"c.GuardedExecute.submission_timeout = {limits.submission_timeout}",
            f"c.GuardedExecute.max_output_bytes = {limits.max_output_bytes}",
            f"c.GuardedExecute.memory_note = {limits.memory_text!r}",
            "",
        ]
    )


def _scratch_course(root: Path, job: Job, judge: dict[str, str]) -> Path:
    """Lay out the scratch course under `root`: private config, gradebook and submission."""
    os.chmod(root, 0o711)
    course = root / "course"  # each kernel works in a folder of its own, root/kernels/N
    paths = CourseFolder(course)
    for folder in (course, paths.autograded(), paths.autograded(job.student)):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    for name in (SCRATCH_KERNELS, SCRATCH_JUDGES):  # each judge too: root/judge/N
        (root / name).mkdir(mode=0o711)
        os.chmod(root / name, 0o711)
    held = cores.folder(job.cores)
    kit = kit_config(course, job.limits, root=root, order=job.cell_order, judge=judge, cores=held)
    paths.config.write_text(job.config + kit)
    paths.gradebook.write_bytes(job.gradebook)
    untar(job.submission, paths.submitted(job.student, job.assignment))
    untar(job.source_files, paths.source(job.assignment))
    for private in (paths.config, paths.gradebook, paths.submitted(), paths.source()):
        os.chmod(private, 0o700 if private.is_dir() else 0o600)
    return course


def _cpu_seconds(limits: Limits) -> int:
    """The CPU time one kernel may use in all: twice the notebook's time on all its threads."""
    return 2 * limits.submission_timeout * max(1, limits.threads)


def _launcher_settings(
    limits: Limits, memory: int, uid: int | None, groups: list[str]
) -> dict[str, str]:
    """The sandbox launcher's settings for one kernel (the student's or the judge's): its
    user, memory budget and control groups; the rest as `limits` says."""
    return Settings.for_kernel(
        memory=memory,
        data=staged_data(),
        uid=uid,
        isolate=limits.isolate,
        cgroups=groups,
        tmpfs=limits.disk,
        cpu=_cpu_seconds(limits),
    )


def _environment(
    root: Path, limits: Limits, uid: int | None, groups: list[str], epochs: int | None
) -> dict[str, str]:
    """nbgrader's environment: the sandboxed kernelspec and its settings, private Jupyter
    folders, threads and hash seed, NumPy's huge pages (`HUGE_PAGES`), and the training length
    (``LAB_EPOCHS``, or none: the notebook's own).
    """
    runtime = root / "runtime"
    runtime.mkdir(mode=0o700)
    threads = str(max(1, limits.threads))
    env = tool_env(
        None,
        JUPYTER_PATH=str(kernel_spec(root / "jupyter")),
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTER_CONFIG_DIR=str(root / "jupyter-config"),
        PYTHONUNBUFFERED="1",
        PYTHONHASHSEED=str(limits.seed),
        TF_NUM_INTRAOP_THREADS=threads,
        TF_NUM_INTEROP_THREADS=threads,
        OMP_NUM_THREADS=threads,
        NUMPY_MADVISE_HUGEPAGE=os.environ.get("NUMPY_MADVISE_HUGEPAGE", HUGE_PAGES),
        **_launcher_settings(limits, limits.memory, uid, groups),
    )
    env.pop("NBGRADER_EXECUTION", None)
    env.pop(EPOCHS.env, None)
    if epochs is not None:
        env[EPOCHS.env] = str(epochs)
    return env


def grade_submission(job: Job) -> Outcome:
    """Autograde one submission in a scratch copy of the course (runs in a worker).

    Args:
        job: the submission, the course's config and gradebook, and the limits.

    Returns:
        The rows and folders to install, or why the submission could not be graded.
    """
    limits = job.limits
    uid = judge_uid = None
    if limits.isolate and os.geteuid() == 0:  # two users of their own: student and judge
        uid = free_uid()
        judge_uid = free_uid()
        while judge_uid == uid:
            judge_uid = free_uid()
    if limits.isolate:
        problem = sandbox_problem(uid)
        if problem:
            return Outcome(job.student, job.digest, False, f"not graded: {problem}")
    root = Path(tempfile.mkdtemp(prefix="course-kit-grade-"))
    groups = cgroups.create(limits.memory, MAX_PROCESSES) if limits.isolate else []
    judge_groups = cgroups.create(limits.judge_budget, MAX_PROCESSES) if limits.isolate else []
    users = [u for u in (uid, judge_uid) if u is not None]
    try:
        env = _environment(root, limits, uid, groups, job.epochs)
        judge = _launcher_settings(limits, limits.judge_budget, judge_uid, judge_groups)
        data = str(staged_data())
        if groups and uid is not None:  # as root, kernels are forked with Keras imported
            env.update(judge_servers.setting(env, data, "kernel"))
        if limits.judge and judge_groups and judge_uid is not None:
            judge.update(judge_servers.setting(env, data, "judge"))
        course = _scratch_course(root, job, judge)
        log = root / "nbgrader.log"
        command = [sys.executable, "-m", nbrun_server.NBRUN, job.assignment, job.student]
        limit = limits.submission_timeout + GRACE_SECONDS
        if job.cores:  # and its wait for a core, at most a notebook's limit
            limit += limits.submission_timeout
        if job.feedback:
            command.append("--feedback")
            limit += FEEDBACK_SECONDS
        run = nbrun_server.run(command, course, env, limit, log, limits.grader_memory)
        kernel_cpu, kernel_peak = cgroups.usage(groups)  # not in the grader's own accounts
        judge_cpu, judge_peak = cgroups.usage(judge_groups)
        for made in (groups, judge_groups):
            cgroups.remove(made)
        for user in users:
            kill_user(user)
        text = tail(log, 400)
        outcome = Outcome(
            job.student,
            job.digest,
            False,
            "",
            wall=run.wall,
            cpu=run.cpu + kernel_cpu + judge_cpu,
            peak_rss=max(run.peak_rss, kernel_peak),
            judge_cpu=judge_cpu,
            judge_peak=judge_peak,
            log=text,
        )
        graded = CourseFolder(course).autograded(job.student, job.assignment)
        if run.timed_out:
            outcome.message = f"stopped: grading ran over {limit} s"
            return outcome
        if run.status not in (0, FEEDBACK_FAILED) or not graded.is_dir():
            outcome.message = failure_reason(text)
            return outcome
        outcome.rows = submission_rows(CourseFolder(course).gradebook, job.assignment, job.student)
        if not outcome.rows["submitted_assignment"]:
            outcome.message = "nbgrader wrote no grades"
            return outcome
        try:
            outcome.autograded = tar_folder(graded, MAX_RETURNED_FILE)
        except TooLarge as error:
            outcome.message = f"not graded: {error}"
            return outcome
        if job.feedback:
            given = CourseFolder(course).feedback(job.student, job.assignment)
            if run.status != 0 or not given.is_dir():  # the grades still count
                outcome.ok = True
                outcome.message = "graded, but feedback failed: " + failure_reason(text)
                return outcome
            outcome.feedback = tar_folder(given)
        outcome.ok = True
        outcome.message = "graded"
        return outcome
    finally:
        for made in (groups, judge_groups):
            cgroups.remove(made)
        for user in users:
            kill_user(user)
        if users:
            unmount_below(root)
        shutil.rmtree(root, ignore_errors=True)
