"""The launcher's watch over a sandbox: process trees, their memory, a kill past the budget."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from course_utils.grading.watcher import descendants, processes_of, sandbox_memory

PYTHON = sys.executable
HOLD = "import sys, time\nblock = bytearray(int(sys.argv[1]))\nprint('ready', flush=True)\n"
HOLD += "time.sleep(30)\n"


def _watched(tmp_path, command: list[str], memory: int) -> subprocess.CompletedProcess:
    """Run `watch(command)` in a process of its own (it exits with the command's status)."""
    code = (
        "import sys\n"
        "from course_utils.grading.watcher import watch\n"
        f"watch({command!r}, {{'PATH': '/usr/bin'}}, {memory}, [])\n"
    )
    return subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )


def test_processes_of_a_user_count_this_one():
    assert processes_of(os.getuid()) >= 1
    assert processes_of(2_000_000_000) == 0  # a user nobody is


def test_descendants_and_their_memory_cover_the_whole_tree(tmp_path):
    script = tmp_path / "tree.py"
    script.write_text(
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {HOLD!r}, str(40 * 2**20)],"
        " stdout=subprocess.PIPE)\n"
        "child.stdout.readline()\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(30)\n"
    )
    parent = subprocess.Popen(
        [PYTHON, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        child = int(parent.stdout.readline())
        tree = descendants(parent.pid)
        assert tree[0] == parent.pid and child in tree
        assert descendants(child) == [child]
        assert os.getpid() not in tree
        whole, part = sandbox_memory(parent.pid), sandbox_memory(child)
        assert part >= 40 * 2**20  # the bytes the child holds
        assert whole > part
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # the child too
        parent.wait()
    assert sandbox_memory(parent.pid) == 0  # reaped: nothing left to count


def test_a_process_that_is_gone_has_no_memory_and_no_children():
    done = subprocess.run([PYTHON, "-c", "import os; print(os.getpid())"], capture_output=True)
    gone = int(done.stdout)
    assert sandbox_memory(gone) == 0
    assert descendants(gone) == [gone]


def test_the_watcher_exits_with_its_commands_status(tmp_path):
    done = _watched(tmp_path, [PYTHON, "-c", "import sys; print('hi'); sys.exit(5)"], 0)
    assert done.returncode == 5
    assert "hi" in done.stdout


def test_the_command_gets_exactly_the_environment_given(tmp_path):
    done = _watched(tmp_path, [PYTHON, "-c", "import os; print(sorted(os.environ))"], 0)
    assert done.returncode == 0
    assert done.stdout.strip() == "['PATH']" or done.stdout.strip().startswith("['LC_CTYPE'")


def test_a_command_past_its_memory_budget_is_killed_and_it_says_so(tmp_path):
    budget = 60 * 2**20
    start = time.monotonic()
    done = _watched(tmp_path, [PYTHON, "-c", HOLD, str(150 * 2**20)], budget)
    assert time.monotonic() - start < 20  # well before the command's 30 s sleep ends
    assert done.returncode == (-9) & 0xFF  # SIGKILL, as the launcher's own exit status
    assert f"more than {budget} bytes" in done.stderr
