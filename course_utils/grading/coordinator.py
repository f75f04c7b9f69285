"""Grading a class: select the submissions, plan (skip what is graded), protect the course,
run the jobs on an executor, install each result as it arrives, report.

Only this process writes the course's gradebook and its ``autograded/`` and ``feedback/``
folders, one submission at a time, with Ctrl-C held back while it does (`Shield`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_utils.grading import gradebook
from course_utils.grading.archive import folder_digest, replace_folder, tar_folder
from course_utils.grading.executors import Executor, make_executor
from course_utils.grading.isolation import close_course
from course_utils.grading.jobs import GradingError, Job, Limits, Outcome
from course_utils.grading.process import SUPERVISOR
from course_utils.grading.resume import is_done, mark_done
from course_utils.grading.signals import Shield


@dataclass
class Report:
    """What a class run did."""

    assignment: str
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    wall: float = 0.0
    csv: Path | None = None


def find_submissions(course: Path, assignment: str) -> dict[str, Path]:
    """Every ``submitted/STUDENT/ASSIGNMENT`` folder, by student."""
    submitted = course / "submitted"
    return {p.parent.name: p for p in sorted(submitted.glob(f"*/{assignment}")) if p.is_dir()}


def select(course: Path, assignment: str, students: list[str] | None) -> dict[str, Path]:
    """The submissions to consider: all, or those of `students` (each must have one).

    Raises:
        GradingError: a named student has no submission, or there are none at all.
    """
    found = find_submissions(course, assignment)
    if students:
        missing = sorted(set(students) - set(found))
        if missing:
            raise GradingError(f"no submission of {assignment} for: {', '.join(missing)}")
        found = {s: found[s] for s in students}
    if not found:
        raise GradingError(f"no submissions in {course / 'submitted'}/*/{assignment}")
    return found


def source_files(course: Path, assignment: str) -> bytes:
    """The assignment's files besides its notebooks (data files a notebook reads), as a tar."""
    source = course / "source" / assignment

    def keep(path: Path) -> bool:
        return (
            path.is_file()
            and path.suffix != ".ipynb"
            and ".ipynb_checkpoints" not in path.relative_to(source).parts
        )

    return tar_folder(source, keep=keep)


def install(course: Path, db: Path, assignment: str, outcome: Outcome) -> None:
    """Merge a graded submission's rows and swap in its autograded and feedback folders."""
    gradebook.merge(db, assignment, outcome.student, outcome.rows)
    graded = course / "autograded" / outcome.student / assignment
    replace_folder(outcome.autograded, graded)
    if outcome.feedback:
        replace_folder(outcome.feedback, course / "feedback" / outcome.student / assignment)
    mark_done(graded, outcome.digest)


def _collect(future: Any, student: str, digest: str) -> Outcome:
    try:
        return future.result()
    except Exception as error:  # a worker that died: report, go on
        return Outcome(
            student, digest, False, f"worker error: {error!r}", log=traceback.format_exc()
        )


def run_jobs(
    executor: Executor,
    jobs: list[tuple[str, Callable[[], Job]]],
    on_outcome: Callable[[Outcome], None],
    digests: dict[str, str],
) -> None:
    """Keep up to two jobs per worker queued; hand each outcome to `on_outcome` as it comes."""
    pending = list(jobs)
    running: dict = {}
    while pending or running:
        while pending and len(running) < 2 * executor.workers:
            student, make = pending.pop(0)
            running[executor.submit(make())] = student
        for future in executor.wait(list(running)):
            student = running.pop(future)
            on_outcome(_collect(future, student, digests[student]))


def grade_class(
    course: Path,
    assignment: str,
    *,
    workers: int | None = None,
    limits: Limits | None = None,
    students: list[str] | None = None,
    force: bool = False,
    feedback: bool = True,
    dask: str | None = None,
    csv_path: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Report:
    """Autograde every submission of `assignment` in `course`, in parallel.

    Args:
        course: the course folder (with ``nbgrader_config.py``, ``gradebook.db``, ``submitted/``).
        assignment: the assignment's name.
        workers: submissions graded at once (default: one per core).
        limits: what each submission may use (default `Limits()`; ``threads=0`` becomes
            cores / workers).
        students: grade only these students.
        force: regrade submissions already graded and unchanged.
        feedback: also make feedback HTML.
        dask: a dask.distributed scheduler address, or ``"local"``; None for local threads.
        csv_path: where to write the grades (default ``grades/ASSIGNMENT.csv``).
        progress: show a progress bar.
        log: called with each line of news.

    Returns:
        Who was graded, skipped or failed (and why), with each worker's outcome.

    Raises:
        GradingError: the course, gradebook, assignment or submissions are missing.
        KeyboardInterrupt: the run was stopped; what was installed before stays.
    """
    course = Path(course).resolve()
    db = gradebook.check_course(course, assignment)
    found = select(course, assignment, students)
    workers = workers or os.cpu_count() or 1
    limits = limits or Limits()
    if not limits.threads:
        limits = dataclasses.replace(limits, threads=max(1, (os.cpu_count() or 1) // workers))
    report = Report(assignment)
    start = time.monotonic()

    gradebook.add_students(db, list(found))
    digests = {s: folder_digest(p) for s, p in found.items()}
    todo = [s for s in found if force or not is_done(course, db, assignment, s, digests[s])]
    report.skipped = [s for s in found if s not in todo]
    if report.skipped:
        log(
            f"{len(report.skipped)} submission(s) already graded and unchanged: skipped "
            "(--force regrades them)"
        )

    if limits.isolate and os.geteuid() == 0:
        close_course(course, log)
    elif limits.isolate:
        log("not running as root: student code runs as this user (run as root to isolate it)")

    config = (course / "nbgrader_config.py").read_text()
    files = source_files(course, assignment)

    def job(student: str) -> Callable[[], Job]:
        return lambda: Job(
            assignment,
            student,
            config,
            gradebook.snapshot(db, student),
            tar_folder(found[student]),
            files,
            digests[student],
            limits,
            feedback,
        )

    _run_class(
        course,
        db,
        report,
        make_executor(dask, workers),
        [(s, job(s)) for s in todo],
        digests,
        progress,
    )
    report.wall = time.monotonic() - start
    report.csv = gradebook.write_csv(
        db, assignment, csv_path or course / "grades" / f"{assignment}.csv", report.failed
    )
    log(
        f"{assignment}: {len(report.graded)} graded, {len(report.failed)} failed, "
        f"{len(report.skipped)} skipped in {report.wall:.0f} s; grades in {report.csv}"
    )
    return report


#: The grader's progress bar: count, time taken and left, submissions per minute, failures.
BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed} taken, {remaining} left{postfix}]"


def rate_text(done: int, elapsed: float, failed: int) -> str:
    """The bar's figures: submissions graded per minute so far, and how many failed."""
    rate = f"{60 * done / elapsed:.1f}/min" if done and elapsed > 0 else "?/min"
    return f"{rate}, {failed} failed"


def _run_class(
    course: Path,
    db: Path,
    report: Report,
    executor: Executor,
    jobs: list[tuple[str, Callable[[], Job]]],
    digests: dict[str, str],
    progress: bool,
) -> None:
    """Run `jobs`, installing or logging each outcome; stop everything on an interruption."""
    from tqdm import tqdm

    assignment = report.assignment
    SUPERVISOR.reset()
    shield = Shield()
    bar = tqdm(
        total=len(jobs),
        unit="submission",
        disable=not progress or not jobs,
        dynamic_ncols=True,
        bar_format=BAR_FORMAT,
    )
    bar.set_postfix_str(rate_text(0, 0.0, 0))

    def on_outcome(outcome: Outcome) -> None:
        report.outcomes[outcome.student] = outcome
        if outcome.ok:
            with shield.held():
                install(course, db, assignment, outcome)
            report.graded.append(outcome.student)
        else:
            logs = course / "grades" / "logs" / assignment
            logs.mkdir(parents=True, exist_ok=True)
            (logs / f"{outcome.student}.log").write_text(outcome.log)
            report.failed[outcome.student] = outcome.message
            bar.write(
                f"{outcome.student}: failed: {outcome.message} (log: {logs / outcome.student}.log)",
                file=sys.stderr,
            )
        bar.update(1)
        bar.set_postfix_str(rate_text(bar.n, bar.format_dict["elapsed"], len(report.failed)))

    with contextlib.ExitStack() as stack:
        stack.enter_context(shield.installed())
        stack.callback(bar.close)
        try:
            run_jobs(executor, jobs, on_outcome, digests)
        except BaseException:
            executor.close(cancel=True)
            SUPERVISOR.stop_all()
            raise
        executor.close()
