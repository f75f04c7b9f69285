"""The kernel servers of one grading process (`course_utils.grading.judge_server`).

The grader's worker asks for the server of a role (the student's kernels, or the judges) and a
kernel environment (`address`): the first time, it starts one, as root, and waits only until it
listens (its imports then overlap with the grading's start). A process keeps `MAX_SERVERS`, one
per role and environment (the training length and the seed are part of it); each stops when the
process ends, or when it makes room for another.
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

from course_utils.grading import judge_server, namespaces
from course_utils.grading.sandbox import Settings, kernel_environment

#: servers kept at once by one grading process (one per role and kernel environment)
MAX_SERVERS = 4

_LOCK = threading.Lock()
_SERVERS: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}


def address(env: dict[str, str], role: str = "judge") -> str | None:
    """The socket of this process's server for kernels of `role` (`judge_server.ROLES`) with
    environment `env`, started now if none runs; None where kernels are not forked here (not
    root)."""
    if os.geteuid() != 0 or not hasattr(os, "pidfd_open") or not os.path.isdir("/home"):
        return None
    if role not in judge_server.ROLES:
        raise ValueError(f"no kernel server has the role {role!r}")
    key = json.dumps([role, env], sort_keys=True)
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
                    role,
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


def setting(env: dict[str, str], data: str, role: str) -> dict[str, str]:
    """The launcher's setting naming the server of `role` for the kernels nbgrader starts with
    environment `env` (their environment in the sandbox, with the data at `data`, is the
    server's); empty where there is none."""
    inside = kernel_environment(namespaces.HOME, "/tmp", data, role == "judge", env)
    server = address(inside, role)
    return {Settings.SERVER: server} if server else {}


def _stop(key: str) -> None:
    process, folder = _SERVERS.pop(key)
    process.kill()
    process.wait()
    shutil.rmtree(folder, ignore_errors=True)


def stop_all() -> None:
    """Stop this process's kernel servers."""
    with _LOCK:
        for key in list(_SERVERS):
            _stop(key)


atexit.register(stop_all)


def cpu_seconds() -> float:
    """The CPU time this process's running servers used themselves (their imports; each
    kernel's is its control group's), in seconds."""
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
