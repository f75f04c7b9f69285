"""The wire format between the student's kernel and the judge: answers as files, read safely.

The notebook's side (`course_utils.grading.bridge_kernel`) writes each answer to a request as a
JSON manifest (``r<N>.json``) and ``.npy`` files (``r<N>-<k>.npy``) in the judge's inbox;
`Answer` reads them back. Files written by the student's kernel are opened without following
links and must be plain files under a size limit. An array file's header is read first, and the
file is refused unless it holds numbers or strings, no objects, and exactly the bytes its header
claims: nothing is allocated from a claim the file does not back. The values inside a manifest
are nodes that `course_utils.grading.values` decodes.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from course_utils.settings import GiB, MiB

MAX_FILE = GiB
MAX_ANSWER = 3 * GiB
MAX_MANIFEST = 64 * MiB
FILE_NAME = re.compile(r"^r\d+(-\d+)?\.(npy|json)\Z")  # \Z, not $: nor a newline after
NUMERIC = "biufcUS"  # dtype kinds that cross: numbers, strings


class StudentError(Exception):
    """The student's code failed, or its kernel did not answer, while a test used it."""


class Refused(TypeError):
    """A value from the notebook that the grader will not rebuild."""


class RefusedArray(Refused, ValueError):
    """An array file the grader will not read (a `ValueError` too, as NumPy's refusals are)."""


def _open(folder: Path, name: str, limit: int) -> io.BufferedReader:
    """A file the student's kernel wrote, opened safely: no links, no FIFOs, bounded size."""
    if not FILE_NAME.match(name):
        raise Refused(f"unexpected file name {name!r} from the notebook's kernel")
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except FileNotFoundError:
        raise StudentError("the notebook's kernel did not answer the grader") from None
    except OSError as error:
        raise Refused(f"the grader will not read {name!r}: {error.strerror}") from None
    finally:
        os.close(dir_fd)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        os.close(fd)
        raise Refused(f"{name!r} from the notebook's kernel: not a plain file of at most {limit} B")
    return os.fdopen(fd, "rb")


class Answer:
    """The files of one answer of the student's kernel."""

    def __init__(self, folder: Path, request: str):
        self.folder, self.request = folder, request
        self.read = 0  # bytes of arrays read so far: at most MAX_ANSWER

    def manifest(self) -> dict[str, Any]:
        """The answer's manifest (raises `StudentError` when there is none)."""
        with _open(self.folder, f"{self.request}.json", MAX_MANIFEST) as f:
            try:
                data = json.loads(f.read())
            except (ValueError, RecursionError):
                raise Refused("the notebook's kernel answered with a malformed manifest") from None
        if not isinstance(data, dict):
            raise Refused("the notebook's kernel answered with something else than a manifest")
        return data

    def _file(self, name: Any) -> io.BufferedReader:
        if not isinstance(name, str) or not name.startswith(self.request + "-"):
            raise Refused("an array of another request")
        return _open(self.folder, name, MAX_FILE)

    def shape(self, name: Any) -> tuple[int, ...]:
        """The shape of the array in file `name`, from its header (checked as `array` does)."""
        with self._file(name) as f:
            return _header(f, name)[1]

    def array(self, name: Any) -> Any:
        """The array in file `name` of this answer: numeric or string dtype, no pickles."""
        import numpy as np

        with self._file(name) as f:
            self.read += os.fstat(f.fileno()).st_size
            if self.read > MAX_ANSWER:
                raise Refused(f"the notebook's values for one test exceed {MAX_ANSWER} bytes")
            dtype, shape, fortran, size = _header(f, name)
            data = np.empty(size, dtype=np.uint8)  # not zeroed first: half the time of a bytearray
            if f.readinto(data.data) != size or f.read(1):
                raise RefusedArray(f"{name!r} changed while the grader read it")
        flat = data.view(dtype) if size else np.empty(0, dtype=dtype)
        return flat.reshape(shape, order="F" if fortran else "C")

    def remove(self) -> None:
        """Delete the answer's files."""
        dir_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name in os.listdir(dir_fd):
                if name == f"{self.request}.json" or name.startswith(f"{self.request}-"):
                    try:
                        os.unlink(name, dir_fd=dir_fd)
                    except OSError:
                        pass
        finally:
            os.close(dir_fd)


def _header(f: Any, name: str) -> tuple[Any, tuple[int, ...], bool, int]:
    """The dtype, shape, order and data size the ``.npy`` header of `f` gives, once checked.

    Refused unless the dtype holds numbers or strings (no fields, no objects) and the data after
    the header is exactly as long as the shape and dtype say, and at most `MAX_FILE` bytes.
    """
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(f)
        read = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"format version {version}, where the grader reads 1.0 and 2.0")
        shape, fortran, dtype = read(f)
    except (ValueError, SyntaxError, TypeError) as error:
        raise RefusedArray(f"{name!r} is not a .npy file the grader reads: {error}") from None
    if dtype.hasobject:
        raise RefusedArray("arrays of Python objects are not passed to the tests (pickle is off)")
    if dtype.kind not in NUMERIC or dtype.fields is not None or dtype.itemsize == 0:
        raise RefusedArray(f"arrays of dtype {dtype} are not passed to the tests")
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise RefusedArray(f"{name!r} claims the shape {shape}, which is not one")
    size = math.prod(shape) * dtype.itemsize
    held = os.fstat(f.fileno()).st_size - f.tell()
    if size != held or size > MAX_FILE:
        raise RefusedArray(
            f"{name!r} claims {size} bytes of data (shape {shape}, dtype {dtype}) and holds "
            f"{held}: not passed to the tests"
        )
    return dtype, shape, fortran, size
