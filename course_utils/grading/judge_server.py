"""The kernel server: Keras imported once per grading process, each kernel forked from it.

Importing TensorFlow costs each kernel 3 to 4.5 s of CPU. As root, the grader's worker therefore
starts one server per process, role (the student's kernels, or the judges) and environment
(`course_utils.grading.judge_servers`), which imports the role's modules once, in a mount
namespace of its own (Keras makes its folder at import: a tmpfs, not the machine's ``/home``).
The server reads no student data and runs no code of the notebook: it forks.

Each kernel still starts through the sandbox launcher (`course_utils.grading.sandbox`): its own
user, control groups, limits and bubblewrap sandbox, as without the server. Only the process
that runs ipykernel in that sandbox comes from the server (`course_utils.grading.judge_start`):
for each connection, the server forks a process that

1. takes the launcher's setup (sent as root, before it dropped to the kernel's user): the
   kernel's control groups, limits and user;
2. takes the request sent from inside the sandbox, with credentials the kernel checks: the
   kernel command, environment (it must be the server's own) and folder, and the streams;
3. joins those control groups, takes those limits, becomes the kernel's user, joins
   that process's namespaces (user, mount, PID, network, IPC, UTS, cgroup), drops every
   capability and forbids new privileges;
4. forks the kernel in the sandbox's PID namespace: when the sandbox ends, so does the kernel.

Its grandchild then is the kernel, as if the sandbox had started it, with Keras imported: a new
process for each submission, sharing nothing written with any other.
"""

from __future__ import annotations

import array
import atexit
import ctypes
import json
import os
import signal
import socket
import struct
import sys
import time
import traceback
from typing import Any

from course_utils.grading.judge_start import CREDENTIALS, MAX_MESSAGE, take_limits, waited
from course_utils.grading.sandbox import UMASK

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER = 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
#: the sandbox's namespaces, which each kernel joins
NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET
NAMESPACES |= CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP
MS_REC, MS_PRIVATE = 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
CAPABILITY_VERSION_3 = 0x20080522
#: variables the sandbox sets for each kernel (bubblewrap: its working folder), not the server
PLACED = ("PWD",)
#: the options a kernel command may add (nbgrader's, for the student's kernel)
OPTIONS = ("--HistoryManager.hist_file=:memory:",)
#: seconds a forked process waits for the sandbox's request
REQUEST_SECONDS = 120

_libc = ctypes.CDLL(None, use_errno=True)


def _call(name: str, *args: Any) -> None:
    if getattr(_libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


def _private_mounts() -> None:
    """A mount namespace of the server's own, with tmpfs over ``/home`` and ``/tmp``."""
    _call("unshare", CLONE_NEWNS)
    _call("mount", None, b"/", None, MS_REC | MS_PRIVATE, None)
    for path, mode in ((b"/home", b"0755"), (b"/tmp", b"1777")):
        _call("mount", b"tmpfs", path, b"tmpfs", 0, b"size=64m,mode=" + mode)


#: what each server's kernels run: the student's notebook, or the judge's tests
ROLES = ("kernel", "judge")


def preload(role: str) -> float:
    """Import what every kernel of `role` imports first (the seed's Keras; for the judge, its
    first code, `JudgedExecute`'s), and ipykernel; the seconds Keras's part took."""
    start = time.monotonic()
    if role == "judge":
        from course_utils.grading import judge

        judge.import_keras()
    import keras  # noqa: F401
    import numpy  # noqa: F401

    seconds = time.monotonic() - start
    from ipykernel.kernelapp import IPKernelApp  # noqa: F401

    return seconds


def _receive(conn: socket.socket) -> tuple[dict[str, Any], tuple[int, int, int], list[int]]:
    """One message: its object, its sender's credentials (as the kernel gives them), its fds."""
    space = socket.CMSG_SPACE(struct.calcsize(CREDENTIALS)) + socket.CMSG_SPACE(3 * 4)
    data, ancillary, flags, _ = conn.recvmsg(MAX_MESSAGE, space)
    creds, fds = None, array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            creds = struct.unpack(CREDENTIALS, payload[: struct.calcsize(CREDENTIALS)])
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or creds is None:
        raise ValueError("a message was cut short or came without credentials")
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ValueError("a message is not an object")
    return message, creds, list(fds)


def _kernel_file(argv: Any) -> list[str]:
    """The arguments of ipykernel in the only command a kernel runs: ``PYTHON -m
    ipykernel_launcher -f FILE``, and nbgrader's `OPTIONS` after it."""
    if (
        not isinstance(argv, list)
        or not 5 <= len(argv) <= 5 + len(OPTIONS)
        or argv[1:4] != ["-m", "ipykernel_launcher", "-f"]
        or not all(isinstance(a, str) for a in argv)
        or not set(argv[5:]) <= set(OPTIONS)
    ):
        raise ValueError(f"not a kernel command: {argv!r}")
    return [str(a) for a in argv[3:]]


def _enter(
    groups: list[str], limits: dict[int, tuple[int, int]], pid: int, uid: int, gid: int
) -> None:
    """Become the sandbox's process `pid`: its control groups, the launcher's `limits`, its
    user and namespaces, no capabilities, no new privileges."""
    pidfd = os.pidfd_open(pid)
    for group in groups:
        if not group.startswith("/sys/fs/cgroup/") or "/../" in group + "/":
            raise ValueError(f"not a control group: {group}")
        with open(os.path.join(group, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    take_limits(limits)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _call("setns", pidfd, NAMESPACES)
    os.close(pidfd)
    _call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    for cap in range(64):  # past the last capability: EINVAL, nothing to drop
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = struct.pack("Ii", CAPABILITY_VERSION_3, 0)
    _call("capset", header, bytes(24))  # two (effective, permitted, inheritable) sets, empty


def _run_kernel(arguments: list[str], cwd: str, streams: list[int], note: str = "") -> None:
    """The kernel: ipykernel with `arguments`, in the sandbox, `note` first on its stderr (never
    returns)."""
    code: Any = 1
    try:
        os.setsid()
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # as after an exec: its /proc is its own
        for target, fd in enumerate(streams):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        sys.stderr.write(note)
        os.umask(UMASK)
        os.chdir(cwd)
        sys.argv = ["ipykernel_launcher", *arguments]
        from ipykernel.kernelapp import IPKernelApp

        code = 0
        IPKernelApp.launch_instance(argv=arguments)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001 (said on the kernel's stderr, the kernel stops)
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001,S110 (closed: nothing more to say)
                pass
        os._exit(code)


def _checked(request: dict[str, Any], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The ipykernel arguments of the request's kernel command, and the variables the sandbox set
    (`PLACED`), once the rest of its environment is found to be the server's."""
    given = request.get("env")
    if not isinstance(given, dict):
        raise ValueError("the request has no environment")
    placed = {k: str(given[k]) for k in PLACED if k in given}
    given = {k: v for k, v in given.items() if k not in PLACED}
    if given != env:
        names = sorted(set(env).symmetric_difference(given))
        names += sorted(k for k in env if k in given and given[k] != env[k])
        raise ValueError(f"the kernel's environment is not the server's: {names}")
    return _kernel_file(request.get("argv")), placed


def _fork_kernel(
    conn: socket.socket, env: dict[str, str], imported: tuple[str, float, float] = ("", 0, 0)
) -> None:
    """One kernel, in a process forked for it (never returns): see the module's steps;
    `imported`: the server's role, and when its import of Keras began and how long it took."""
    started = False
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        conn.settimeout(REQUEST_SECONDS)
        setup, (_, sender, _), _ = _receive(conn)
        if sender != os.geteuid():
            raise ValueError("the kernel's setup did not come from the launcher")
        request, (pid, uid, gid), streams = _receive(conn)
        arguments, placed = _checked(request, env)
        if uid != setup.get("uid") or uid == 0 or len(streams) != 3:
            raise ValueError("the request did not come from the kernel's sandbox")
        if os.stat(f"/proc/{pid}/ns/user").st_ino == os.stat("/proc/self/ns/user").st_ino:
            raise ValueError("the request did not come from a sandbox")
        groups = setup.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ValueError("the setup's control groups are not a list of paths")
        limits = {int(k): (int(v[0]), int(v[1])) for k, v in setup.get("limits", {}).items()}
        _enter(groups, limits, pid, uid, gid)
        child = os.fork()
        if child == 0:
            os.environ.update(placed)
            note = waited(setup.get("asked"), *imported)
            _run_kernel(arguments, str(request.get("cwd") or "/"), streams, note)
        started = True
        conn.send(b'{"started": true}')
        _, status = os.waitpid(child, 0)
        conn.send(json.dumps({"status": os.waitstatus_to_exitcode(status) & 0xFF}).encode())
    except Exception as error:  # noqa: BLE001 (the sandbox starts its kernel itself)
        if not started:
            traceback.print_exc()
            try:
                conn.send(json.dumps({"error": f"{type(error).__name__}: {error}"}).encode())
            except OSError:
                pass
    os._exit(0)


def _remove(folder: str) -> None:
    """Remove the server's folder (its socket and log) from the machine's /tmp, through
    descriptors opened before the server's own mounts hid it."""
    parent = os.open(os.path.dirname(folder), os.O_RDONLY | os.O_DIRECTORY)
    own = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)

    def remove() -> None:
        for name in os.listdir(own):
            os.unlink(name, dir_fd=own)
        os.rmdir(os.path.basename(folder), dir_fd=parent)

    atexit.register(remove)


def serve(path: str, parent: int, role: str = "judge") -> None:
    """Listen at `path`, import the modules of `role`'s kernels, then fork one for each connection;
    stop, removing its folder, when `parent` (the grading process that started the server,
    named by itself: it may end before the server starts) is no longer its parent."""
    env = {k: v for k, v in os.environ.items() if k not in PLACED}  # each kernel's, but PLACED
    if os.geteuid() != 0:
        sys.exit("the kernel server runs as root")
    if role not in ROLES:
        sys.exit(f"a kernel server's role is one of {', '.join(ROLES)}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    previous = os.umask(0o077)
    listener.bind(path)  # before its own mounts: in the machine's /tmp, for the launchers
    os.umask(previous)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    listener.listen(64)
    _remove(os.path.dirname(path))
    if role == "judge":  # the tests' data set, decoded once (before /tmp, where it is, is hidden)
        from course_utils.data import keep_decoded

        keep_decoded()
    _private_mounts()
    began = time.monotonic()
    imported = (role, began, preload(role))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked processes are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # atexit: the folder goes
    listener.settimeout(2.0)
    while os.getppid() == parent:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            _fork_kernel(conn, env, imported)
        conn.close()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), *sys.argv[3:4])
