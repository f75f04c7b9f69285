"""The judge's side of the bridge to the student's kernel: requests, answers, files.

The judge sends the student's kernel requests (`StudentKernel`): the values of some names, or
a call of one of its functions. The notebook's side (`course_utils.grading.bridge_kernel`)
writes each answer as a JSON manifest and ``.npy`` files; `course_utils.grading.values` reads
them back as data. Files written by the student's kernel are opened without following links and
must be plain files under a size limit. An array file's header is read first, and the file is
refused unless it holds numbers or strings, no objects, and exactly the bytes its header claims:
nothing is allocated from a claim the file does not back.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

MAX_FILE = 1 << 30
MAX_ANSWER = 3 << 30
MAX_MANIFEST = 64 << 20
FILE_NAME = re.compile(r"^r\d+(-\d+)?\.(npy|json)$")
NUMERIC = "biufcUS"  # dtype kinds that cross: numbers, strings


class StudentError(Exception):
    """The student's code failed, or its kernel did not answer, while a test used it."""


class Refused(TypeError):
    """A value from the notebook that the grader will not rebuild."""


class RefusedArray(Refused, ValueError):
    """An array file the grader will not read (a `ValueError` too, as NumPy's refusals are)."""


def _open(folder: Path, name: str, limit: int):
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

    def manifest(self) -> dict:
        """The answer's manifest (raises `StudentError` when there is none)."""
        with _open(self.folder, f"{self.request}.json", MAX_MANIFEST) as f:
            try:
                data = json.loads(f.read())
            except (ValueError, RecursionError):
                raise Refused("the notebook's kernel answered with a malformed manifest") from None
        if not isinstance(data, dict):
            raise Refused("the notebook's kernel answered with something else than a manifest")
        return data

    def _file(self, name: Any):
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
            data = bytearray(size)
            if f.readinto(data) != size or f.read(1):
                raise RefusedArray(f"{name!r} changed while the grader read it")
        flat = np.frombuffer(data, dtype=dtype) if size else np.empty(0, dtype=dtype)
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


class StudentKernel:
    """The student's kernel, as the judge reaches it: one request at a time.

    Plain ZeroMQ sockets and Jupyter's message signing (`jupyter_client.session.Session`):
    the judge's own event loop is busy running the test cell, so no asynchronous client.
    """

    def __init__(self, connection: dict, inbox: str, outbox: str, timeout: float = 600):
        import zmq
        from jupyter_client.session import Session

        info = connection
        self.timeout = float(timeout)
        self._control_port = info.get("control_port")
        self._zmq = zmq
        self._context = zmq.Context.instance()
        self._address = (
            (lambda port: f"ipc://{info['ip']}-{port}")
            if info.get("transport") == "ipc"
            else (lambda port: f"tcp://{info['ip']}:{port}")
        )
        self._hb_port = info["hb_port"]
        self._shell = self._context.socket(zmq.DEALER)
        self._shell.linger = 0
        self._shell.connect(self._address(info["shell_port"]))
        self._session = Session(key=info["key"].encode(), signature_scheme=info["signature_scheme"])
        self.inbox, self.outbox = Path(inbox), Path(outbox)
        self.count = 0
        self.source = (Path(__file__).parent / "bridge_kernel.py").read_text()

    def alive(self, wait: float = 3.0) -> bool:
        """Whether the kernel answers its heartbeat within `wait` seconds."""
        beat = self._context.socket(self._zmq.REQ)
        beat.linger = 0
        try:
            beat.connect(self._address(self._hb_port))
            beat.send(b"ping")
            return bool(beat.poll(int(wait * 1000)))
        finally:
            beat.close()

    def _execute(self, code: str) -> dict:
        content = {
            "code": code,
            "silent": True,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        }
        msg_id = self._session.send(self._shell, "execute_request", content)["header"]["msg_id"]
        deadline = time.monotonic() + self.timeout
        while True:
            if not self._shell.poll(1000):
                if not self.alive():
                    raise StudentError("the notebook's kernel stopped while a test used it")
                if time.monotonic() > deadline:
                    self.interrupt()
                    raise StudentError(
                        f"the notebook's code did not answer within {self.timeout:g} s "
                        "(it was interrupted)"
                    )
                continue
            _, reply = self._session.recv(self._shell, mode=0)
            if reply and reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def interrupt(self) -> None:
        """Interrupt what the student's kernel runs (its interrupts go as messages)."""
        if self._control_port is None:
            return
        control = self._context.socket(self._zmq.DEALER)
        control.linger = 1000
        try:
            control.connect(self._address(self._control_port))
            self._session.send(control, "interrupt_request", {})
            control.poll(3000)
        finally:
            control.close()

    def next_id(self) -> str:
        """A new request id."""
        self.count += 1
        return f"r{self.count}"

    def request(self, op: str, rid: str = "", **fields: Any) -> tuple[dict, Answer]:
        """Send one request; its manifest and files. Raises `StudentError` if none came."""
        rid = rid or self.next_id()
        request = {"op": op, "id": rid, "folder": str(self.inbox), **fields}
        code = (
            f"(lambda _ns: (exec({self.source!r}, _ns), _ns['serve']({request!r})))"
            "({'__name__': 'course_kit_bridge'})"
        )
        reply = self._execute(code)
        answer = Answer(self.inbox, rid)
        try:
            manifest = answer.manifest()
        except StudentError:
            content = reply.get("content", {})
            why = f" ({content['ename']}: {content.get('evalue')})" if "ename" in content else ""
            raise StudentError(f"the notebook's kernel did not answer the grader{why}") from None
        return manifest, answer

    def call(self, handle: int, name: str, args: tuple, kwargs: dict) -> Any:
        """Call the notebook's function `handle` with the judge's arguments."""
        from course_utils.grading.values import NOTES, decode, encode

        rid = self.next_id()
        saved = []

        def save(array: Any) -> str:
            import numpy as np

            file = f"{rid}-{len(saved)}.npy"
            np.save(self.outbox / file, array, allow_pickle=False)
            saved.append(file)
            return file

        try:
            (self.outbox / f"{rid}.json").write_text(json.dumps(encode([list(args), kwargs], save)))
            manifest, answer = self.request("call", rid, h=handle, args_folder=str(self.outbox))
        finally:
            for file in [*saved, f"{rid}.json"]:
                (self.outbox / file).unlink(missing_ok=True)
        try:
            if "error" in manifest:
                ename, evalue = (str(x) for x in manifest["error"][:2])
                raise StudentError(f"{name}() raised {ename}: {evalue}")
            value = decode(manifest.get("value"), answer, self, {})
            while NOTES:
                print(NOTES.pop(0))
            return value
        finally:
            answer.remove()
