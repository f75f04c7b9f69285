"""A kernel's warm start, as the sandbox sees it: ask the kernel server for a kernel, or start one.

The kernel server (`course_utils.grading.judge_server`) has imported Keras once; each kernel of
its role (the student's, or the judge) is forked from it. The sandbox launcher
(`course_utils.grading.sandbox`), still root and outside the sandbox, connects to the server
(`connect`) and tells it the kernel's control groups and user. Then, instead of the kernel, it
starts this module in the kernel's sandbox (`wrap`), on the connection it inherits. Here, in the
sandbox, this process sends the server its kernel command, environment and folder, its standard
streams, and its credentials, which the Linux kernel itself writes: the server forks a kernel
into this process's user, control groups, limits and namespaces, then reports when that kernel
ends, and this process ends with its status.

Anything that goes wrong before the kernel is forked (no server, a server started for another
environment) starts the kernel here as before, only slower, with a line on the kernel's log.

This module runs at every kernel start: it imports nothing beyond the standard library.
"""

from __future__ import annotations

import array
import json
import os
import resource
import socket
import struct
import sys
import time

#: the largest message either side sends
MAX_MESSAGE = 1 << 20
CREDENTIALS = "3i"  # pid, uid, gid
#: the limits the launcher gives each kernel (`course_utils.grading.sandbox`)
LIMITS = (
    resource.RLIMIT_CPU,
    resource.RLIMIT_FSIZE,
    resource.RLIMIT_DATA,
    resource.RLIMIT_CORE,
    resource.RLIMIT_AS,
    resource.RLIMIT_NPROC,
    resource.RLIMIT_NOFILE,
)


def _lower(value: int, bound: int) -> int:
    """The lower of two limits, where `resource.RLIM_INFINITY` (-1) is the highest."""
    infinite = resource.RLIM_INFINITY
    return bound if value == infinite else value if bound == infinite else min(value, bound)


def take_limits(limits: dict[int, tuple[int, int]]) -> None:
    """Take the launcher's `limits` (soft, hard), only ever lowering this process's own (the
    server's process forked for a kernel does, before it becomes the kernel's user)."""
    for kind, (soft, hard) in limits.items():
        hard = _lower(hard, resource.getrlimit(kind)[1])
        resource.setrlimit(kind, (_lower(soft, hard), hard))


def credentials() -> tuple[int, int, bytes]:
    """This process's credentials as a control message (the kernel checks they are its own)."""
    creds = struct.pack(CREDENTIALS, os.getpid(), os.getuid(), os.getgid())
    return socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds


def connect(path: str, groups: list[str], uid: int) -> int | None:
    """Connect to the kernel server at `path` and tell it the kernel's control groups, user and
    limits (this process's).

    Returns:
        The connection's descriptor, inheritable, for `wrap`; None where there is no server.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(path)
        limits = {kind: resource.getrlimit(kind) for kind in LIMITS}
        asked = time.monotonic()  # the machine's clock, as the server's: what it waited
        setup = json.dumps({"groups": groups, "uid": uid, "limits": limits, "asked": asked})
        sock.sendmsg([setup.encode()], [credentials()])
    except OSError as error:
        sock.close()
        print(f"the kernel starts without its server: {error}", file=sys.stderr)
        return None
    fd = sock.detach()
    os.set_inheritable(fd, True)
    return fd


def waited(asked: object, role: str, began: float, seconds: float) -> str:
    """The line a forked kernel of `role` shows first on its stderr: how long it waited for its
    server's import of Keras (which began at `began` and took `seconds`), asked for at `asked`
    (the launcher's clock, `time.monotonic`); empty where it is not known."""
    if not role or not isinstance(asked, (int, float)) or isinstance(asked, bool):
        return ""
    wait = max(0.0, min(seconds, began + seconds - asked))
    who = "The student's kernel" if role == "kernel" else "The judge's kernel"
    return f"{who} waited {wait:.1f} s for its server's import of Keras ({seconds:.1f} s)\n"


def wrap(argv: list[str], fd: int) -> list[str]:
    """The command that starts this module on connection `fd`, in place of the kernel `argv`."""
    return [sys.executable, "-I", "-m", __name__, str(fd), "--", *argv]


def _start(sock: socket.socket, kernel: list[str]) -> dict[str, object]:
    request = {"argv": kernel, "env": dict(os.environ), "cwd": os.getcwd()}
    streams = array.array("i", [0, 1, 2]).tobytes()
    sock.sendmsg(
        [json.dumps(request).encode()],
        [credentials(), (socket.SOL_SOCKET, socket.SCM_RIGHTS, streams)],
    )
    answer = json.loads(sock.recv(MAX_MESSAGE) or b'{"error": "the server closed"}')
    if not isinstance(answer, dict):
        raise ValueError("the server's answer is not an object")
    return answer


def main() -> None:
    """``python -I -m course_utils.grading.judge_start FD -- KERNEL COMMAND...``."""
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: python -m course_utils.grading.judge_start FD -- KERNEL COMMAND...")
    kernel = sys.argv[3:]
    sock = socket.socket(fileno=int(sys.argv[1]))
    try:
        answer = _start(sock, kernel)
    except (OSError, ValueError) as error:
        answer = {"error": str(error)}
    if "error" in answer:
        sock.close()
        print(f"the kernel starts without its server: {answer['error']}", file=sys.stderr)
        os.execv(kernel[0], kernel)
    try:
        ended = json.loads(sock.recv(MAX_MESSAGE) or b"{}")
    except (OSError, ValueError):
        ended = {}
    status = ended.get("status") if isinstance(ended, dict) else None
    sys.exit(status if isinstance(status, int) else 1)


if __name__ == "__main__":
    main()
