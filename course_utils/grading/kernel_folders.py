"""The folders of one notebook's kernels: the student's (with the bridge's) and the judge's.

The grader (`JudgedExecute`) makes each folder fresh, and never reuses one a kernel has written.
As root, it gives each part to the user that must write it: the student kernel's sockets and
answers to the kernel's user, in the judge's group, and the judge's arguments to the judge's
user, in the kernel's group, so that each reads the other's and neither writes the other's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from course_utils.grading.isolation import mount_tmpfs
from course_utils.grading.sandbox import Settings
from course_utils.settings import DISK, MiB


def copy_other_files(source: Path, target: Path) -> None:
    """The submission's plain files and folders except notebooks (no links, no devices)."""
    for entry in os.scandir(source):
        if entry.is_symlink() or entry.name.endswith(".ipynb"):
            continue
        if entry.is_dir(follow_symlinks=False):
            (target / entry.name).mkdir(exist_ok=True)
            copy_other_files(Path(entry.path), target / entry.name)
        elif entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, target / entry.name, follow_symlinks=False)


def _fresh(parent: Path) -> Path:
    """A new numbered folder under `parent` (never one a kernel has used)."""
    parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    os.chmod(parent, 0o711)
    folder = parent / str(sum(1 for _ in parent.iterdir()))
    folder.mkdir(mode=0o711)
    return folder


def kernel_folder(parent: Path, uid: int | None, judge: int | None) -> Path:
    """A fresh folder for one student kernel: made by the grader, its parts given out.

    ``work/`` stays the grader's (the sandbox copies it into a tmpfs). ``sockets/`` and
    ``from-student/`` are the kernel's, in the judge's group (setgid: what the kernel makes
    there is the judge's group's too, so the judge reaches its sockets, reads its answers and
    deletes each answer once read: otherwise they would fill the folder's tmpfs);
    ``to-student/`` is the judge's, in the kernel's group, where the judge writes the arguments
    of its calls for the kernel to read.

    Args:
        parent: the folder of all kernel folders.
        uid: as root, the student kernel's user id (None: the grader's own user).
        judge: as root, the judge's user id (None: no judge of its own user).
    """
    folder = _fresh(parent)
    root = os.geteuid() == 0
    group = judge if judge is not None else uid
    for name, mode, owner, owner_group in (
        ("work", 0o700, None, None),
        ("sockets", 0o2770, uid, group),
        ("from-student", 0o2770, uid, group),
        ("to-student", 0o2750, judge if judge is not None else uid, uid),
    ):
        (folder / name).mkdir(mode=mode)
        if root and owner is not None and owner_group is not None:
            os.chown(folder / name, owner, owner_group)
        os.chmod(folder / name, mode)
    if uid is not None and root and os.environ.get(Settings.ISOLATE):
        # as root: what the kernel writes is a tmpfs
        mount_tmpfs(folder / "sockets", MiB, uid, group, 0o2770)
        size = int(os.environ.get(Settings.TMPFS) or DISK.default)
        mount_tmpfs(folder / "from-student", size, uid, group, 0o2770)
    return folder


def judge_folder(parent: Path, uid: int | None) -> Path:
    """A fresh folder for one judge: ``work/`` (the grader's), ``sockets/`` (the judge's)."""
    folder = _fresh(parent)
    (folder / "work").mkdir(mode=0o700)
    (folder / "sockets").mkdir(mode=0o700)
    if uid is not None and os.geteuid() == 0:
        os.chown(folder / "sockets", uid, uid)
    return folder


def uid_of(settings: Mapping[str, Any], name: str = Settings.UID) -> int | None:
    """As root, the user id the launcher's `settings` give a kernel (None otherwise)."""
    value = settings.get(name)
    return int(value) if value and os.geteuid() == 0 else None
