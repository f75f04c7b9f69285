"""Run a student's kernel with limits, and as an unprivileged user when the grader is root.

The grader's worker (`course_utils.grading.worker`) gives nbgrader a kernel named ``python3``
whose command is ``python -m course_utils.grading.sandbox -- <the usual ipykernel command>``.
This launcher runs in the kernel's working folder (the folder of the notebook being graded),
then:

* caps the kernel's data memory (``RLIMIT_DATA``: an allocation beyond it raises
  ``MemoryError`` in the student's cell), the size of any file it writes and, for a separate
  user, its number of processes;
* when it runs as root and a user id is set, hands the working folder to that user,
  makes the notebook files in it (which hold the hidden tests) readable by root only, gives the
  kernel a private home and a copy of its connection file, and drops to that user;
* replaces itself with the kernel, so the kernel keeps this process id (interrupts and
  shutdowns reach it as usual).

Settings come from the environment the worker sets, named by `Settings` (this module is their
one home): the user id, the kernel's home, the memory limit in bytes, and a folder holding the
data set that the kernel can read. None of them reaches the kernel itself.

This module runs at every kernel start: it imports nothing beyond the standard library.
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


class Settings:
    """The environment variables through which the worker configures this launcher."""

    UID = "COURSE_KIT_UID"
    HOME = "COURSE_KIT_HOME"
    MEMORY = "COURSE_KIT_MEMORY"
    DATA = "COURSE_KIT_DATA"
    ALL = (UID, HOME, MEMORY, DATA)

    @classmethod
    def for_kernel(cls, *, home: Path, memory: int, data: Path, uid: int | None) -> dict[str, str]:
        """The variables for one kernel: its home, memory limit, data and (as root) user id."""
        values = {cls.HOME: str(home), cls.MEMORY: str(memory), cls.DATA: str(data)}
        if uid is not None:
            values[cls.UID] = str(uid)
        return values


def kernel_spec(folder: Path, python: str = sys.executable) -> Path:
    """Write a kernelspec named ``python3`` that starts ipykernel through this launcher.

    Put `folder` first on ``JUPYTER_PATH`` and nbgrader picks it instead of the usual one.

    Args:
        folder: where to write ``kernels/python3/kernel.json``.
        python: the interpreter that runs the launcher and the kernel.

    Returns:
        `folder`, for ``JUPYTER_PATH``.
    """
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [
        python,
        "-m",
        "course_utils.grading.sandbox",
        "--",
        python,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {"argv": argv, "display_name": "Python 3 (graded)", "language": "python"}, indent=1
        )
    )
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
        argv = argv[:i] + [str(private)] + argv[i + 1 :]
    return argv


def launch(argv: list[str]) -> None:
    """Apply the limits and the user switch, then exec `argv` (does not return).

    Args:
        argv: the kernel's command, as its kernelspec gives it.
    """
    env = dict(os.environ)
    workdir = Path.cwd()
    home = Path(env.get(Settings.HOME) or workdir / ".home")
    memory = int(env.get(Settings.MEMORY) or 0)
    uid = env.get(Settings.UID)
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
    for name in Settings.ALL:
        env.pop(name, None)
    data = os.environ.get(Settings.DATA)
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
    """The command line: ``python -m course_utils.grading.sandbox -- KERNEL COMMAND...``."""
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit("usage: python -m course_utils.grading.sandbox -- KERNEL COMMAND...")
    launch(args)


if __name__ == "__main__":
    main()
