"""The sandbox's walls: the bubblewrap (``bwrap``) command that runs a kernel in namespaces.

A kernel gets fresh user, mount, PID, IPC, UTS, cgroup and network namespaces. Its file system
holds only:

* read-only: the system (``/usr`` and its links), the Python environment, the kit's package,
  the data set, and the folders the grader hands it to read (`Mounts.readonly`);
* read-write: the folders the grader shares with it (sockets, the bridge's inbox);
* private, size-capped tmpfs: its working folder (filled with copies of the submission's
  files), its home, ``/tmp`` and ``/dev/shm``.

No network device but its own loopback; no nested namespaces. When its first process ends, or
the launcher that started it dies, every process in it is killed.

This module runs at every kernel start: it imports nothing beyond the standard library.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.settings import DISK

#: The kernel's home inside the sandbox.
HOME = "/home/student"
SYSTEM = ("/usr", "/bin", "/lib", "/lib64", "/sbin")
ETC = ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")
HOW_TO_ENABLE = (
    "Install bubblewrap (Debian: apt-get install bubblewrap; `make setup` does it as root) and "
    "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or pass "
    "--no-isolation to run student code without a sandbox."
)


def bwrap() -> str | None:
    """The bubblewrap program, or None."""
    return shutil.which("bwrap") or next(
        (p for p in ("/usr/bin/bwrap", "/bin/bwrap") if os.access(p, os.X_OK)), None
    )


def unavailable(uid: int | None = None) -> str | None:
    """Why a sandbox cannot be made here (None when it can).

    Args:
        uid: the user that will start the sandboxes (as root: the kernel's user).
    """
    program = bwrap()
    if program is None:
        return f"bubblewrap (bwrap) is not installed. {HOW_TO_ENABLE}"

    def become() -> None:
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    probe = [program, "--unshare-all", "--unshare-user", "--die-with-parent"]
    probe += [a for s in SYSTEM for a in _system(s)] + ["--", "/bin/true"]
    try:
        run = subprocess.run(
            probe, capture_output=True, text=True, timeout=30, preexec_fn=become, cwd="/"
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"bubblewrap could not start: {error}. {HOW_TO_ENABLE}"
    if run.returncode != 0:
        reason = run.stderr.strip().splitlines()[-1:] or [f"exit status {run.returncode}"]
        return f"namespaces are not available here ({reason[0]}). {HOW_TO_ENABLE}"
    return None


def readable(data: Path | None) -> list[Path]:
    """What every kernel reads: the interpreter's prefixes, the kit's package, the data."""
    paths = {
        Path(p).resolve()
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    }
    paths.add(Path(sys.executable).resolve().parent)
    paths.add(Path(__file__).resolve().parents[1])  # the kit's package, course_utils
    if data is not None:
        paths.add(data.resolve())
    inside_usr = {p for p in paths if p == Path("/usr") or Path("/usr") in p.parents}
    return sorted(p for p in paths - inside_usr if p.exists())


def _system(path: str) -> list[str]:
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    return ["--ro-bind", path, path] if os.path.isdir(path) else []


@dataclass
class Mounts:
    """What the grader shares with one kernel."""

    work: Path  # the working folder: a tmpfs in the sandbox, filled from the host folder
    writable: list[Path] = field(default_factory=list)
    readonly: list[Path] = field(default_factory=list)
    data: Path | None = None
    tmpfs_bytes: int = DISK.default


def command(argv: list[str], mounts: Mounts) -> tuple[list[str], list[int]]:
    """The bwrap command that runs `argv` in a sandbox, and the file descriptors it reads.

    The working folder's plain files and folders are copied into the sandbox's tmpfs through
    file descriptors opened here without following links.

    Returns:
        The command, and the descriptors to keep open (inheritable) until it starts.
    """
    size = str(mounts.tmpfs_bytes)
    cmd = [bwrap() or "bwrap", "--unshare-all", "--unshare-user", "--disable-userns"]
    cmd += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    for path in SYSTEM:
        cmd += _system(path)
    for path in ETC:
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    for path in ("/tmp", "/dev/shm", HOME):
        cmd += ["--size", size, "--tmpfs", path]
    for mount in readable(mounts.data) + sorted(mounts.readonly):
        cmd += ["--ro-bind", str(mount), str(mount)]
    for mount in sorted(mounts.writable):
        cmd += ["--bind", str(mount), str(mount)]
    cmd += ["--size", size, "--tmpfs", str(mounts.work)]
    fds: list[int] = []
    for folder, dirs, files in os.walk(mounts.work):
        inside = Path(folder)
        for name in sorted(dirs):
            if not (inside / name).is_symlink():
                cmd += ["--dir", str(inside / name)]
        dirs[:] = [d for d in dirs if not (inside / d).is_symlink()]
        for name in sorted(files):
            try:
                fd = os.open(inside / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                continue
            os.set_inheritable(fd, True)
            fds.append(fd)
            cmd += ["--file", str(fd), str(inside / name)]
    cmd += ["--chdir", str(mounts.work), "--", *argv]
    return cmd, fds
