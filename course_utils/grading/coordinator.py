"""Grading a class: select the submissions, plan (skip what is graded), protect the course,
run the jobs on an executor, install each result as it arrives, report.

Only this process writes the course's gradebook and its ``autograded/`` and ``feedback/``
folders, one submission at a time, with Ctrl-C held back while it does (`Shield`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from course_utils.grading import changes, copies, gradebook
from course_utils.grading.archive import folder_digest, replace_folder, tar_folder
from course_utils.grading.cache import Results
from course_utils.grading.executors import Executor, make_executor
from course_utils.grading.isolation import prepare_isolation
from course_utils.grading.jobs import Job, Limits, Outcome
from course_utils.grading.process import SUPERVISOR
from course_utils.grading.resume import is_done, mark_done
from course_utils.grading.signals import Shield
from course_utils.grading.submissions import cell_order, refusals, select, source_files
from course_utils.layout import CourseFolder
from course_utils.settings import EPOCHS


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
    epochs: int | None = None  # the training length graded at (None: the notebook's own)
    copies: dict[str, str] = field(default_factory=dict)  # student: whose results they got
    changed: dict[str, tuple[float, float]] = field(default_factory=dict)  # (old, new) scores


def install(
    course: Path, db: Path, assignment: str, outcome: Outcome, epochs: int | None = None
) -> None:
    """Merge a graded submission's rows and swap in its autograded and feedback folders."""
    run = {
        "epochs": epochs,
        "copy_of": outcome.copy_of,
        "wall": outcome.wall,
        "cpu": outcome.cpu,
        "peak_rss": outcome.peak_rss,
        "judge_peak": outcome.judge_peak,
    }
    gradebook.merge(db, assignment, outcome.student, outcome.rows, run)
    paths = CourseFolder(course)
    replace_folder(outcome.autograded, paths.autograded(outcome.student, assignment))
    if outcome.feedback:
        replace_folder(outcome.feedback, paths.feedback(outcome.student, assignment))
    mark_done(paths.autograded(outcome.student, assignment), outcome.digest)


def _collect(future: Any, student: str, digest: str) -> Outcome:
    try:
        return cast(Outcome, future.result())
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
    """Keep each slot busy, a job queued per worker; each outcome to `on_outcome` as it comes."""
    pending = list(jobs)
    running: dict[Any, str] = {}  # future -> student
    while pending or running:
        while pending and len(running) < executor.slots + executor.workers:
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
    epochs: int | None = None,
    csv_path: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Report:
    """Autograde every submission of `assignment` in `course`, in parallel.

    Args:
        course: the course folder (with ``nbgrader_config.py``, ``gradebook.db``, ``submitted/``).
        assignment: the assignment's name.
        workers: notebooks run at once, twice as many submissions taken (default: one per core).
        limits: what each submission may use (default `Limits()`).
        students: grade only these students.
        force: regrade submissions already graded and unchanged.
        feedback: also make feedback HTML.
        dask: a dask.distributed scheduler address, or ``"local"``; None for local threads.
        epochs: the training length (`course_utils.settings.EPOCHS`), kept with each grade.
        csv_path: where to write the grades (default ``grades/ASSIGNMENT.csv``).
        progress, log: show a progress bar; called with each line of news.

    Returns: who was graded, skipped or failed (and why), with each worker's outcome.

    Raises:
        GradingError: the course, gradebook, assignment or submissions are missing.
        KeyboardInterrupt: the run was stopped; what was installed before stays.
    """
    course = Path(course).resolve()
    db = gradebook.check_course(course, assignment)
    found = select(course, assignment, students)
    workers = workers or os.cpu_count() or 1
    limits = limits or Limits()
    if epochs is None and os.environ.get(EPOCHS.env, "").strip():
        epochs = int(os.environ[EPOCHS.env])
    report = Report(assignment, epochs=epochs, failed=refusals(found, log))
    found = {s: p for s, p in found.items() if s not in report.failed}
    start = time.monotonic()

    gradebook.add_students(db, list(found))
    length = f"epochs={epochs if epochs is not None else 'notebook'}"
    length += "" if limits.judge else " judge=off"
    length += f" {limits.outcome_settings}"
    digests = {s: f"{folder_digest(p)} {length}" for s, p in found.items()}
    todo = [s for s in found if force or not is_done(course, db, assignment, s, digests[s])]
    report.skipped = [s for s in found if s not in todo]
    if report.skipped:
        n = len(report.skipped)
        log(f"{n} submission(s) already graded and unchanged: skipped (--force regrades them)")
    before = changes.scores(db, assignment)

    if limits.isolate:
        prepare_isolation(course, log, check=dask in (None, "local"))
    else:
        log("isolation off: student code runs as this user, with the grader's files in reach")

    config = CourseFolder(course).config.read_text()
    files = source_files(course, assignment)
    order = cell_order(course, assignment)
    context = f"{config}\0{length}\0feedback={feedback}"
    keys = copies.class_keys(course, db, assignment, {s: found[s] for s in todo}, context)
    same = copies.group(keys)
    report.copies = {c: leader for leader, group in same.items() for c in group}
    if report.copies:
        log(f"{len(report.copies)} submission(s) identical to another: graded once")
    results = Results(course, assignment)
    kept = {s: results.get(keys[s]) for s in same} if not force else {}
    ready = [
        copies.copied(o, s, digests[s], copies.timestamp_of(found[s]))
        for s, o in kept.items()
        if o is not None
    ]
    if ready:
        log(f"{len(ready)} submission(s) graded before (same files and tests): results reused")

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
            epochs,
            order,
        )

    _run_class(
        course,
        db,
        report,
        make_executor(dask, workers),
        [(s, job(s)) for s in same if kept.get(s) is None],
        digests,
        progress,
        {leader: [(c, found[c]) for c in group] for leader, group in same.items()},
        ready,
        lambda outcome: results.put(keys[outcome.student], outcome),
    )
    report.wall = time.monotonic() - start
    report.csv = gradebook.write_csv(
        db, assignment, csv_path or CourseFolder(course).grades_csv(assignment), report.failed
    )
    log(
        f"{assignment}: {len(report.graded)} graded, {len(report.failed)} failed, "
        f"{len(report.skipped)} skipped in {report.wall:.0f} s, "
        f"at {length}; grades in {report.csv}"
    )
    report.changed = changes.record(course, db, assignment, before, log)
    return report


#: The grader's progress bar: count, time taken and left, submissions per minute, failures.
BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed} taken, {remaining} left{postfix}]"


def rate_text(done: float, elapsed: float, failed: int) -> str:
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
    same: dict[str, list[tuple[str, Path]]],
    ready: list[Outcome],
    keep: Callable[[Outcome], None],
) -> None:
    """Run `jobs`, installing or logging each outcome (and giving it to the submissions
    `same` lists as identical); stop everything on an interruption.

    The outcomes in `ready` (results kept from before) are installed first. Each fresh
    outcome is handed to `keep` once installed.
    """
    from tqdm import tqdm

    assignment = report.assignment
    SUPERVISOR.reset()
    shield = Shield()
    bar = tqdm(
        total=len(jobs) + len(ready) + sum(len(group) for group in same.values()),
        unit="submission",
        disable=not progress or not jobs,
        dynamic_ncols=True,
        bar_format=BAR_FORMAT,
    )
    bar.set_postfix_str(rate_text(0, 0.0, 0))

    def on_outcome(outcome: Outcome) -> None:
        one(outcome)
        if outcome.ok:
            keep(outcome)
        for student, folder in same.get(outcome.student, []):
            one(copies.copied(outcome, student, digests[student], copies.timestamp_of(folder)))

    def one(outcome: Outcome) -> None:
        report.outcomes[outcome.student] = outcome
        if outcome.ok:
            with shield.held():
                install(course, db, assignment, outcome, report.epochs)
            report.graded.append(outcome.student)
        else:
            report.failed[outcome.student] = outcome.message
        if outcome.message != "graded":  # failed, or graded without feedback
            logs = CourseFolder(course).logs(assignment)
            logs.mkdir(parents=True, exist_ok=True)
            (logs / f"{outcome.student}.log").write_text(outcome.log)
            what = "" if outcome.ok else "failed: "
            bar.write(
                f"{outcome.student}: {what}{outcome.message} (log: {logs / outcome.student}.log)",
                file=sys.stderr,
            )
        bar.update(1)
        bar.set_postfix_str(rate_text(bar.n, bar.format_dict["elapsed"], len(report.failed)))

    with contextlib.ExitStack() as stack:
        stack.enter_context(shield.installed())
        stack.callback(bar.close)
        try:
            for outcome in ready:
                on_outcome(outcome)
            run_jobs(executor, jobs, on_outcome, digests)
        except BaseException:
            executor.close(cancel=True)
            SUPERVISOR.stop_all()
            raise
        executor.close()
