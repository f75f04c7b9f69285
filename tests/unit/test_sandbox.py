"""The kernel launcher: its environment allow-list, its settings, its kernelspec, a real launch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.grading import namespaces, sandbox
from course_utils.grading.sandbox import (
    PASSED,
    Settings,
    kernel_environment,
    kernel_spec,
)
from course_utils.settings import DATA_DIR, EPOCHS, KERAS_HOME, Launcher

KIT_ROOT = Path(sandbox.__file__).resolve().parents[2]


def test_only_the_allow_list_and_the_kits_own_variables_reach_a_kernel(monkeypatch):
    monkeypatch.setenv(EPOCHS.env, "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    monkeypatch.setenv("LD_PRELOAD", "/tmp/evil.so")
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    env = kernel_environment("/home/student", "/tmp", "/data/fashion")
    assert env[EPOCHS.env] == "3" and env["OMP_NUM_THREADS"] == "1"
    for leaked in ("AWS_SECRET_ACCESS_KEY", "PYTHONPATH", "LD_PRELOAD", "TF_NUM_INTRAOP_THREADS"):
        assert leaked not in env
    assert env["HOME"] == "/home/student" and env["TMPDIR"] == "/tmp"
    assert env["USER"] == env["LOGNAME"] == "student"
    assert env[KERAS_HOME.env] == "/home/student/.keras"
    assert env["MPLCONFIGDIR"].startswith("/home/student/")
    assert env["IPYTHONDIR"].startswith("/home/student/")
    assert env["JUPYTER_PATH"] == "" and env["PYTHONNOUSERSITE"] == "1"
    assert env[Launcher.GRADING] == "1"
    assert env[DATA_DIR.env] == "/data/fashion"
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert "TF_CPP_MIN_LOG_LEVEL" not in env
    allowed = set(PASSED) | {
        "PATH",
        "HOME",
        "TMPDIR",
        "USER",
        "LOGNAME",
        "LANG",
        KERAS_HOME.env,
        "MPLCONFIGDIR",
        "IPYTHONDIR",
        "JUPYTER_PATH",
        "PYTHONNOUSERSITE",
        Launcher.GRADING,
        DATA_DIR.env,
    }
    assert set(env) <= allowed


def test_the_judge_is_quiet_and_no_data_means_no_data_variable(monkeypatch):
    monkeypatch.delenv(DATA_DIR.env, raising=False)
    env = kernel_environment("/h", "/t", None, judge=True)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert DATA_DIR.env not in env


def test_the_launcher_settings_of_one_kernel():
    values = Settings.for_kernel(
        memory=2**30,
        data=Path("/data"),
        uid=200_123,
        isolate=True,
        cgroups=["/sys/fs/cgroup/a", "/sys/fs/cgroup/b"],
        tmpfs=1 << 20,
        cpu=60,
    )
    assert values == {
        Settings.MEMORY: str(2**30),
        Settings.DATA: "/data",
        Settings.ISOLATE: "1",
        Settings.CGROUPS: os.pathsep.join(["/sys/fs/cgroup/a", "/sys/fs/cgroup/b"]),
        Settings.TMPFS: str(1 << 20),
        Settings.CPU: "60",
        Settings.UID: "200123",
    }
    assert set(values) <= set(Settings.ALL)
    plain = Settings.for_kernel(
        memory=0, data=Path("/d"), uid=None, isolate=False, cgroups=[], tmpfs=0, cpu=0
    )
    assert Settings.UID not in plain
    assert plain[Settings.ISOLATE] == "" and plain[Settings.CGROUPS] == ""
    assert len(set(Settings.ALL)) == len(Settings.ALL)
    assert all(name.startswith("COURSE_KIT_") for name in Settings.ALL)


def test_the_kernelspec_starts_ipykernel_through_the_launcher_in_isolated_mode(tmp_path):
    assert kernel_spec(tmp_path, python="/py/bin/python", name="graded") == tmp_path
    spec = json.loads((tmp_path / "kernels" / "graded" / "kernel.json").read_text())
    assert spec["argv"][:5] == ["/py/bin/python", "-I", "-m", "course_utils.grading.sandbox", "--"]
    assert spec["argv"][5:] == [
        "/py/bin/python",
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]
    assert spec["interrupt_mode"] == "message"
    assert spec["language"] == "python"


def test_the_connection_file_is_copied_once_into_the_kernels_folder(tmp_path):
    grader = tmp_path / "grader.json"
    grader.write_text('{"key": "k"}')
    folder = tmp_path / "kernel"
    folder.mkdir()
    argv = sandbox._private_connection(
        ["python", "-m", "x", "-f", str(grader), "--y"], folder, None
    )
    assert argv == ["python", "-m", "x", "-f", str(folder / "kernel.json"), "--y"]
    assert (folder / "kernel.json").read_text() == '{"key": "k"}'
    assert (folder / "kernel.json").stat().st_mode & 0o777 == 0o400
    with pytest.raises(FileExistsError):  # never overwritten, nor followed if a link
        sandbox._private_connection(["p", "-f", str(grader)], folder, None)


def test_a_link_in_place_of_the_private_connection_file_is_not_followed(tmp_path):
    grader = tmp_path / "grader.json"
    grader.write_text("{}")
    folder = tmp_path / "kernel"
    folder.mkdir()
    target = tmp_path / "elsewhere"
    (folder / "kernel.json").symlink_to(target)
    with pytest.raises(OSError):
        sandbox._private_connection(["p", "-f", str(grader)], folder, None)
    assert not target.exists()


def _launch(tmp_path: Path, env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    grader = tmp_path / "connection.json"
    grader.write_text('{"transport": "ipc"}')
    command = [sys.executable, "-I", "-m", "course_utils.grading.sandbox", "--"]
    command += [sys.executable, "-c", code, "-f", str(grader)]
    base = {"PATH": os.environ.get("PATH", "/usr/bin"), "PYTHONPATH": str(KIT_ROOT)}
    return subprocess.run(
        command, env={**base, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=30
    )


def test_a_kernel_without_isolation_gets_its_limits_and_only_the_allowed_environment(tmp_path):
    folder = tmp_path / "kernel"
    folder.mkdir()
    code = (
        "import json, os, resource, sys\n"
        "print(json.dumps({'env': dict(os.environ), 'argv': sys.argv,"
        " 'fsize': resource.getrlimit(resource.RLIMIT_FSIZE),"
        " 'core': resource.getrlimit(resource.RLIMIT_CORE),"
        " 'cpu': resource.getrlimit(resource.RLIMIT_CPU),"
        " 'connection': open(sys.argv[-1]).read(), 'umask': os.umask(0)}))\n"
    )
    env = {
        Settings.FOLDER: str(folder),
        Settings.CPU: "77",
        Settings.DATA: "/no/data",
        EPOCHS.env: "2",
        "GRADER_SECRET": "s3cret",
    }
    done = _launch(tmp_path, env, code)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert "GRADER_SECRET" not in seen["env"] and "PYTHONPATH" not in seen["env"]
    assert seen["env"][EPOCHS.env] == "2"
    assert seen["env"]["HOME"] == str(folder / "home")
    assert seen["env"][DATA_DIR.env] == "/no/data"
    assert seen["argv"][-2:] == ["-f", str(folder / "kernel.json")]
    assert seen["connection"] == '{"transport": "ipc"}'
    assert seen["fsize"] == [sandbox.MAX_FILE_BYTES] * 2
    assert seen["core"] == [0, 0]
    assert seen["cpu"] == [77, 77]
    assert seen["umask"] == sandbox.UMASK
    assert (folder / "home").is_dir()
    assert (folder / "home").stat().st_mode & 0o777 == 0o700


def test_the_launcher_refuses_to_run_without_a_kernel_folder(tmp_path):
    done = _launch(tmp_path, {}, "print('ran')")
    assert done.returncode != 0
    assert "ran" not in done.stdout
    assert "no kernel folder" in done.stderr


def test_the_launcher_without_a_command_says_how_to_use_it(tmp_path):
    base = {"PATH": os.environ.get("PATH", "/usr/bin"), "PYTHONPATH": str(KIT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-I", "-m", "course_utils.grading.sandbox", "--"],
        env=base,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "usage" in done.stderr


@pytest.mark.skipif(namespaces.unavailable() is not None, reason="no sandbox can be made here")
def test_an_isolated_kernel_sees_its_copied_files_its_folders_and_nothing_of_the_course(tmp_path):
    folder, work = tmp_path / "kernel", tmp_path / "work"
    for name in ("sockets", "from-student", "to-student"):
        (folder / name).mkdir(parents=True)
    work.mkdir()
    (work / "helper.py").write_text("VALUE = 1\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("grader only")
    code = (
        "import json, os, sys\n"
        "def can(path, mode):\n"
        "    try:\n"
        "        open(path, mode).close()\n"
        "        return True\n"
        "    except OSError:\n"
        "        return False\n"
        f"print(json.dumps({{'cwd': os.getcwd(), 'files': sorted(os.listdir('.')),"
        f" 'secret': os.path.exists({str(secret)!r}),"
        f" 'answers': can({str(folder / 'from-student' / 'r1.json')!r}, 'w'),"
        f" 'arguments': can({str(folder / 'to-student' / 'r1.json')!r}, 'w'),"
        " 'env': sorted(os.environ), 'home': os.environ['HOME']}))\n"
        "open('new.txt', 'w').write('in the sandbox only')\n"
    )
    env = {Settings.FOLDER: str(folder), Settings.ISOLATE: "1", "GRADER_SECRET": "s"}
    grader = tmp_path / "connection.json"
    grader.write_text("{}")
    command = [sys.executable, "-I", "-m", "course_utils.grading.sandbox", "--"]
    command += [sys.executable, "-c", code, "-f", str(grader)]
    done = subprocess.run(
        command,
        env={"PATH": os.environ.get("PATH", "/usr/bin"), **env},
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["cwd"] == str(work) and seen["files"] == ["helper.py"]
    assert not seen["secret"]  # the course's other files are not there
    assert seen["answers"] and not seen["arguments"]  # the bridge's two folders
    assert "GRADER_SECRET" not in seen["env"]
    assert seen["home"] == namespaces.HOME
    assert not (work / "new.txt").exists()  # its working folder is a copy
