"""Keeping student code away from the course: the sandbox check, users, permissions, data.

Every kernel runs in a sandbox (`course_utils.grading.sandbox`, `namespaces`); before a class
run, `prepare_isolation` makes sure one can be made here, and stops the run with a message that
says why not. As root, each kernel also runs as a fresh user id (`free_uid`) that owns nothing,
whatever that user leaves running is killed afterwards (`kill_user`), and the course folder is
closed to other users (`close_course`), except the Python environment and the kit, which the
sandbox binds read-only; the folders above them stay traversable (`open_path_to`).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from course_utils.layout import OUTPUTS, CourseFolder

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


_CHECKED: dict[bool, str | None] = {}


def sandbox_problem(uid: int | None) -> str | None:
    """Why kernels cannot be sandboxed here (None when they can), checked once per process."""
    from course_utils.grading import namespaces

    with _DATA_LOCK:
        if (uid is None) not in _CHECKED:
            _CHECKED[uid is None] = namespaces.unavailable(uid)
        return _CHECKED[uid is None]


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


def mount_tmpfs(
    folder: Path, size: int, uid: int, gid: int | None = None, mode: int = 0o700
) -> bool:
    """As root: a tmpfs of `size` bytes on `folder`, owned by `uid` and group `gid` (default:
    `uid`) with `mode` (False if it cannot be made).

    Its pages count in the memory of whoever writes them (the kernel's control group).
    """
    group = uid if gid is None else gid
    options = f"size={size},mode={mode:04o},uid={uid},gid={group},nosuid,nodev,noexec"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "course-kit", str(folder)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def unmount_below(folder: Path) -> None:
    """Unmount every file system mounted at or below `folder` (deepest first)."""
    prefix = str(folder.resolve())
    mounted = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            mounted.append(point)
    for point in sorted(mounted, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


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


def prepare_isolation(course: Path, log: Callable[[str], None], check: bool = True) -> None:
    """Before a class run: make sure kernels can be sandboxed here (`check`), and, as root,
    close the course to the kernels' users.

    Raises:
        GradingError: kernels cannot be sandboxed on this machine (the message says why).
    """
    from course_utils.grading.jobs import GradingError

    if check:
        problem = sandbox_problem(free_uid() if os.geteuid() == 0 else None)
        if problem:
            raise GradingError(f"student code cannot be isolated: {problem}")
    if os.geteuid() == 0:
        close_course(course, log)


def close_course(course: Path, log: Callable[[str], None]) -> None:
    """As root, before a class run: close `course` to kernels, keep the environment readable.

    Args:
        course: the course folder.
        log: called with one line per permission changed.
    """
    paths = CourseFolder(course)
    for folder in (paths.autograded(), paths.feedback(), paths.grades):  # closed too, made now
        folder.mkdir(exist_ok=True)
    keep = python_paths()
    changed = protect_course(course, keep) + open_path_to(
        keep + [Path(tempfile.gettempdir()).resolve()]
    )
    for path in changed:
        log(f"permissions: {path} is now {stat.filemode(path.stat().st_mode)}")


def hand_back(course: Path) -> int:
    """As root, give what grading wrote in `course` to the course folder's owner, so that the
    instructor's own commands (the formgrader, the report, exports) can write there too.

    Links are never followed: `os.walk` does not enter them and each change of owner applies to
    the entry itself. Returns how many entries changed owner.
    """
    if os.geteuid() != 0 or not course.is_dir():
        return 0
    owner = course.lstat()
    if owner.st_uid == 0:
        return 0
    changed = 0
    for name in OUTPUTS:
        top = course / name
        if not os.path.lexists(top):
            continue
        paths = [top]
        if top.is_dir() and not top.is_symlink():
            for folder, dirs, files in os.walk(top):
                paths += [Path(folder) / entry for entry in dirs + files]
        for path in paths:
            if path.lstat().st_uid != owner.st_uid:
                os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
                changed += 1
    return changed
