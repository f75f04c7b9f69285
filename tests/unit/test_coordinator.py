"""`coordinator`: results installed whole, jobs kept queued, a class run without grading."""

from __future__ import annotations

import concurrent.futures
import csv
import os
from pathlib import Path

import pytest

from course_utils.grading import coordinator, gradebook
from course_utils.grading.archive import tar_folder
from course_utils.grading.jobs import GradingError, Job, Limits, Outcome
from course_utils.grading.resume import MARKER
from unit.builders import add_lab, add_submission, copy_file, empty_gradebook, notebook_bytes


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    db = empty_gradebook(tmp_path_factory.mktemp("coordinator") / "gradebook.db")
    add_lab(db, "lab", {"t1": 1, "t2": 2})
    add_submission(db, "lab", "ann", {"t1": 0, "t2": 0})
    return db


@pytest.fixture
def course(tmp_path, base):
    copy_file(base, tmp_path / "course" / "gradebook.db")
    (tmp_path / "course" / "nbgrader_config.py").write_text("c = get_config()\n")
    return tmp_path / "course"


def folder_of(tmp_path: Path, name: str, files: dict[str, str]) -> bytes:
    folder = tmp_path / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).write_text(text)
    return tar_folder(folder)


def test_install_merges_the_rows_and_swaps_in_both_folders(tmp_path, course):
    db = course / "gradebook.db"
    rows = gradebook.submission_rows(db, "lab", "ann")
    for row in rows["grade"]:
        row["auto_score"] = 0.5
    stale = course / "autograded" / "ann" / "lab"
    stale.mkdir(parents=True)
    (stale / "stale.ipynb").write_text("old")
    outcome = Outcome(
        "ann",
        "digest epochs=2",
        True,
        "graded",
        rows=rows,
        autograded=folder_of(tmp_path, "a", {"lab.ipynb": "graded"}),
        feedback=folder_of(tmp_path, "f", {"lab.html": "<p>"}),
        wall=3.0,
        peak_rss=5,
        copy_of="bob",
    )
    coordinator.install(course, db, "lab", outcome, epochs=2)
    assert sorted(p.name for p in stale.iterdir()) == [MARKER, "lab.ipynb"]
    assert (stale / MARKER).read_text() == "digest epochs=2"
    assert (course / "feedback" / "ann" / "lab" / "lab.html").read_text() == "<p>"
    grades = gradebook.submission_rows(db, "lab", "ann")["grade"]
    assert [g["auto_score"] for g in grades] == [0.5, 0.5]
    run = gradebook.runs(db, "lab")["ann"]
    assert (run["epochs"], run["copy_of"], run["wall"], run["peak_rss"]) == (2, "bob", 3.0, 5)


def test_install_without_feedback_leaves_the_feedback_folder_alone(tmp_path, course):
    db = course / "gradebook.db"
    rows = gradebook.submission_rows(db, "lab", "ann")
    autograded = folder_of(tmp_path, "a", {"lab.ipynb": "graded"})
    coordinator.install(course, db, "lab", Outcome("ann", "d", True, "m", rows, autograded))
    assert not (course / "feedback").exists()
    assert gradebook.runs(db, "lab")["ann"]["epochs"] is None


class Stepwise:
    """An executor whose jobs end one at a time, in order; it records how many were queued."""

    def __init__(self, workers: int, slots: int, fail: set[str]) -> None:
        self.workers, self.slots, self.fail = workers, slots, fail
        self.queued: list[int] = []
        self.order: list[concurrent.futures.Future] = []

    def submit(self, job: Job) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        if job.student in self.fail:
            future.set_exception(RuntimeError("worker died"))
        else:
            future.set_result(Outcome(job.student, job.digest, True, "graded"))
        self.order.append(future)
        return future

    def wait(self, futures):
        futures = list(futures)
        self.queued.append(len(futures))
        return {min(futures, key=self.order.index)}

    def close(self, cancel: bool = False) -> None:
        pass


def test_run_jobs_fills_every_slot_queues_one_per_worker_and_reports_dead_workers():
    students = [f"s{i}" for i in range(7)]
    made: list[str] = []

    def make(student: str):
        def job() -> Job:
            made.append(student)
            return Job("lab", student, "", b"", b"", b"", f"d-{student}", Limits())

        return job

    executor = Stepwise(workers=2, slots=3, fail={"s3"})
    outcomes: list[Outcome] = []
    coordinator.run_jobs(
        executor,
        [(s, make(s)) for s in students],
        outcomes.append,
        {s: f"d-{s}" for s in students},
    )
    assert made == students  # each job made once, when its turn comes
    assert max(executor.queued) == 5 and executor.queued[0] == 5
    assert [o.student for o in outcomes] == students
    dead = outcomes[3]
    assert not dead.ok and dead.digest == "d-s3"
    assert dead.message == "worker error: RuntimeError('worker died')"
    assert "RuntimeError" in dead.log


def test_rate_text():
    assert coordinator.rate_text(0, 0.0, 0) == "?/min, 0 failed"
    assert coordinator.rate_text(3, 0.0, 0) == "?/min, 0 failed"
    assert coordinator.rate_text(3, 60.0, 1) == "3.0/min, 1 failed"


def test_a_folder_that_is_no_course_or_has_no_submissions_is_refused(tmp_path, course):
    with pytest.raises(GradingError, match="no nbgrader_config.py"):
        coordinator.grade_class(tmp_path, "lab", progress=False, log=lambda _: None)
    with pytest.raises(GradingError, match="no submissions in"):
        coordinator.grade_class(course, "lab", progress=False, log=lambda _: None)
    with pytest.raises(GradingError, match="'exam' is not in"):
        coordinator.grade_class(course, "exam", progress=False, log=lambda _: None)


def test_a_class_whose_every_submission_is_refused_runs_without_grading(course):
    (course / "source" / "lab").mkdir(parents=True)
    (course / "source" / "lab" / "lab.ipynb").write_bytes(notebook_bytes("x = 1"))
    folder = course / "submitted" / "zed" / "lab"
    folder.mkdir(parents=True)
    os.symlink("/etc/passwd", folder / "lab.ipynb")
    said: list[str] = []
    report = coordinator.grade_class(
        course, "lab", limits=Limits(isolate=False), progress=False, log=said.append, workers=1
    )
    assert report.graded == [] and report.skipped == [] and report.copies == {}
    assert list(report.failed) == ["zed"]
    assert report.failed["zed"].startswith("not graded: lab.ipynb is a link")
    assert said[0] == f"zed: {report.failed['zed']}"
    assert report.csv == course / "grades" / "lab.csv"
    with open(report.csv, newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert rows["zed"]["status"].startswith("failed: not graded: lab.ipynb is a link")
    assert rows["ann"]["status"] == "graded"  # graded before, untouched
    assert not (course / "autograded").exists()
