"""Cores for notebooks: a grading process runs at most as many notebooks at once as it has cores.

A grading process takes more submissions at once than it has cores (`ahead`), so that while some
run their cells, the next ones start nbgrader, sanitize and convert, and start their kernels,
and the last ones write their feedback: work that otherwise leaves a core idle between
notebooks. Each notebook takes one of the process's cores (`hold`) once its kernels are ready,
just before its first cell, and gives it back after its last (`let_go`). Cores are ``fcntl``
locks on files in a folder of the grading process's own (`folder`, closed to other users), so a
grading that dies gives its core back with its process.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

#: how often a notebook waiting for a core looks again, in seconds
POLL_SECONDS = 0.02

_LOCK = threading.Lock()
_FOLDERS: dict[int, Path] = {}


def ahead(cores: int) -> int:
    """Submissions taken at once by a grading process with `cores` for notebooks: one more
    per core, each getting ready (or writing feedback) while another runs."""
    return 2 * cores


def folder(cores: int) -> str:
    """This process's folder of `cores` core locks, made on first use; empty for no limit
    (`cores` < 1)."""
    if cores < 1:
        return ""
    with _LOCK:
        if cores not in _FOLDERS or not _FOLDERS[cores].is_dir():
            made = Path(tempfile.mkdtemp(prefix=f"course-kit-cores-{cores}-"))
            for number in range(cores):
                (made / str(number)).touch(mode=0o600)
            _FOLDERS[cores] = made
        return str(_FOLDERS[cores])


def hold(where: str, stop: float | None = None) -> int | None:
    """Take one of the cores in the folder `where`, waiting until one is free; its file
    descriptor, for `let_go`.

    Args:
        where: a folder from `folder`; empty: no limit, nothing to take.
        stop: a ``time.monotonic()`` past which to give up waiting.

    Returns:
        The descriptor holding the core; None where there is nothing to take, or at `stop`.

    Raises:
        OSError: the folder holds no core to take.
    """
    if not where:
        return None
    names = sorted(os.listdir(where))
    if not names:
        raise OSError(f"{where} holds no core")
    handles = [os.open(os.path.join(where, n), os.O_RDWR | os.O_CLOEXEC) for n in names]
    try:
        while True:
            for index, handle in enumerate(handles):
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                handles.pop(index)
                return handle
            if stop is not None and time.monotonic() >= stop:
                return None
            time.sleep(POLL_SECONDS)
    finally:
        for handle in handles:
            os.close(handle)


def let_go(handle: int | None) -> None:
    """Give back the core `hold` took (closing its descriptor releases the lock)."""
    if handle is not None:
        os.close(handle)


def _remove_all() -> None:
    with _LOCK:
        for made in _FOLDERS.values():
            shutil.rmtree(made, ignore_errors=True)
        _FOLDERS.clear()


atexit.register(_remove_all)
