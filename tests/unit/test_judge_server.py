"""The kernel server's checks before it forks a kernel: each refusal leaves the sandbox to start
its kernel itself. The fork into a sandbox is tested by grading (tests/test_sandbox.py)."""

from __future__ import annotations

import array
import json
import os
import socket
import struct

import pytest

from course_utils.grading import judge_server, judge_start

KERNEL = ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "/work/kernel.json"]


def test_only_ipykernel_on_its_connection_file_with_nbgraders_options_is_run():
    assert judge_server._kernel_file(KERNEL) == ["-f", "/work/kernel.json"]
    nbgrader = [*KERNEL, *judge_server.OPTIONS]  # the student's kernel, as nbgrader starts it
    assert judge_server._kernel_file(nbgrader) == ["-f", "/work/kernel.json", *judge_server.OPTIONS]
    for other in (
        ["/bin/sh", "-c", "id", "-f", "x"],
        KERNEL[:4],
        [*KERNEL, "--extra"],
        [*KERNEL, "--IPKernelApp.exec_lines=['import os']"],
        [*nbgrader, *judge_server.OPTIONS, "--x"],
        "python -m ipykernel_launcher -f x",
        [*KERNEL[:4], 7],
    ):
        with pytest.raises(ValueError, match="not a kernel command"):
            judge_server._kernel_file(other)


def _pair() -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    return ours, theirs


def test_a_message_brings_its_senders_credentials_and_descriptors():
    ours, theirs = _pair()
    fds = array.array("i", [0, 1, 2]).tobytes()
    ours.sendmsg(
        [b'{"a": 1}'], [judge_start.credentials(), (socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)]
    )
    message, creds, received = judge_server._receive(theirs)
    assert message == {"a": 1} and creds == (os.getpid(), os.getuid(), os.getgid())
    assert len(received) == 3
    for fd in received:
        os.close(fd)
    ours.send(b"[1, 2]")
    with pytest.raises(ValueError, match="not an object"):
        judge_server._receive(theirs)


def test_a_forged_pid_is_refused_by_the_kernel_itself():
    ours, _ = _pair()
    forged = struct.pack(judge_start.CREDENTIALS, 1, os.getuid(), os.getgid())
    if os.geteuid() == 0:
        pytest.skip("root may speak for any process")
    with pytest.raises(PermissionError):
        ours.sendmsg([b"{}"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, forged)])


def _refusal(setup: dict, request: dict, env: dict) -> str:
    """What a forked `_fork_kernel` answers `request` (after `setup`) when it refuses."""
    ours, theirs = _pair()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child exits in `_fork_kernel`)
        ours.close()
        judge_server._fork_kernel(theirs, env)
    theirs.close()
    streams = array.array("i", [0, 1, 2]).tobytes()
    ours.sendmsg([json.dumps(setup).encode()], [judge_start.credentials()])
    try:
        ours.sendmsg(
            [json.dumps(request).encode()],
            [judge_start.credentials(), (socket.SOL_SOCKET, socket.SCM_RIGHTS, streams)],
        )
    except OSError:  # it refused the setup and closed
        pass
    answer = json.loads(ours.recv(judge_start.MAX_MESSAGE))
    os.waitpid(child, 0)
    return str(answer["error"])


def test_a_request_from_outside_any_sandbox_is_refused():
    env = {"PATH": "/usr/bin"}
    setup = {"groups": [], "uid": os.getuid(), "limits": {}}
    request = {"argv": KERNEL, "env": env, "cwd": "/"}
    if os.getuid() == 0:  # root is never a judge's user
        assert "did not come from the kernel's sandbox" in _refusal(setup, request, env)
    else:  # this process shares the server's user namespace: no sandbox
        assert "did not come from a sandbox" in _refusal(setup, request, env)


def test_a_request_for_another_user_environment_or_command_is_refused():
    env = {"PATH": "/usr/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}
    setup = {"groups": [], "uid": os.getuid() + 1, "limits": {}}
    request = {"argv": KERNEL, "env": {**env, "PWD": "/work"}, "cwd": "/"}  # PWD: bubblewrap's
    assert "did not come from the kernel's sandbox" in _refusal(setup, request, env)
    other = {**request, "env": {"PATH": "/bin", "EXTRA": "1"}}
    said = _refusal(setup, other, env)
    assert "environment is not the server's: ['EXTRA', 'TF_CPP_MIN_LOG_LEVEL', 'PATH']" in said
    said = _refusal(setup, {**request, "argv": ["/bin/sh", "-c", "id"]}, env)
    assert "not a kernel command" in said


def test_a_setup_from_another_user_than_the_servers_is_refused():
    if os.geteuid() != 0:
        pytest.skip("a server of another user than this process's is made as root")
    ours, theirs = _pair()
    child = os.fork()
    if child == 0:  # pragma: no cover (a server running as nobody, the setup sent by root)
        ours.close()
        os.setresuid(65534, 65534, 65534)
        judge_server._fork_kernel(theirs, {})
    theirs.close()
    ours.sendmsg([b'{"uid": 1}'], [judge_start.credentials()])
    answer = json.loads(ours.recv(judge_start.MAX_MESSAGE))
    os.waitpid(child, 0)
    assert "the kernel's setup did not come from the launcher" in answer["error"]
