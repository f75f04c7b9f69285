"""nbgrader imported once per grading process; each submission's `nbrun` forked from it.

Starting Python and importing nbgrader, nbconvert and the kit's preprocessors took each
submission about 1.7 s of CPU before its notebook could start. A grading process therefore
starts one server (`address`), which imports them, listens on a socket in a folder of its own
(closed to other users), and for each request forks a process that runs `nbrun.main` as the
command ``python -m course_utils.grading.nbrun`` would:

1. in a session (and process group) of its own, killed if the server dies;
2. in the request's folder, with exactly the request's environment, its data memory limited
   as asked (``RLIMIT_DATA``), its output in the log file the request passes;
3. it sends its pid at once, and at its end its exit status, CPU time and peak memory
   (`process.FORKED_REPORT`).

The worker kills its group at its time limit and counts its usage, as for a command it starts
itself (`process.Supervisor.run_forked`). The server runs as the grading process's user, like
the command; it reads no student data and runs none: only each forked process does.
"""

from __future__ import annotations

import array
import atexit
import ctypes
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from course_utils.environment import tool_env
from course_utils.grading.process import MAX_FORK_MESSAGE, SUPERVISOR, ProcessResult
from course_utils.settings import KiB

#: the module the server's forked processes run (``python -m NBRUN`` as a command)
NBRUN = "course_utils.grading.nbrun"
#: the variables of the grader's environment the server starts with (the seed of its hashes)
SERVER_ENV = ("PYTHONHASHSEED", "PYTHONUNBUFFERED")
PR_SET_PDEATHSIG = 1
#: seconds the worker waits for a new server to listen
LISTEN_SECONDS = 10.0

_LOCK = threading.Lock()
_SERVER: list[tuple[subprocess.Popen[bytes], str, str]] = []  # (process, socket, its env)


def preload() -> None:
    """Import what `nbrun` runs: nbgrader's applications, converters and exporters, the kit's
    preprocessors."""
    from nbgrader.apps import NbGraderApp  # noqa: F401
    from nbgrader.apps.autogradeapp import AutogradeApp  # noqa: F401
    from nbgrader.apps.generatefeedbackapp import GenerateFeedbackApp  # noqa: F401
    from nbgrader.converters import Autograde, GenerateFeedback  # noqa: F401

    from course_utils.grading import nbrun, preprocessors  # noqa: F401


def _request(conn: socket.socket) -> tuple[dict[str, Any], int]:
    """The request (its arguments, folder, environment, memory) and its log's descriptor."""
    data, ancillary, flags, _ = conn.recvmsg(MAX_FORK_MESSAGE, socket.CMSG_SPACE(4))
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(fds) != 1:
        raise ValueError("a request was cut short or came without its log")
    request = json.loads(data)
    args, env = request.get("args"), request.get("env")
    if not (
        isinstance(args, list)
        and all(isinstance(a, str) for a in args)
        and isinstance(env, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        and isinstance(request.get("cwd"), str)
        and isinstance(request.get("memory"), int)
    ):
        raise ValueError("not a request")
    return request, fds[0]


def _usage() -> dict[str, float]:
    """This process's report: CPU seconds and peak memory, its own and its waited children's."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu": mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime,
        "peak_rss": max(mine.ru_maxrss, children.ru_maxrss) * KiB,
    }


def _run(conn: socket.socket, server: int) -> None:
    """In the forked process: take the request, run `nbrun.main`, report, exit."""
    status = 1
    try:
        os.setsid()
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL)
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != server:
            os._exit(1)
        conn.settimeout(30)
        request, log = _request(conn)
        conn.send(json.dumps({"pid": os.getpid()}).encode())
        memory = request["memory"]
        if memory:
            _, hard = resource.getrlimit(resource.RLIMIT_DATA)
            soft = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
            resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        quiet = os.open(os.devnull, os.O_RDONLY)
        os.dup2(quiet, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for fd in (quiet, log):
            os.close(fd)
        from course_utils.grading.nbrun import main

        status = main(request["args"])
    except SystemExit as done:
        status = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            conn.settimeout(30)
            conn.send(json.dumps({"status": status, **_usage()}).encode())
        finally:
            os._exit(status if isinstance(status, int) and 0 <= status < 256 else 1)


def serve(path: str, parent: int) -> None:
    """Listen at `path`, import `nbrun`'s modules, then fork a process for each connection;
    stop when `parent` (the grading process that started the server) is no longer its
    parent."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    previous = os.umask(0o077)
    listener.bind(path)
    os.umask(previous)
    listener.listen(64)
    preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked processes are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener.settimeout(2.0)
    while os.getppid() == parent:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            _run(conn, os.getppid())
        conn.close()


def address(settings: dict[str, str]) -> str:
    """The socket of this process's server whose environment has `settings` (`SERVER_ENV`:
    the seed of Python's hashes), started now if none runs; empty where none could start."""
    key = json.dumps(settings, sort_keys=True)
    env = tool_env(None, **settings)
    with _LOCK:
        if _SERVER and _SERVER[0][0].poll() is None and _SERVER[0][2] == key:
            return _SERVER[0][1]
        stop()
        folder = tempfile.mkdtemp(prefix="course-kit-nbrun-")
        path = os.path.join(folder, "server")
        with open(os.path.join(folder, "log"), "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-P", "-s", "-m", __name__, path, str(os.getpid())],
                env=env,
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        _SERVER.append((process, path, key))
    deadline = time.monotonic() + LISTEN_SECONDS  # it listens before it imports
    while not os.path.exists(path) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return path if os.path.exists(path) else ""


def run(
    command: list[str], cwd: Path, env: dict[str, str], limit: float, log: Path, memory: int
) -> ProcessResult:
    """`command` (``python -m NBRUN ARGS``) as `SUPERVISOR.run` runs it, forked by this
    process's server (started with `env`'s `SERVER_ENV`), or started as a command where no
    server can take it."""
    server = address({k: env[k] for k in SERVER_ENV if k in env})
    args = command[command.index(NBRUN) + 1 :]
    forked = SUPERVISOR.run_forked(server, args, cwd, env, limit, log, memory) if server else None
    return forked or SUPERVISOR.run(command, cwd, env, limit, log, memory=memory)


def stop() -> None:
    """Stop this process's server (the caller holds `_LOCK`, or the process is ending)."""
    while _SERVER:
        process, path, _ = _SERVER.pop()
        process.kill()
        process.wait()
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


atexit.register(stop)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
