"""Submissions in nbgrader's exchange (``<root>/<course>/inbound/``), found and read untrusted.

``nbgrader submit`` copies a student's files into ``inbound/STUDENT+ASSIGNMENT+TIME+RANDOM/``,
then writes ``timestamp.txt`` and ``submission_secret.txt``, and last makes the folder mode
0777: a submission is complete only then. The folder belongs to the student's Unix user, who
may still change it, so the service reads it once, settled (unchanged for a moment), into
memory: no links followed, plain files only, within limits. Who handed it in is the folder's
owner, not the name it claims; when it was handed in is the latest change time of the folder
and its files (set by the system: a student cannot move it earlier), not ``timestamp.txt``.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from course_utils.settings import KiB, MiB

NAME = re.compile(r"^([^+/]+)\+([^+/]+)\+([^+/]+)(?:\+[^+/]+)?$")
MAX_FILES = 200  # entries in one submission, folders included
MAX_DEPTH = 4
MAX_BYTES = 100 * MiB  # the whole submission
NBGRADER_FILES = ("timestamp.txt", "submission_secret.txt")


@dataclass
class Handed:
    """One submission read from the exchange."""

    name: str  # the inbound folder's name: the submission's id
    student: str  # the student the name claims
    assignment: str
    owner: str  # who handed it in: the folder's owner
    received: datetime
    secret: str = ""  # nbgrader's submission secret: the feedback's address depends on it
    files: dict[str, bytes] = field(default_factory=dict)  # relative path: content
    refused: str = ""  # why it is not graded at all (unreadable, too large, another's name)

    @property
    def notebooks(self) -> list[str]:
        """The notebook ids (top-level notebooks' names without ``.ipynb``)."""
        return sorted(
            p[: -len(".ipynb")] for p in self.files if "/" not in p and p.endswith(".ipynb")
        )


def parse(name: str) -> tuple[str, str] | None:
    """(student, assignment) from an inbound folder's name; None if it is not one."""
    found = NAME.match(name)
    if not found or {found.group(1), found.group(2)} & {".", ".."}:
        return None  # both become folder names: never one that leaves its parent
    return found.group(1), found.group(2)


def snapshot(inbound: Path, name: str) -> tuple[tuple[str, int, int, int], ...] | None:
    """What may still change in a complete submission (names, sizes, times); None: not one.

    Complete: a real folder of mode 0777 (nbgrader's last step) holding the secret file.
    """
    try:
        info = os.stat(inbound / name, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode) or stat.S_IMODE(info.st_mode) & 0o777 != 0o777:
            return None
        listing = sorted(os.scandir(inbound / name), key=lambda e: e.name)
        # the secret among all the names, not the first MAX_FILES only: a submission of too
        # many files is then read and refused, rather than waited for forever
        if not any(e.name == "submission_secret.txt" for e in listing):
            return None
        entries = [(".", info.st_size, info.st_mtime_ns, info.st_ctime_ns)]
        for entry in listing[:MAX_FILES]:
            meta = entry.stat(follow_symlinks=False)
            entries.append((entry.name, meta.st_size, meta.st_mtime_ns, meta.st_ctime_ns))
    except OSError:
        return None
    return tuple(entries)


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def read(inbound: Path, name: str) -> Handed:
    """Read the submission `name` (complete, settled) into memory; `refused` says if not."""
    student, assignment = parse(name) or ("", "")
    folder = os.open(inbound / name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        info = os.fstat(folder)
        handed = Handed(name, student, assignment, _owner(info.st_uid), _time(info.st_ctime))
        if not student:
            handed.refused = "the folder's name is not STUDENT+ASSIGNMENT+TIME"
        elif handed.owner != student:  # kept as the owner's: nothing of it is the other's
            handed.refused = (
                f"it names the student {student!r}, but {handed.owner!r} handed it in: a "
                "submission counts only for the student who hands it in"
            )
            handed.student = handed.owner
        try:
            files, latest = _read_tree(folder)
        except ValueError as error:
            handed.refused = handed.refused or f"it could not be read: {error}"
            files, latest = _peek(folder), info.st_ctime  # enough to answer it
        handed.received = max(handed.received, _time(latest))
        handed.secret = files.pop("submission_secret.txt", b"").decode(errors="replace").strip()
        files.pop("timestamp.txt", None)
        handed.files = files
        if not handed.refused and not handed.notebooks:
            handed.refused = "it holds no notebook"
        return handed
    finally:
        os.close(folder)


def _peek(folder: int) -> dict[str, bytes]:
    """Of a submission that cannot be read whole: its secret, and its notebooks' names (empty),
    so that its student can still be told why it was not graded."""
    found: dict[str, bytes] = {}
    names = os.listdir(folder)[:MAX_FILES]
    for name in names:
        if name.endswith(".ipynb") and "/" not in name:
            found[name] = b""
    try:
        fd = os.open(
            "submission_secret.txt", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder
        )
    except OSError:
        return found
    with os.fdopen(fd, "rb") as f:
        if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            found["submission_secret.txt"] = f.read(KiB)
    return found


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _read_tree(folder: int) -> tuple[dict[str, bytes], float]:
    """Every plain file under the open folder `folder`, and the latest change time seen."""
    files: dict[str, bytes] = {}
    latest = os.fstat(folder).st_ctime
    total = count = 0
    todo: list[tuple[int, str, int]] = [(os.dup(folder), "", 0)]
    try:
        while todo:
            fd, prefix, depth = todo.pop()
            try:
                for entry in sorted(os.listdir(fd)):
                    count += 1
                    if count > MAX_FILES:
                        raise ValueError(f"more than {MAX_FILES} files")
                    path = f"{prefix}{entry}"
                    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                    try:
                        child = os.open(entry, flags, dir_fd=fd)
                    except OSError:
                        raise ValueError(f"{path} is a link or cannot be opened") from None
                    meta = os.fstat(child)
                    latest = max(latest, meta.st_ctime)
                    if stat.S_ISDIR(meta.st_mode) and depth < MAX_DEPTH:
                        todo.append((child, f"{path}/", depth + 1))
                        continue
                    try:
                        if not stat.S_ISREG(meta.st_mode):
                            raise ValueError(f"{path} is not a plain file")
                        total += meta.st_size
                        if total > MAX_BYTES:
                            raise ValueError(f"more than {MAX_BYTES // MiB} MiB")
                        with os.fdopen(os.dup(child), "rb") as f:
                            files[path] = f.read(meta.st_size + 1)[: meta.st_size]
                    finally:
                        os.close(child)
            finally:
                os.close(fd)
    finally:
        for fd, _, _ in todo:
            os.close(fd)
    return files, latest
