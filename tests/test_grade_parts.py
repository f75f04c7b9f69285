"""The grader's parts on small inputs: sizes, hidden-test removal, permissions, gradebook copies,
refused submissions, the memory watcher and control groups."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from course_utils.grading.gradebook import merge, snapshot, submission_rows
from course_utils.grading.isolation import open_path_to, protect_course
from course_utils.grading.jobs import parse_size
from course_utils.grading.preprocessors import HideHiddenTests
from course_utils.grading.regions import hidden_lines, without_hidden
from support import Course

TEST = """assert answer() == 42, "answer() should be 42"
### BEGIN HIDDEN TESTS
assert answer_for(7) == 49, "the hidden check of answer_for"
assert secret_helper_value() > 0
### END HIDDEN TESTS"""


def test_sizes_read_as_people_write_them():
    assert parse_size("4G") == 4 * 2**30
    assert parse_size("512M") == 512 * 2**20
    assert parse_size("1.5GiB") == int(1.5 * 2**30)
    assert parse_size("1048576") == 2**20


def test_hidden_blocks_are_found_and_replaced():
    assert hidden_lines(TEST) == [
        'assert answer_for(7) == 49, "the hidden check of answer_for"',
        "assert secret_helper_value() > 0",
    ]
    assert without_hidden(TEST) == (
        'assert answer() == 42, "answer() should be 42"\n# (2 lines of hidden tests are not shown)'
    )


def notebook() -> nbformat.NotebookNode:
    test = new_code_cell(
        TEST,
        metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 1}},
    )
    test.outputs = [
        new_output("stream", name="stdout", text="printed: assert secret_helper_value() > 0\n"),
        new_output(
            "error",
            ename="AssertionError",
            evalue="the hidden check of answer_for",
            traceback=[
                "Cell In[3], line 3",
                '----> 3 assert answer_for(7) == 49, "the hidden check of answer_for"',
                "AssertionError: the hidden check of answer_for",
            ],
        ),
    ]
    student = new_code_cell(
        "def answer():\n    return 42",
        metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": "s"}},
    )
    student.outputs = [
        new_output(
            "stream",
            name="stdout",
            text='\x1b[0;31massert answer_for(7) == 49, "the hidden check of answer_for"\x1b[0m',
        )
    ]
    return new_notebook(cells=[student, test])


def test_feedback_keeps_results_and_messages_but_no_hidden_line():
    nb, _ = HideHiddenTests().preprocess(notebook(), {})
    student, test = nb.cells
    assert "answer_for(7)" not in test.source and "secret_helper_value" not in test.source
    assert "assert answer() == 42" in test.source  # the visible test stays
    error = test.outputs[1]
    assert error.ename == "AssertionError" and error.evalue == "the hidden check of answer_for"
    assert error.traceback == ["AssertionError: the hidden check of answer_for"]
    text = nbformat.writes(nb)
    assert "answer_for(7)" not in text and "secret_helper_value" not in text
    assert "[hidden test]" in test.outputs[0].text and "[hidden test]" in student.outputs[0].text


@pytest.mark.skipif(
    os.geteuid() != 0, reason="permissions only matter when student code runs as another user"
)
def test_course_folder_is_closed_to_other_users_but_the_environment(tmp_path):
    course = tmp_path / "course"
    for name in ("source", "submitted", ".venv/bin", "course_utils"):
        (course / name).mkdir(parents=True)
    (course / "gradebook.db").write_text("")
    for path in course.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    course.chmod(0o755)
    changed = protect_course(course, [course / ".venv", course / "course_utils"])
    other = lambda p: stat.S_IMODE(p.stat().st_mode) & 0o007  # noqa: E731
    assert other(course) == 0o001  # traverse only: the kernel reaches .venv, lists nothing
    assert (
        other(course / "source")
        == other(course / "submitted")
        == other(course / "gradebook.db")
        == 0
    )
    assert other(course / ".venv") == other(course / "course_utils") == 0o005
    assert set(changed) == {
        course,
        course / "source",
        course / "submitted",
        course / "gradebook.db",
    }
    assert protect_course(course, [course / ".venv"]) == [course / "course_utils"]


@pytest.mark.skipif(
    os.geteuid() != 0, reason="permissions only matter when student code runs as another user"
)
def test_folders_above_the_environment_become_traversable(tmp_path):
    deep = tmp_path / "home" / "python" / "bin"
    deep.mkdir(parents=True)
    (tmp_path / "home").chmod(0o700)
    assert tmp_path / "home" in open_path_to([deep])
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o701
    assert open_path_to([deep]) == []


def test_a_worker_sees_only_its_student_and_merging_replaces_only_that_student(tmp_path):
    course = Course(tmp_path, "lab3_part2")
    db = course.root / "gradebook.db"
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        for student in ("ann", "bob"):
            gb.add_student(student)
            gb.add_submission("lab3_part2", student)
    copy = tmp_path / "copy.db"
    copy.write_bytes(snapshot(db, "ann"))
    con = sqlite3.connect(copy)
    assert [r[0] for r in con.execute("SELECT student_id FROM submitted_assignment")] == ["ann"]
    assert [r[0] for r in con.execute("SELECT id FROM student")] == ["ann"]
    con.execute("UPDATE grade SET auto_score = 1.5")
    con.commit()
    con.close()
    rows = submission_rows(copy, "lab3_part2", "ann")
    assert rows["grade"] and all(r["auto_score"] == 1.5 for r in rows["grade"])
    before = submission_rows(db, "lab3_part2", "bob")
    merge(db, "lab3_part2", "ann", rows)
    assert submission_rows(db, "lab3_part2", "ann") == rows
    assert submission_rows(db, "lab3_part2", "bob") == before
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _submission(tmp_path):
    folder = tmp_path / "submitted" / "student" / "lab"
    folder.mkdir(parents=True)
    (folder / "lab.ipynb").write_text("{}")
    return folder


def test_links_fifos_and_devices_are_left_out_or_refused(tmp_path):
    from course_utils.grading.archive import tar_folder, untar
    from course_utils.grading.submissions import refusal

    folder = _submission(tmp_path)
    os.mkfifo(folder / "pipe")
    (folder / "shadow.txt").symlink_to("/etc/shadow")
    (folder / "up").symlink_to(tmp_path)
    if os.geteuid() == 0:
        os.mknod(folder / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    assert refusal(folder) is None  # graded as a plain notebook: the rest is left out
    untar(tar_folder(folder), tmp_path / "unpacked")
    assert [p.name for p in (tmp_path / "unpacked").iterdir()] == ["lab.ipynb"]

    (folder / "lab.ipynb").unlink()
    os.mkfifo(folder / "lab.ipynb")
    assert refusal(folder) == "lab.ipynb is a FIFO, not a file: hand in the notebook itself"
    (folder / "lab.ipynb").unlink()
    (folder / "lab.ipynb").symlink_to(tmp_path / "gradebook.db")
    assert refusal(folder).startswith("lab.ipynb is a link")
    (folder / "lab.ipynb").unlink()
    (folder / "timestamp.txt").symlink_to("/dev/zero")
    assert refusal(folder).startswith("timestamp.txt is a link")

    linked = tmp_path / "submitted" / "linked"
    linked.symlink_to(folder.parent)
    assert refusal(linked / "lab").startswith("linked is a link, not a folder")


def test_a_folder_of_too_many_files_is_refused_and_not_packed(tmp_path):
    from course_utils.grading.archive import MAX_FILES, TooLarge, tar_folder
    from course_utils.grading.submissions import refusal

    folder = _submission(tmp_path)
    for i in range(MAX_FILES):
        (folder / f"f{i}").write_bytes(b"")
    assert refusal(folder).startswith(f"the submission holds more than {MAX_FILES} files")
    with pytest.raises(TooLarge):
        tar_folder(folder)


def test_the_watcher_adds_up_the_memory_of_a_process_tree():
    import subprocess
    import sys

    from course_utils.grading.watcher import sandbox_memory

    child = (
        'import subprocess, sys, time; held = b"x" * (100 * 2**20); '
        "p = subprocess.Popen([sys.executable, '-c', "
        "'import time; held = b\"x\" * (100 * 2**20); print(1, flush=True); time.sleep(30)'], "
        "stdout=subprocess.PIPE); p.stdout.readline(); print(1, flush=True); time.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE)
    try:
        parent.stdout.readline()
        assert sandbox_memory(parent.pid) > 180 * 2**20  # two processes of 100 MiB each
    finally:
        parent.kill()
        parent.wait()


def test_a_control_group_holds_the_budget_and_is_removed_with_its_processes():
    import subprocess
    import time

    from course_utils.grading import cgroups

    paths = cgroups.create(256 * 2**20, 16)
    if not paths:
        pytest.skip("no control group can be made here (the launcher's watcher is used)")
    hog = "import time; held = b\"x\" * (400 * 2**20); print('held', flush=True); time.sleep(30)"
    process = subprocess.Popen(
        ["python3", "-c", hog],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: cgroups.join(paths),
    )
    assert process.stdout.read() == ""  # killed before it held 400 MiB
    assert process.wait() == -9
    cpu, peak = cgroups.usage(paths)
    assert 200 * 2**20 < peak <= 256 * 2**20
    assert cpu > 0
    sleeper = subprocess.Popen(["sleep", "60"], preexec_fn=lambda: cgroups.join(paths))
    time.sleep(0.2)
    assert cgroups.remove(paths) >= 1
    assert sleeper.wait(timeout=10) == -9
    assert not any(os.path.exists(p) for p in paths)


def test_the_report_says_what_is_missing_and_creates_nothing(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    from course_utils.environment import tool_env

    monkeypatch.setenv("PATH", tool_env()["PATH"])  # nbgrader's gradebook runs alembic

    def report(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "course_utils.grade", "report", *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)

    done = report("lab3_part2")
    assert done.returncode == 2 and "no gradebook.db in" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        gb.add_assignment("lab3_quiz")
    done = report("lab3_part2", "--course", str(tmp_path))
    assert done.returncode == 2 and "no assignment 'lab3_part2'" in done.stderr, done.stderr
    assert not (tmp_path / "grades").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_grading_as_root_hands_its_outputs_to_the_courses_owner(tmp_path):
    from course_utils.grading.isolation import hand_back

    course = tmp_path / "course"
    (course / "autograded" / "ada" / "lab").mkdir(parents=True)
    (course / "grades").mkdir()
    (course / "gradebook.db").write_text("")
    (course / "grades" / "lab.csv").write_text("student\n")
    (course / "autograded" / "ada" / "lab" / "lab.ipynb").write_text("{}")
    victim = tmp_path / "root-owned"
    victim.write_text("")
    (course / "autograded" / "ada" / "lab" / "link").symlink_to(victim)
    (course / "autograded" / "ada" / "linked-folder").symlink_to(tmp_path)
    (course / "release").mkdir()  # not an output: left as it is
    os.chown(course, 65534, 65534)

    assert hand_back(course) == 9
    for path in [p for p in course.rglob("*") if p.name != "release"]:
        assert path.lstat().st_uid == 65534, path
    assert victim.stat().st_uid == 0 and tmp_path.stat().st_uid == 0, "links are not followed"
    assert (course / "release").stat().st_uid == 0
    assert hand_back(course) == 0


def test_nbgraders_own_process_has_a_memory_limit_that_its_kernels_may_raise(tmp_path):
    """The grader's per-submission process reads what kernels print: its data memory is capped
    (soft), and the kernels it starts can still set their own, larger budgets."""
    import resource
    import sys

    from course_utils.grading.process import Supervisor

    probe = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_DATA)\n"
        "print('LIMIT', soft, hard == resource.RLIM_INFINITY or hard >= 3 * 2**30)\n"
        "try:\n"
        "    b = bytearray(3 * 2**29)\n"
        "    print('ALLOCATED')\n"
        "except MemoryError:\n"
        "    print('REFUSED')\n"
        "resource.setrlimit(resource.RLIMIT_DATA, (min(hard, 3 * 2**30), hard))\n"
        "b = bytearray(3 * 2**29)\n"
        "print('RAISED')\n"
    )
    log = tmp_path / "log"
    run = Supervisor().run(
        [sys.executable, "-c", probe], tmp_path, {"PATH": "/usr/bin"}, 60, log, memory=2**30
    )
    assert run.status == 0, log.read_text()
    assert log.read_text().split() == ["LIMIT", str(2**30), "True", "REFUSED", "RAISED"]
    assert resource.getrlimit(resource.RLIMIT_DATA)[0] != 2**30  # the grader's own: untouched


def test_a_test_past_its_cpu_budget_stops_and_the_next_gets_a_fresh_one():
    """The judge gives each test a CPU-time budget: past it the test raises, the judge lives."""
    import subprocess
    import sys

    probe = (
        "import signal, time\n"
        "from course_utils.grading import judge\n"
        "judge._settings['cpu'] = 1\n"
        "signal.signal(signal.SIGXCPU, judge._cpu_limit_reached)\n"
        "for test in (1, 2):\n"
        "    judge._cpu_budget(1)\n"
        "    start = time.process_time()\n"
        "    try:\n"
        "        while time.process_time() - start < 10:\n"
        "            pass\n"
        "        print('RAN ON')\n"
        "    except judge.TestCPULimit as error:\n"
        "        print('STOPPED', round(time.process_time() - start), error)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) == 2, done.stdout + done.stderr
    for line in lines:
        assert line.startswith("STOPPED") and "more than 1 s of CPU time" in line, line
        assert int(line.split()[1]) <= 3
