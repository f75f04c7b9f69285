"""The kernel servers of a grading process: one per role and environment, at most
`MAX_SERVERS`, stopped at exit."""

from __future__ import annotations

import os

import pytest

from course_utils.grading import judge_server, judge_servers, namespaces
from course_utils.grading.sandbox import Settings, kernel_environment


def test_without_root_no_server_is_started(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert judge_servers.address({"PATH": "/usr/bin"}) is None
    assert judge_servers.setting({"PATH": "/usr/bin"}, "/data", "kernel") == {}
    assert judge_servers._SERVERS == {}


@pytest.mark.skipif(os.geteuid() != 0, reason="the servers run as root")
def test_the_launchers_setting_names_a_server_with_the_kernels_environment_in_its_sandbox():
    nbgrader = {"PATH": "/usr/bin", "LAB_EPOCHS": "2", "COURSE_KIT_TEST_SECRET": "x"}
    try:
        for role in judge_server.ROLES:
            setting = judge_servers.setting(nbgrader, "/data", role)
            assert list(setting) == [Settings.SERVER] and os.path.exists(setting[Settings.SERVER])
            inside = kernel_environment(namespaces.HOME, "/tmp", "/data", role == "judge", nbgrader)
            assert "COURSE_KIT_TEST_SECRET" not in inside and inside["LAB_EPOCHS"] == "2"
            assert judge_servers.address(inside, role) == setting[Settings.SERVER]
    finally:
        judge_servers.stop_all()


@pytest.mark.skipif(os.geteuid() != 0, reason="the servers run as root")
def test_one_server_per_role_and_environment_each_listening_and_stopped_at_the_end():
    first = {"PATH": os.environ["PATH"], "LAB_EPOCHS": "1"}
    try:
        path = judge_servers.address(first)
        assert path is not None and os.path.exists(path)
        assert os.stat(os.path.dirname(path)).st_mode & 0o077 == 0  # root's alone
        assert judge_servers.address(dict(first), "judge") == path  # the same server
        kernels = judge_servers.address(first, "kernel")  # the student's kernels: another
        assert kernels not in (None, path)
        with pytest.raises(ValueError, match="no kernel server has the role"):
            judge_servers.address(first, "teacher")
        others = [
            judge_servers.address({**first, "LAB_EPOCHS": str(epochs)})
            for epochs in range(2, judge_servers.MAX_SERVERS + 1)
        ]
        assert len({path, kernels, *others} - {None}) == judge_servers.MAX_SERVERS + 1
        assert len(judge_servers._SERVERS) == judge_servers.MAX_SERVERS
        assert not os.path.exists(path)  # the oldest made room, its folder gone
        assert judge_servers.cpu_seconds() >= 0.0
    finally:
        folders = [folder for _, folder in judge_servers._SERVERS.values()]
        judge_servers.stop_all()
    assert judge_servers._SERVERS == {} and not any(f.exists() for f in folders)


@pytest.mark.skipif(os.geteuid() != 0, reason="the servers run as root")
def test_a_server_whose_grading_process_ended_stops_and_removes_its_folder():
    import subprocess
    import sys
    import time

    code = (  # the grading process ends while its server imports Keras
        "from course_utils.grading import judge_servers\n"
        "print(judge_servers.address({'PATH': '/usr/bin'}))\n"
        "import os; os._exit(0)\n"  # no exit handlers: as when a worker is killed
    )
    path = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert path.endswith("/server")
    deadline = time.monotonic() + 60
    while os.path.exists(os.path.dirname(path)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not os.path.exists(os.path.dirname(path))
