"""The sandbox's side of the judge server: the launcher's setup, the request, the fallback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from course_utils.grading import judge_server, judge_start

PYTHON = sys.executable


def _listener(tmp_path):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(str(tmp_path / "server"))
    server.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    server.listen(1)
    return server


def test_the_launcher_sends_groups_user_and_its_own_limits_with_checked_credentials(tmp_path):
    server = _listener(tmp_path)
    fd = judge_start.connect(str(tmp_path / "server"), ["/sys/fs/cgroup/memory/x"], 123456)
    assert fd is not None and os.get_inheritable(fd)
    conn, _ = server.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    setup, (pid, uid, _), fds = judge_server._receive(conn)
    assert (pid, uid, fds) == (os.getpid(), os.getuid(), [])
    assert setup["groups"] == ["/sys/fs/cgroup/memory/x"] and setup["uid"] == 123456
    assert {int(k) for k in setup["limits"]} == set(judge_start.LIMITS)
    assert 0 < setup["asked"] <= time.monotonic()  # the machine's clock: the server's too
    os.close(fd)


def test_a_kernel_tells_how_long_it_waited_for_its_servers_import_of_keras():
    def seconds(line: str) -> float:
        return float(line.split(" waited ")[1].split(" s ")[0])

    # the import took 4 s from time 10: asked before it began, during it, after it
    assert seconds(judge_start.waited(8.0, "kernel", 10.0, 4.0)) == 4.0
    assert seconds(judge_start.waited(11.5, "kernel", 10.0, 4.0)) == 2.5
    assert seconds(judge_start.waited(20.0, "kernel", 10.0, 4.0)) == 0.0
    line = judge_start.waited(11.5, "kernel", 10.0, 4.0)
    assert line.startswith("The student's kernel waited") and line.endswith("(4.0 s)\n")
    assert judge_start.waited(11.5, "judge", 10.0, 4.0).startswith("The judge's kernel")
    for unknown in (None, "11.5", True):  # a setup from before, or garbled: nothing said
        assert judge_start.waited(unknown, "kernel", 10.0, 4.0) == ""
    assert judge_start.waited(11.5, "", 0.0, 0.0) == ""


def test_without_a_server_the_launcher_says_so_and_starts_the_kernel_itself(tmp_path, capsys):
    assert judge_start.connect(str(tmp_path / "nothing-here"), [], 1) is None
    assert "the kernel starts without its server" in capsys.readouterr().err


def test_the_wrapped_command_runs_this_module_on_the_connection():
    argv = ["python", "-m", "ipykernel_launcher", "-f", "k.json"]
    assert judge_start.wrap(argv, 7) == [
        PYTHON, "-I", "-m", "course_utils.grading.judge_start", "7", "--", *argv
    ]  # fmt: skip


def _stub(kernel: list[str], answers: list[bytes]) -> tuple[subprocess.CompletedProcess, dict]:
    """Run the module on one end of a socket pair; the other end answers `answers`."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    process = subprocess.Popen(
        judge_start.wrap(kernel, theirs.fileno()),
        pass_fds=[theirs.fileno()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    theirs.close()
    request, (pid, _, _), streams = judge_server._receive(ours)
    for fd in streams:
        os.close(fd)
    assert pid == process.pid and len(streams) == 3  # its own credentials, its three streams
    for answer in answers:
        ours.send(answer)
    out, err = process.communicate(timeout=30)
    ours.close()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), request


def test_the_request_carries_the_kernel_environment_and_folder_and_ends_with_the_judge():
    run, request = _stub(["/bin/echo", "never"], [b'{"started": true}', b'{"status": 3}'])
    assert run.returncode == 3 and run.stdout == ""
    assert request["argv"] == ["/bin/echo", "never"] and request["cwd"] == os.getcwd()
    assert request["env"]["PATH"] == os.environ["PATH"]


def test_a_refusal_starts_the_kernel_in_the_sandbox_as_before():
    refused = json.dumps({"error": "ValueError: not the server's environment"}).encode()
    run, _ = _stub(["/bin/echo", "started itself"], [refused])
    assert run.returncode == 0 and run.stdout == "started itself\n"
    assert "without its server: ValueError: not the server's environment" in run.stderr


def test_the_launchers_limits_are_taken_where_the_server_has_none_and_never_raised():
    code = """
import json, resource as r
from course_utils.grading.judge_start import take_limits
r.setrlimit(r.RLIMIT_DATA, (r.RLIM_INFINITY, r.RLIM_INFINITY))
r.setrlimit(r.RLIMIT_CPU, (r.RLIM_INFINITY, r.RLIM_INFINITY))
hard = r.getrlimit(r.RLIMIT_NOFILE)[1]
r.setrlimit(r.RLIMIT_NOFILE, (64, hard))
take_limits({
    r.RLIMIT_DATA: (3 * 2**30, 3 * 2**30),  # none here: the launcher's
    r.RLIMIT_CPU: (100, r.RLIM_INFINITY),  # a soft limit under no hard one
    r.RLIMIT_NOFILE: (r.RLIM_INFINITY, hard + 1),  # never above this process's own
})
print(json.dumps([hard, *(r.getrlimit(k) for k in (r.RLIMIT_DATA, r.RLIMIT_CPU, r.RLIMIT_NOFILE))]))
"""
    run = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    hard, data, cpu, files = json.loads(run.stdout)
    assert data == [3 * 2**30, 3 * 2**30]
    assert cpu == [100, -1]
    assert files == [hard, hard]
