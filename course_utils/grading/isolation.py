"""Keeping student code away from the course: users, permissions, and a readable data copy.

As root, each kernel runs as a fresh user id (`free_uid`) that owns nothing in the course, and
whatever that user leaves running is killed afterwards (`kill_user`). Before a class run the
course folder is closed to other users (`protect_course`), except the Python environment and
the kit, which kernels must read; the folders above them stay traversable (`open_path_to`).
The kernel itself is started by `course_utils.grading.sandbox`.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

FIRST_UID = 200_000

_DATA_LOCK = threading.Lock()
_STAGED_DATA: Path | None = None


def free_uid() -> int:
    """A user id that no account has and no process runs as."""
    import psutil

    used = {p.info["uids"].real for p in psutil.process_iter(["uids"]) if p.info["uids"]}
    while True:
        uid = FIRST_UID + secrets.randbelow(1_000_000)
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in used:
                return uid


def kill_user(uid: int) -> int:
    """Kill every process of `uid` (what a submission may have left behind).

    Returns:
        How many processes were killed.
    """
    import psutil

    killed = 0
    for process in psutil.process_iter(["uids"]):
        uids = process.info["uids"]
        if uids and uid in (uids.real, uids.effective):
            try:
                process.kill()
                killed += 1
            except psutil.Error:
                pass
    return killed


def staged_data() -> Path:
    """A copy of the data set that any user can read (made once per worker process)."""
    global _STAGED_DATA
    with _DATA_LOCK:
        if _STAGED_DATA is None or not _STAGED_DATA.exists():
            from course_utils.data import FILES, locate

            source = locate()
            folder = Path(tempfile.mkdtemp(prefix="course-kit-data-"))
            for spec in FILES:
                shutil.copy(source / spec.filename, folder / spec.filename)
                os.chmod(folder / spec.filename, 0o644)
            os.chmod(folder, 0o755)
            _STAGED_DATA = folder
        return _STAGED_DATA


def python_paths() -> list[Path]:
    """What a kernel must be able to read: the interpreter, its packages, this package."""
    import course_utils

    paths = {
        Path(sys.executable).resolve(),
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(course_utils.__file__).resolve().parent,
    }
    return sorted(paths)


def open_path_to(paths: list[Path]) -> list[Path]:
    """Let other users traverse (not list) the folders above `paths`.

    Returns:
        The folders whose mode changed.
    """
    changed = []
    for path in paths:
        for folder in reversed(path.parents):
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(folder, mode | stat.S_IXOTH)
                changed.append(folder)
    return changed


def protect_course(course: Path, keep: list[Path]) -> list[Path]:
    """Take other users' rights away from the course folder, except on the paths in `keep`.

    The course folder itself stays traversable if a kept path (the Python environment, this
    package) lies inside it; everything else in it becomes unreadable to other users.

    Args:
        course: the course folder.
        keep: paths that kernels must still read.

    Returns:
        The paths whose mode changed.
    """
    course = course.resolve()
    inside = [k for k in keep if k == course or course in k.parents]
    changed = []

    def drop(path: Path, keep_traverse: bool = False) -> None:
        mode = path.lstat().st_mode
        new = mode & ~(stat.S_IROTH | stat.S_IWOTH | stat.S_IXOTH)
        if keep_traverse:
            new |= stat.S_IXOTH
        if new != mode and not path.is_symlink():
            os.chmod(path, new)
            changed.append(path)

    if not inside:
        drop(course)
        return changed
    drop(course, keep_traverse=True)
    for entry in course.iterdir():
        if not any(entry == k or entry in k.parents for k in inside):
            drop(entry)
    return changed


def close_course(course: Path, log: Callable[[str], None]) -> None:
    """As root, before a class run: close `course` to kernels, keep the environment readable.

    Args:
        course: the course folder.
        log: called with one line per permission changed.
    """
    for folder in ("autograded", "feedback", "grades"):  # made now, so that they are closed too
        (course / folder).mkdir(exist_ok=True)
    keep = python_paths()
    changed = protect_course(course, keep) + open_path_to(
        keep + [Path(tempfile.gettempdir()).resolve()]
    )
    for path in changed:
        log(f"permissions: {path} is now {stat.filemode(path.stat().st_mode)}")
