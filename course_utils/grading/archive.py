"""Folders as bytes (gzipped tars), their digests, and swapping a folder in whole."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

#: What a submission, or a folder a worker returns, may hold.
MAX_FILES = 1000
MAX_BYTES = 512 * 2**20


class TooLarge(ValueError):
    """A folder holds more files, or more bytes, than may be packed."""


def tar_folder(
    folder: Path, max_file: int | None = None, keep: Callable[[Path], bool] | None = None
) -> bytes:
    """A gzipped tar of `folder`'s contents.

    Links and special files are left out, as are files over `max_file` bytes and, when `keep`
    is given, paths for which it returns False. A missing folder gives an empty archive.

    Args:
        folder: what to pack.
        max_file: the largest file kept, in bytes (no limit when None).
        keep: a filter on the paths (files and folders) below `folder`.

    Returns:
        The archive's bytes.

    Raises:
        TooLarge: more than `MAX_FILES` entries or `MAX_BYTES` bytes are to be packed.
    """
    buffer = io.BytesIO()
    count = size = 0
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            info = path.lstat()
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                continue  # links, FIFOs, devices, sockets
            if max_file is not None and stat.S_ISREG(info.st_mode) and info.st_size > max_file:
                continue
            if keep is not None and not keep(path):
                continue
            count, size = count + 1, size + info.st_size
            if count > MAX_FILES or size > MAX_BYTES:
                raise TooLarge(f"{folder.name} holds more than {MAX_FILES} files or {MAX_BYTES} B")
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def untar(data: bytes, folder: Path) -> None:
    """Unpack `data` (from `tar_folder`) into `folder`, refusing links out of it."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


def replace_folder(data: bytes, dest: Path) -> None:
    """Unpack `data` next to `dest`, then swap it in (a reader never sees half a folder)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=".incoming-", dir=dest.parent))
    untar(data, fresh)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(fresh, 0o777 & ~umask)
    old = dest.with_name(f".old-{dest.name}-{os.getpid()}")
    if dest.exists():
        dest.rename(old)
    fresh.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def folder_digest(folder: Path) -> str:
    """A SHA-256 of every file's name and bytes in `folder` (a resubmission changes it)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if stat.S_ISREG(p.lstat().st_mode)):
        digest.update(os.fsencode(path.relative_to(folder)) + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()
