"""The judge's side of the bridge to the student's kernel: one request at a time.

The judge sends the student's kernel requests (`StudentKernel`): the values of some names, or
a call of one of its functions (`course_utils.grading.values.call_function`). The notebook's
side (`course_utils.grading.bridge_kernel`) writes each answer in the wire format of
`course_utils.grading.wire`, which `course_utils.grading.values` decodes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from course_utils.grading.wire import Answer, StudentError
from course_utils.settings import REQUEST_TIMEOUT


class StudentKernel:
    """The student's kernel, as the judge reaches it: one request at a time.

    Plain ZeroMQ sockets and Jupyter's message signing (`jupyter_client.session.Session`):
    the judge's own event loop is busy running the test cell, so no asynchronous client.
    """

    def __init__(
        self,
        connection: dict[str, Any],
        inbox: str,
        outbox: str,
        timeout: float = REQUEST_TIMEOUT.default,
    ) -> None:
        import zmq
        from jupyter_client.session import Session

        info = connection
        self.timeout = float(timeout)
        self._control_port = info.get("control_port")
        self._zmq = zmq
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self._address: Callable[[int], str] = (
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

    def _execute(self, code: str) -> dict[str, Any]:
        content = {
            "code": code,
            "silent": True,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        }
        sent = self._session.send(self._shell, "execute_request", content)
        if sent is None:  # only from a forked process
            raise RuntimeError("the judge could not send its request")
        msg_id = sent["header"]["msg_id"]
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

    def request(self, op: str, rid: str = "", **fields: Any) -> tuple[dict[str, Any], Answer]:
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
