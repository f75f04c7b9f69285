"""Running one command under a wall-clock limit, and stopping every such command at once.

Each command runs in its own process group (the kernel nbgrader starts joins it), is killed
with its group when its time is up, and dies if the worker that started it dies. A
`Supervisor` keeps the commands it started, so that Ctrl-C in the grader stops them all.

A command can also be forked by a server that has imported its modules already
(`Supervisor.run_forked`, `course_utils.grading.nbrun_server`): the same session, limits, log
and wall-clock limit, without the start of Python and its imports. The server sends the forked
process's pid at once, and the process its exit status and usage (`FORKED_REPORT`) at its end.
"""

from __future__ import annotations

import array
import functools
import json
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_utils.settings import KiB

#: the longest request or report a forked command's server takes, in bytes
MAX_FORK_MESSAGE = 1 << 20
#: the keys of a forked command's last message (its exit status and `ProcessResult`'s usage)
FORKED_REPORT = ("status", "cpu", "peak_rss")


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


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file ("" if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Supervisor:
    """Starts commands in their own process groups and can kill all of them."""

    def __init__(self) -> None:
        self._running: set[int] = set()  # the process groups of the commands running
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
            self._running.add(proc.pid)
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
                self._running.discard(proc.pid)
        proc.returncode = os.waitstatus_to_exitcode(status)
        _kill_group(proc.pid)  # the kernel and anything else left in the group
        return ProcessResult(
            status=None if timed_out.is_set() else proc.returncode,
            wall=time.monotonic() - start,
            cpu=usage.ru_utime + usage.ru_stime,
            peak_rss=usage.ru_maxrss * KiB,
        )

    def run_forked(
        self,
        server: str,
        args: list[str],
        cwd: Path,
        env: dict[str, str],
        timeout: float,
        log: Path,
        memory: int = 0,
    ) -> ProcessResult | None:
        """As `run`, the server's command with `args`, forked by the server listening at
        `server`; None where the server could not take it (nothing was run)."""
        start = time.monotonic()
        if self._stopping.is_set():
            return ProcessResult(None)
        request = json.dumps({"args": args, "cwd": str(cwd), "env": env, "memory": memory})
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with open(log, "ab") as out:
                conn.settimeout(30)
                conn.connect(server)
                fds = array.array("i", [out.fileno()])
                conn.sendmsg([request.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
                pid = json.loads(conn.recv(MAX_FORK_MESSAGE))["pid"]
        except (OSError, ValueError, KeyError, TypeError):
            conn.close()
            return None
        with self._lock:
            self._running.add(pid)
            if self._stopping.is_set():
                _kill_group(pid)
        report: Any = {}
        timed_out = False
        try:
            conn.settimeout(max(0.001, timeout - (time.monotonic() - start)))
            report = json.loads(conn.recv(MAX_FORK_MESSAGE) or b"{}")
        except TimeoutError:
            timed_out = True
        except (OSError, ValueError):  # it died before its report: a failure
            pass
        finally:
            _kill_group(pid)  # at its time limit; else the kernel and anything left in the group
            conn.close()
            with self._lock:
                self._running.discard(pid)
        try:  # a process that died before its report: a failure, its usage unknown
            status, cpu, peak = int(report["status"]), float(report["cpu"]), int(report["peak_rss"])
        except (KeyError, TypeError, ValueError):
            status, cpu, peak = 1, 0.0, 0
        wall = time.monotonic() - start
        return ProcessResult(None if timed_out else status, wall, cpu, peak)

    def stop_all(self) -> None:
        """Kill every command this supervisor started, and refuse new ones until `reset`."""
        with self._lock:
            self._stopping.set()
            for group in list(self._running):
                _kill_group(group)

    def reset(self) -> None:
        """Accept new commands again (at the start of a class run)."""
        self._stopping.clear()


#: The supervisor of this process's grading commands (worker threads share it).
SUPERVISOR = Supervisor()
