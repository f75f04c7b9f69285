"""Where submissions are graded: local worker threads, and the refusals of a remote scheduler."""

from __future__ import annotations

import threading
import time

import pytest

from course_utils.grading.executors import LocalExecutor, make_executor, remote_security
from course_utils.grading.jobs import GradingError, Job, Limits


def test_without_a_scheduler_the_executor_is_local_threads():
    executor = make_executor(None, 3)
    try:
        assert isinstance(executor, LocalExecutor)
        assert executor.workers == 3  # notebooks at once
        assert executor.slots == 6  # submissions at once: each core's next getting ready
    finally:
        executor.close()


def test_local_threads_run_functions_and_wait_returns_those_done():
    executor = LocalExecutor(2)
    release = threading.Event()
    try:
        quick = executor.pool.submit(lambda: 6 * 7)
        slow = executor.pool.submit(lambda: release.wait(10) and threading.current_thread().name)
        done = executor.wait([quick, slow])
        assert quick in done and slow not in done
        assert quick.result() == 42
        release.set()
        assert slow.result(10).startswith("grade")  # the grading threads' name
    finally:
        release.set()
        executor.close()


def test_at_most_slots_functions_run_at_once():
    executor = LocalExecutor(2)
    running, peak, lock = [0], [0], threading.Lock()

    def task() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    futures = [executor.pool.submit(task) for _ in range(6)]
    pending = set(futures)
    while pending:
        pending -= executor.wait(pending)
    executor.close()
    assert peak[0] == executor.slots == 4


def test_each_job_says_how_many_notebooks_its_grading_process_runs_at_once(monkeypatch):
    from course_utils.grading import executors

    monkeypatch.setattr(executors, "grade_submission", lambda job: job.cores)
    executor = LocalExecutor(3)
    try:
        job = Job("lab", "ada", "", b"", b"", b"", "d", Limits())
        assert job.cores == 0
        assert executor.submit(job).result(10) == 3
    finally:
        executor.close()


def test_closing_with_cancel_drops_jobs_not_started():
    executor = LocalExecutor(1)
    gate = threading.Event()
    first = executor.pool.submit(gate.wait, 10)
    second = executor.pool.submit(gate.wait, 10)
    later = [executor.pool.submit(lambda: "ran") for _ in range(3)]
    executor.close(cancel=True)
    gate.set()
    assert first.result(10) is True and second.result(10) is True
    assert all(f.cancelled() for f in later)
    with pytest.raises(RuntimeError):
        executor.pool.submit(lambda: None)


@pytest.mark.parametrize("address", ["tcp://10.0.0.1:8786", "10.0.0.1:8786", "inproc://x"])
def test_a_remote_scheduler_must_speak_tls(address):
    with pytest.raises(GradingError, match="only tls://"):
        remote_security(address)


def test_a_tls_scheduler_needs_certificates_in_dasks_configuration():
    import dask

    with dask.config.set(
        {"distributed.comm.tls.ca-file": None, "distributed.comm.tls.client.cert": None}
    ):
        with pytest.raises(GradingError, match="no TLS certificates"):
            remote_security("tls://10.0.0.1:8786")
