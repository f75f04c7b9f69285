"""Running one command under a wall-clock limit, and stopping every such command at once.

Each command runs in its own process group (the kernel nbgrader starts joins it), is killed
with its group when its time is up, and dies if the worker that started it dies. A
`Supervisor` keeps the commands it started, so that Ctrl-C in the grader stops them all.
"""

from __future__ import annotations

import functools
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from course_utils.settings import KiB


@dataclass(frozen=True)
class ProcessResult:
    """How a command ended, and what it used."""

    status: int | None  # exit status; None when it was killed for time or never started
    wall: float = 0.0  # seconds
    cpu: float = 0.0  # user + system seconds of the command and the children it waited for
    peak_rss: int = 0  # bytes, of its largest process (the kernel included)

    @property
    def timed_out(self) -> bool:
        """Whether the command was stopped (time limit, or the grader stopping)."""
        return self.status is None


def _die_with_parent() -> None:
    """In the child, before exec: be killed if the worker that started it dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child_setup(memory: int) -> None:
    """In the child, before exec: die with the worker; cap its data memory at `memory` bytes.

    Only the soft limit: the kernels it starts set their own budgets (their launcher raises
    the soft limit up to the hard one, which stays as it was).
    """
    _die_with_parent()
    if memory:
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            memory = min(memory, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (memory, hard))


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Supervisor:
    """Starts commands in their own process groups and can kill all of them."""

    def __init__(self) -> None:
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def run(
        self,
        command: list[str],
        cwd: Path,
        env: dict[str, str],
        timeout: float,
        log: Path,
        memory: int = 0,
    ) -> ProcessResult:
        """Run `command`, appending its output to `log`; kill its group at `timeout` seconds.

        Args:
            command: the program and its arguments.
            cwd: the folder it runs in.
            env: its whole environment.
            timeout: seconds before the group is killed.
            log: a file that gets stdout and stderr.
            memory: its data memory in bytes (``RLIMIT_DATA``, soft); 0: no limit.

        Returns:
            The exit status (None if killed, or if `stop_all` was called first) and usage.
        """
        start = time.monotonic()
        with self._lock:
            if self._stopping.is_set():
                return ProcessResult(None)
            with open(log, "ab") as out:
                proc = subprocess.Popen(
                    command,
                    cwd=cwd,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=functools.partial(_child_setup, memory),
                )
            self._running.add(proc)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            with self._lock:
                self._running.discard(proc)
        proc.returncode = os.waitstatus_to_exitcode(status)
        _kill_group(proc.pid)  # the kernel and anything else left in the group
        return ProcessResult(
            status=None if timed_out.is_set() else proc.returncode,
            wall=time.monotonic() - start,
            cpu=usage.ru_utime + usage.ru_stime,
            peak_rss=usage.ru_maxrss * KiB,
        )

    def stop_all(self) -> None:
        """Kill every command this supervisor started, and refuse new ones until `reset`."""
        with self._lock:
            self._stopping.set()
            for proc in list(self._running):
                _kill_group(proc.pid)

    def reset(self) -> None:
        """Accept new commands again (at the start of a class run)."""
        self._stopping.clear()


#: The supervisor of this process's grading commands (worker threads share it).
SUPERVISOR = Supervisor()
