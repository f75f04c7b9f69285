"""Run a student's kernel with limits, and as an unprivileged user when the grader is root.

The grader (`course_utils.grade`) gives nbgrader a kernel named ``python3`` whose command is
``python -m course_utils.sandbox -- <the usual ipykernel command>``. This launcher runs in the
kernel's working folder (the folder of the notebook being graded), then:

* caps the kernel's data memory (``RLIMIT_DATA``: an allocation beyond it raises
  ``MemoryError`` in the student's cell), the size of any file it writes and, for a separate
  user, its number of processes;
* when it runs as root and ``COURSE_KIT_UID`` is set, hands the working folder to that user,
  makes the notebook files in it (which hold the hidden tests) readable by root only, gives the
  kernel a private home and a copy of its connection file, and drops to that user;
* replaces itself with the kernel, so the kernel keeps this process id (interrupts and
  shutdowns reach it as usual).

Settings come from the environment the grader sets: ``COURSE_KIT_UID``, ``COURSE_KIT_HOME``,
``COURSE_KIT_MEMORY`` (bytes), ``COURSE_KIT_DATA`` (a folder holding the data set, readable by
the kernel).
"""

from __future__ import annotations

import json
import os
import resource
import stat
import sys
from pathlib import Path

MAX_FILE_BYTES = 512 * 2**20
MAX_PROCESSES = 1024
SETTINGS = ("COURSE_KIT_UID", "COURSE_KIT_HOME", "COURSE_KIT_MEMORY", "COURSE_KIT_DATA")


def kernel_spec(folder: Path, python: str = sys.executable) -> Path:
    """Write a kernelspec named ``python3`` that starts ipykernel through this launcher.

    Put `folder` first on ``JUPYTER_PATH`` and nbgrader picks it instead of the usual one.
    """
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [python, "-m", "course_utils.sandbox", "--",
            python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (graded)", "language": "python"}, indent=1))
    return folder


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _hand_over(workdir: Path, home: Path, uid: int, argv: list[str]) -> list[str]:
    """As root: give `workdir` and `home` to `uid`, hide the notebooks, copy the connection file."""
    os.chown(workdir, uid, uid)
    os.chmod(workdir, 0o700)
    for notebook in workdir.glob("*.ipynb"):
        os.chown(notebook, 0, 0)
        os.chmod(notebook, stat.S_IRUSR | stat.S_IWUSR)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, uid, uid)
    os.chmod(home, 0o700)
    if "-f" in argv:
        i = argv.index("-f") + 1
        private = home / "kernel.json"
        private.write_bytes(Path(argv[i]).read_bytes())
        os.chown(private, uid, uid)
        os.chmod(private, 0o600)
        argv = argv[:i] + [str(private)] + argv[i + 1:]
    return argv


def launch(argv: list[str]) -> None:
    """Apply the limits and the user switch, then exec `argv` (does not return)."""
    env = dict(os.environ)
    workdir = Path.cwd()
    home = Path(env.get("COURSE_KIT_HOME") or workdir / ".home")
    memory = int(env.get("COURSE_KIT_MEMORY") or 0)
    uid = env.get("COURSE_KIT_UID")
    if memory:
        _limit(resource.RLIMIT_DATA, memory)
    _limit(resource.RLIMIT_FSIZE, MAX_FILE_BYTES)
    if uid and os.geteuid() == 0:
        uid_number = int(uid)
        argv = _hand_over(workdir, home, uid_number, argv)
        _limit(resource.RLIMIT_NPROC, MAX_PROCESSES)
        os.setgroups([])
        os.setgid(uid_number)
        os.setuid(uid_number)
    home.mkdir(parents=True, exist_ok=True)
    for name in SETTINGS:
        env.pop(name, None)
    data = os.environ.get("COURSE_KIT_DATA")
    if data:
        env["FASHION_MNIST_DIR"] = data
    env.update(
        HOME=str(home),
        TMPDIR=str(home),
        KERAS_HOME=str(home / ".keras"),
        MPLCONFIGDIR=str(home / ".matplotlib"),
        IPYTHONDIR=str(home / ".ipython"),
        JUPYTER_PATH="",
    )
    os.execve(argv[0], argv, env)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit("usage: python -m course_utils.sandbox -- KERNEL COMMAND...")
    launch(args)


if __name__ == "__main__":
    main()
