"""`nbrun_server`: nbgrader imported once; each `nbrun` forked from it, as the command would run.

nbgrader reads ``nbgrader_config.py`` in its working folder, as Python: the tests' configs
print what the forked process sees (folder, environment, limits, session) or make it run long.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time

import pytest

from course_utils.environment import tool_env
from course_utils.grading import nbrun_server
from course_utils.grading.process import FORKED_REPORT, Supervisor

SEES = """
import json, os, resource
print("SEES " + json.dumps({
    "cwd": os.getcwd(),
    "env": sorted(os.environ),
    "data": resource.getrlimit(resource.RLIMIT_DATA)[0],
    "session": os.getsid(0) == os.getpid(),
    "hashseed": os.environ.get("PYTHONHASHSEED"),
}), flush=True)
"""


@pytest.fixture(scope="module")
def server():
    path = nbrun_server.address({"PYTHONHASHSEED": "7"})
    assert path and os.path.exists(path)
    yield path
    nbrun_server.stop()


def _sees(log) -> dict:
    line = next(t for t in log.read_text().splitlines() if t.startswith("SEES "))
    return json.loads(line[5:])


def test_a_forked_nbrun_runs_in_its_folder_session_and_environment_with_its_limit(server, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(SEES)
    log = tmp_path / "log"
    env = {"PATH": os.environ["PATH"], "ONLY_THIS": "1"}
    memory = 3 << 30
    result = Supervisor().run_forked(server, ["lab", "ada"], tmp_path, env, 60, log, memory)
    assert result is not None and result.status == 1  # nothing to autograde: nbrun's failure
    assert result.cpu > 0 and result.peak_rss > 0 and not result.timed_out
    seen = _sees(log)
    assert os.path.samefile(seen["cwd"], tmp_path)
    assert seen["env"] == ["ONLY_THIS", "PATH"]
    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    assert seen["data"] == (memory if hard == resource.RLIM_INFINITY else min(memory, hard))
    assert seen["session"]
    assert "No notebooks were matched" in log.read_text()  # nbgrader's own output, in the log


def test_the_same_server_forks_again_and_the_command_sees_the_same(server, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(SEES)
    env = tool_env(None, PYTHONHASHSEED="7")
    forked = Supervisor().run_forked(server, ["lab", "ada"], tmp_path, env, 60, tmp_path / "a")
    assert nbrun_server.address({"PYTHONHASHSEED": "7"}) == server
    command = [sys.executable, "-m", nbrun_server.NBRUN, "lab", "ada"]
    started = Supervisor().run(command, tmp_path, env, 60, tmp_path / "b")
    assert forked is not None and (forked.status, started.status) == (1, 1)
    a, b = _sees(tmp_path / "a"), _sees(tmp_path / "b")
    assert a["env"] == b["env"] and a["hashseed"] == b["hashseed"] == "7"


def test_a_forked_nbrun_past_its_time_is_killed_with_its_group(server, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("import time\ntime.sleep(60)\n")
    start = time.monotonic()
    result = Supervisor().run_forked(
        server, ["lab", "ada"], tmp_path, {"PATH": os.environ["PATH"]}, 2, tmp_path / "log"
    )
    assert result is not None and result.timed_out and result.status is None
    assert time.monotonic() - start < 10


def test_a_server_that_cannot_be_reached_runs_nothing(tmp_path):
    missing = str(tmp_path / "no-server")
    assert Supervisor().run_forked(missing, ["lab", "ada"], tmp_path, {}, 5, tmp_path / "l") is None
    assert not (tmp_path / "l").read_bytes()


def test_a_malformed_request_is_refused_and_the_server_goes_on(server, tmp_path):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    conn.settimeout(30)
    conn.connect(server)
    conn.send(b'{"args": "not a list"}')  # and no log
    reply = json.loads(conn.recv(1 << 16))  # the forked process gave up, ran nothing
    assert "pid" not in reply and reply["status"] == 1
    assert conn.recv(1 << 16) == b""
    conn.close()
    (tmp_path / "nbgrader_config.py").write_text(SEES)
    again = Supervisor().run_forked(
        server, ["lab", "ada"], tmp_path, {"PATH": os.environ["PATH"]}, 60, tmp_path / "log"
    )
    assert again is not None and again.status == 1


def test_the_report_names_status_cpu_and_memory():
    assert FORKED_REPORT == ("status", "cpu", "peak_rss")


def test_the_server_stops_when_the_process_that_started_it_ends(tmp_path):
    code = (
        "from course_utils.grading import nbrun_server\n"
        "import atexit, os\natexit.unregister(nbrun_server.stop)\n"
        "print(nbrun_server._SERVER[0][0].pid if nbrun_server.address({}) else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    pid = int(done.stdout.strip())
    assert pid > 0, done.stderr
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.2)
    alive = os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z"
    assert not alive, "the server outlived the process that started it"


def test_a_stopping_supervisor_forks_nothing(server, tmp_path):
    supervisor = Supervisor()
    supervisor.stop_all()
    log = tmp_path / "log"
    result = supervisor.run_forked(server, ["lab", "ada"], tmp_path, {}, 60, log)
    assert result is not None and result.timed_out and result.wall == 0.0
    assert not log.exists()
