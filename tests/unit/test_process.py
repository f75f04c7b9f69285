"""`Supervisor`: one command under a wall-clock limit, its output in a log, its group killed."""

from __future__ import annotations

import os
import sys
import threading
import time

from course_utils.grading.process import ProcessResult, Supervisor

PYTHON = sys.executable


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin"), "PYTHONDONTWRITEBYTECODE": "1"}


def test_a_command_that_ends_gives_its_status_and_appends_its_output(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("before\n")
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    result = Supervisor().run([PYTHON, "-c", code], tmp_path, _env(), 30, log)
    assert result.status == 3
    assert not result.timed_out
    assert result.wall > 0
    assert result.peak_rss > 0
    text = log.read_text()
    assert text.startswith("before\n")  # appended, not replaced
    assert "out" in text and "err" in text  # stderr goes to the same log


def test_the_command_runs_in_its_folder_with_exactly_the_environment_given(tmp_path):
    log = tmp_path / "log.txt"
    code = "import os; print(os.getcwd()); print(sorted(os.environ))"
    env = {"ONLY_THIS": "1"}
    result = Supervisor().run([PYTHON, "-c", code], tmp_path, env, 30, log)
    assert result.status == 0
    lines = log.read_text().splitlines()
    assert os.path.samefile(lines[0], tmp_path)
    assert "ONLY_THIS" in lines[1] and "PATH" not in lines[1].replace("'ONLY_THIS'", "")


def test_a_command_past_its_time_is_killed_with_its_group(tmp_path):
    log = tmp_path / "log.txt"
    marker = tmp_path / "child-alive"
    # the command starts a grandchild in its group that would write a file a moment later
    late = tmp_path / "late.py"
    late.write_text(f"import time\ntime.sleep(1.0)\nopen({str(marker)!r}, 'w').write('x')\n")
    script = tmp_path / "parent.py"
    script.write_text(
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, {str(late)!r}])\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    start = time.monotonic()
    result = Supervisor().run([PYTHON, str(script)], tmp_path, _env(), 0.5, log)
    assert result.timed_out and result.status is None
    assert time.monotonic() - start < 10
    assert "started" in log.read_text()
    time.sleep(1.2)
    assert not marker.exists()  # the grandchild died with the group


def test_cpu_time_is_counted(tmp_path):
    code = "import time\nwhile time.process_time() < 0.3: pass"
    result = Supervisor().run([PYTHON, "-c", code], tmp_path, _env(), 30, tmp_path / "log")
    assert result.status == 0
    assert result.cpu >= 0.25


def test_the_data_memory_cap_makes_large_allocations_fail(tmp_path):
    log = tmp_path / "log.txt"
    code = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_DATA)\n"
        "print('soft', soft)\n"
        "try:\n    b = bytearray(600 * 2**20)\nexcept MemoryError:\n    print('refused')\n"
    )
    memory = 300 * 2**20
    result = Supervisor().run([PYTHON, "-c", code], tmp_path, _env(), 30, log, memory=memory)
    assert result.status == 0
    text = log.read_text()
    assert f"soft {memory}" in text
    assert "refused" in text


def test_stop_all_kills_running_commands_and_refuses_new_ones_until_reset(tmp_path):
    supervisor = Supervisor()
    results: list[ProcessResult] = []
    worker = threading.Thread(
        target=lambda: results.append(
            supervisor.run(
                [PYTHON, "-c", "import time; time.sleep(60)"], tmp_path, _env(), 60, tmp_path / "a"
            )
        )
    )
    worker.start()
    deadline = time.monotonic() + 10
    while not supervisor._running and time.monotonic() < deadline:
        time.sleep(0.02)
    supervisor.stop_all()
    worker.join(10)
    assert not worker.is_alive()
    assert results and results[0].status is not None  # killed, not timed out: a signal status
    assert results[0].status < 0
    refused = supervisor.run([PYTHON, "-c", "pass"], tmp_path, _env(), 30, tmp_path / "b")
    assert refused == ProcessResult(None) and refused.timed_out
    assert not (tmp_path / "b").exists()  # never started
    supervisor.reset()
    assert supervisor.run([PYTHON, "-c", "pass"], tmp_path, _env(), 30, tmp_path / "c").status == 0
