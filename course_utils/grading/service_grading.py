"""The grading service's grading: a batch of attempts through the kit's grader, and the grade
that counts (the last or the best attempt) kept in the gradebook."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from course_utils.grading import attempts
from course_utils.grading.collect import STAMP
from course_utils.grading.coordinator import grade_class
from course_utils.grading.jobs import GradingError, Limits
from course_utils.grading.service_db import Attempt, Record
from course_utils.layout import CourseFolder


@dataclass
class Grading:
    """How the service grades: the course, its record and policies, the grader's settings."""

    course: Path
    record: Record
    policies: dict[str, attempts.Policy]
    limits: Limits | None
    workers: int | None
    epochs: int | None
    log: Callable[[str], None]


def install_attempt(course: Path, record: Record, attempt: Attempt) -> None:
    """Put the attempt's kept files in ``submitted/``, with the service's time of receipt."""
    folder = CourseFolder(course).submitted(attempt.student, attempt.assignment)
    if folder.is_symlink():
        folder.unlink()
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(record.folder(attempt), folder, symlinks=True)
    (folder / "timestamp.txt").write_text(attempt.received_at.strftime(STAMP))


def grade_batch(service: Grading, assignment: str, batch: list[Attempt]) -> None:
    """Grade `batch` (one attempt per student) together; record each result and its feedback."""
    for attempt in batch:
        install_attempt(service.course, service.record, attempt)
    students = [a.student for a in batch]
    service.log(f"{assignment}: grading {', '.join(a.name for a in batch)}")
    try:
        report = grade_class(
            service.course,
            assignment,
            workers=service.workers,
            limits=service.limits,
            students=students,
            force=True,
            epochs=service.epochs,
            progress=False,
            log=service.log,
        )
        failed = report.failed
    except GradingError as error:
        failed = {student: str(error) for student in students}
    finally:
        _hand_back(service.course)
    scores = _scores(service.course, assignment, students)
    for attempt in batch:
        why = failed.get(attempt.student)
        if why is not None or attempt.student not in scores:
            service.record.update(attempt.name, status="failed", reason=(why or "no grade")[:300])
            continue
        _keep_feedback(service, attempt)
        score, max_score = scores[attempt.student]
        service.record.update(attempt.name, status="graded", score=score, max_score=max_score)
        service.record.set_counted(assignment, attempt.student, attempt.name)


def settle_counted(service: Grading) -> bool:
    """Put in the gradebook, for each student, the attempt their assignment's policy counts.

    With ``counts = "best"``, a later and lower attempt is graded (and its feedback released)
    but the best one's grade is installed again: the grader's kept results make that a copy.
    """
    changed = False
    graded = service.record.attempts("status = 'graded'")
    pairs = sorted({(a.assignment, a.student) for a in graded})
    for assignment, student in pairs:
        mine = [a for a in graded if a.assignment == assignment and a.student == student]
        policy = service.policies.get(assignment, attempts.Policy())
        number = attempts.counted(policy, [(a.number or 0, a.score or 0.0) for a in mine])
        target = next(a for a in mine if a.number == number)
        if service.record.counted(assignment, student) == target.name:
            continue
        install_attempt(service.course, service.record, target)
        try:
            report = grade_class(
                service.course,
                assignment,
                workers=1,
                limits=service.limits,
                students=[student],
                epochs=service.epochs,
                progress=False,
                log=service.log,
            )
        except GradingError as error:  # tried again on the next round
            service.log(f"{assignment}: {student}'s counted attempt not installed: {error}")
            continue
        finally:
            _hand_back(service.course)
        if student not in report.failed:
            service.record.set_counted(assignment, student, target.name)
            service.log(f"{assignment}: {student}'s grade is attempt {target.number}'s")
            changed = True
    return changed


def _scores(course: Path, assignment: str, students: list[str]) -> dict[str, tuple[float, float]]:
    """Each student's score (late penalty taken) and maximum, from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    found = {}
    with Gradebook(f"sqlite:///{CourseFolder(course).gradebook}") as gb:
        for student in students:
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            penalty = sub.late_submission_penalty or 0.0
            found[student] = (float(sub.score - penalty), float(sub.max_score))
    return found


def _keep_feedback(service: Grading, attempt: Attempt) -> None:
    """Copy the attempt's feedback pages beside its files (released from there)."""
    made = CourseFolder(service.course).feedback(attempt.student, attempt.assignment)
    kept = service.record.feedback(attempt)
    tmp = kept.with_name(kept.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    for page in sorted(made.glob("*.html")) if made.is_dir() else []:
        if page.is_file() and not page.is_symlink():
            shutil.copyfile(page, tmp / page.name)
    shutil.rmtree(kept, ignore_errors=True)
    os.replace(tmp, kept)


def _hand_back(course: Path) -> None:
    """As root, what grading wrote goes back to the course's owner (as after a class run)."""
    if os.geteuid() == 0:
        from course_utils.grading.isolation import hand_back

        hand_back(course)
