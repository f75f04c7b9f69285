"""The judge servers of one grading process (`course_utils.grading.judge_server`).

The grader's worker asks for the server of a judge environment (`address`): the first time, it
starts one, as root, and waits only until it listens (its imports then overlap with the student's
first cells). A process keeps `MAX_SERVERS`, one per environment (the training length and the
seed are part of it); each stops when the process ends, or when it makes room for another.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from course_utils.grading import judge_server

#: servers kept at once by one grading process (one per judge environment)
MAX_SERVERS = 2

_LOCK = threading.Lock()
_SERVERS: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}


def address(env: dict[str, str]) -> str | None:
    """The socket of this process's judge server for judges with environment `env`, started
    now if none runs; None where judges are not forked here (not root)."""
    if os.geteuid() != 0 or not hasattr(os, "pidfd_open") or not os.path.isdir("/home"):
        return None
    key = json.dumps(env, sort_keys=True)
    with _LOCK:
        if key in _SERVERS and _SERVERS[key][0].poll() is None:
            return str(_SERVERS[key][1] / "server")
        while _SERVERS and (key in _SERVERS or len(_SERVERS) >= MAX_SERVERS):
            _stop(key if key in _SERVERS else next(iter(_SERVERS)))
        folder = Path(tempfile.mkdtemp(prefix="course-kit-judges-"))
        with open(folder / "log", "wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-P",
                    "-s",
                    "-m",
                    judge_server.__name__,
                    str(folder / "server"),
                    str(os.getpid()),
                ],
                env=env,
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        _SERVERS[key] = (process, folder)
    socket_path = folder / "server"
    for _ in range(200):  # it listens before it imports: a tenth of a second
        if socket_path.exists() or process.poll() is not None:
            break
        time.sleep(0.05)
    return str(socket_path) if socket_path.exists() else None


def _stop(key: str) -> None:
    process, folder = _SERVERS.pop(key)
    process.kill()
    process.wait()
    shutil.rmtree(folder, ignore_errors=True)


def stop_all() -> None:
    """Stop this process's judge servers."""
    with _LOCK:
        for key in list(_SERVERS):
            _stop(key)


atexit.register(stop_all)


def cpu_seconds() -> float:
    """The CPU time this process's running servers used themselves (their imports; each judge's
    is its control group's), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    with _LOCK:
        for process, _ in _SERVERS.values():
            try:
                with open(f"/proc/{process.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks
            except (OSError, ValueError, IndexError):
                pass
    return total
