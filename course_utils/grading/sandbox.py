"""Start a student's kernel in the sandbox, with limits, and an environment from an allow-list.

The grader's worker (`course_utils.grading.worker`) gives nbgrader a kernel named ``python3``
whose command is ``python -I -m course_utils.grading.sandbox -- <the ipykernel command>``.
`JudgedExecute` starts it in a folder of its own (``Settings.FOLDER``: the working folder
``work/``, ``sockets/``, the bridge's ``from-student/`` and ``to-student/``). This launcher:

* copies the connection file into that folder, for the kernel to read;
* caps each process's data memory (``RLIMIT_DATA``: a large allocation raises ``MemoryError``
  in the student's cell), file size, core dumps and CPU time, and joins the submission's
  control group (`course_utils.grading.cgroups`): one memory and process budget for all the
  kernel's processes;
* as root, drops to the submission's own user id;
* starts the kernel in the sandbox (`course_utils.grading.namespaces`), with an environment
  built from `kernel_environment`, nothing inherited from the grader. As root, with control
  groups, the kernel is forked into that sandbox by the grader's kernel server, Keras imported
  (``Settings.SERVER``, `course_utils.grading.judge_start`); without a server, it starts there.

Without a control group, each process's address space is capped (``RLIMIT_AS``, twice the
budget: TensorFlow reserves far more address space than it uses), the number of processes is
capped (``RLIMIT_NPROC``), and the launcher stays as the sandbox's parent to watch the memory
of all its processes (their proportional set sizes, shared memory included), stopping the
kernel past the budget.

The judge (`course_utils.grading.judge`) starts through this launcher too, with settings of its
own (``Settings.ROLE`` "judge"): its own user id as root, memory budget, control group and CPU
limit, and instead of the bridge's two folders the ones it needs (``Settings.WRITABLE``: where it
writes its arguments, and the student's answers, which it deletes once read;
``Settings.READONLY``: the student's sockets).

With isolation off (``--no-isolation``) the kernel runs as the grader's user in a plain copy of
the working folder, with the same limits and environment.

This module runs at every kernel start: it imports nothing beyond the standard library.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from collections.abc import Mapping
from pathlib import Path

from course_utils.grading import cgroups, judge_start, namespaces
from course_utils.grading.watcher import processes_of, watch
from course_utils.settings import DATA_DIR, DISK, EPOCHS, KERAS_HOME, PROCESSES, Launcher, MiB

MAX_FILE_BYTES = 512 * MiB
MAX_PROCESSES = PROCESSES.default
#: Variables of the grader's environment that reach the kernel; nothing else does.
PASSED = (
    EPOCHS.env,
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "PYTHONHASHSEED",
    "PYTHONUNBUFFERED",
    "NUMPY_MADVISE_HUGEPAGE",
)
#: Files the kernel makes are readable and writable by its group: the bridge's folders belong
#: to the judge's group, so that the judge reaches the kernel's sockets and reads its answers.
UMASK = 0o007


class Settings(Launcher):
    """The launcher's variables (named in `course_utils.settings.Launcher`), for one kernel."""

    ALL = tuple(v for k, v in vars(Launcher).items() if k.isupper() and k != "GRADING")

    @classmethod
    def for_kernel(
        cls,
        *,
        memory: int,
        data: Path,
        uid: int | None,
        isolate: bool,
        cgroups: list[str],
        tmpfs: int,
        cpu: int,
    ) -> dict[str, str]:
        """The variables for one submission's kernels."""
        values = {
            cls.MEMORY: str(memory),
            cls.DATA: str(data),
            cls.ISOLATE: "1" if isolate else "",
            cls.CGROUPS: os.pathsep.join(cgroups),
            cls.TMPFS: str(tmpfs),
            cls.CPU: str(cpu),
        }
        if uid is not None:
            values[cls.UID] = str(uid)
        return values


def kernel_environment(
    home: str,
    tmp: str,
    data: str | None,
    judge: bool = False,
    source: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """A kernel's whole environment: the `PASSED` variables of `source` (the launcher's) and
    the kit's own, nothing else.

    The judge's TensorFlow also keeps its start-up notices to itself: nbgrader fails a test
    cell that writes anything to stderr.
    """
    env = {k: source[k] for k in PASSED if k in source}
    if judge:
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin"]),
        HOME=home,
        TMPDIR=tmp,
        USER="student",
        LOGNAME="student",
        LANG="C.UTF-8",
        MPLCONFIGDIR=f"{home}/.matplotlib",
        IPYTHONDIR=f"{home}/.ipython",
        JUPYTER_PATH="",
        PYTHONNOUSERSITE="1",
        # the notebook's hand-in check stays silent
        **{KERAS_HOME.env: f"{home}/.keras", Launcher.GRADING: "1"},
    )
    if data:
        env[DATA_DIR.env] = data
    return env


def kernel_spec(folder: Path, python: str = sys.executable, name: str = "python3") -> Path:
    """Write a kernelspec `name` that starts ipykernel through this launcher.

    Interrupts go as messages (the kernel's parent is the sandbox, not the grader).
    Put `folder` first on ``JUPYTER_PATH`` and nbgrader picks it instead of the usual one.

    Returns:
        `folder`, for ``JUPYTER_PATH``.
    """
    spec = folder / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    # -I: the launcher runs before the sandbox (as root, when the grader is): its working folder
    # holds the student's files, which must never shadow the kit on its path
    argv = [python, "-I", "-m", "course_utils.grading.sandbox", "--"]
    argv += [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {
                "argv": argv,
                "display_name": "Python 3 (graded)",
                "language": "python",
                "interrupt_mode": "message",
            },
            indent=1,
        )
    )
    return folder


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _private_connection(argv: list[str], folder: Path, uid: int | None) -> list[str]:
    """Copy the connection file into the kernel's folder (the kernel cannot read the grader's)."""
    i = argv.index("-f") + 1
    private = folder / "kernel.json"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
    with os.fdopen(fd, "wb") as f:
        f.write(Path(argv[i]).read_bytes())
        if uid is not None:
            os.fchown(f.fileno(), uid, uid)
    return argv[:i] + [str(private)] + argv[i + 1 :]


def launch(argv: list[str]) -> None:
    """Apply the limits, then run `argv` (the kernel) in the sandbox (does not return).

    Args:
        argv: the kernel's command, as its kernelspec gives it.
    """
    env = os.environ
    workdir = Path.cwd()
    if not env.get(Settings.FOLDER):
        sys.exit("the sandbox starts kernels for the grader only (no kernel folder was given)")
    folder = Path(env[Settings.FOLDER])
    memory = int(env.get(Settings.MEMORY) or 0)
    uid = int(env[Settings.UID]) if env.get(Settings.UID) and os.geteuid() == 0 else None
    groups = [g for g in (env.get(Settings.CGROUPS) or "").split(os.pathsep) if g]
    isolate = bool(env.get(Settings.ISOLATE))
    data = env.get(Settings.DATA) or None
    judge = env.get(Settings.ROLE) == "judge"
    argv = _private_connection(argv, folder, uid)
    os.umask(UMASK)
    _limit(resource.RLIMIT_FSIZE, MAX_FILE_BYTES)
    _limit(resource.RLIMIT_CORE, 0)
    if env.get(Settings.CPU):
        _limit(resource.RLIMIT_CPU, int(env[Settings.CPU]))
    if memory:
        _limit(resource.RLIMIT_DATA, memory)
    cgroups.join(groups)
    if memory and not groups:
        _limit(resource.RLIMIT_AS, 2 * memory)
    if not isolate:
        kernel_env = kernel_environment(str(folder / "home"), str(folder / "home"), data, judge)
        (folder / "home").mkdir(mode=0o700, exist_ok=True)
        os.execve(argv[0], argv, kernel_env)
    mounts = namespaces.Mounts(
        work=workdir,
        writable=[folder / "sockets", *_paths(env.get(Settings.WRITABLE))],
        readonly=[folder / "kernel.json", *_paths(env.get(Settings.READONLY))],
        data=Path(data) if data else None,
        tmpfs_bytes=int(env.get(Settings.TMPFS) or DISK.default),
    )
    if not judge:  # a student's kernel: the bridge's two folders, beside its own
        mounts.writable.append(folder / "from-student")
        mounts.readonly.append(folder / "to-student")
    if groups and uid is not None and env.get(Settings.SERVER):  # forked: Keras imported
        server = judge_start.connect(env[Settings.SERVER], groups, uid)
        argv = argv if server is None else judge_start.wrap(argv, server)
    command, fds = namespaces.command(argv, mounts)
    kernel_env = kernel_environment(namespaces.HOME, "/tmp", data, judge)
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    if not groups:
        _limit(resource.RLIMIT_NPROC, processes_of(os.getuid()) + MAX_PROCESSES)
        watch(command, kernel_env, memory, fds)
    os.execve(command[0], command, kernel_env)


def _paths(value: str | None) -> list[Path]:
    return [Path(p) for p in (value or "").split(os.pathsep) if p]


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
