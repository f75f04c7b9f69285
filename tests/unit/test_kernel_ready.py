"""A kernel counts as ready only once it answered and its IOPub is heard, and never hangs."""

from __future__ import annotations

import signal
import socket
from contextlib import contextmanager

import pytest
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from course_utils.grading.kernel_ready import ready


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _kernel(tmp_path, deaf=False):
    """A real Python kernel over Unix sockets and an asynchronous client of it; with `deaf`,
    the client's IOPub listens where the kernel publishes nothing."""
    km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "k"))
    run_sync(km.start_kernel)(cwd=str(tmp_path))
    kc = km.client()
    if deaf:
        kc.iopub_port = _free_port()
    kc.start_channels()
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)


def _outputs(kc, code):
    msg_id = kc.execute(code)
    texts = []
    while True:
        message = run_sync(kc.get_iopub_msg)(timeout=30)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream":
            texts.append(message["content"]["text"])
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return "".join(texts)


def test_a_started_kernel_is_ready_and_its_outputs_reach_the_client(tmp_path):
    with _kernel(tmp_path) as (_, kc):
        run_sync(ready)(kc, 60)
        assert _outputs(kc, "print(6 * 7)") == "42\n"
        run_sync(ready)(kc, 60)  # asked again, of a kernel long started: as soon
        assert _outputs(kc, "import sys; print('err', file=sys.stderr)") == "err\n"


def test_a_kernel_whose_outputs_are_not_heard_is_never_ready(tmp_path):
    with _kernel(tmp_path, deaf=True) as (_, kc):
        with pytest.raises(RuntimeError, match="outputs were not heard within 2 s"):
            run_sync(ready)(kc, 2)


def test_a_kernel_that_stops_or_is_busy_is_reported_within_the_time(tmp_path):
    with _kernel(tmp_path) as (km, kc):
        run_sync(ready)(kc, 60)
        kc.execute("import time; time.sleep(30)")
        with pytest.raises(RuntimeError, match="did not answer within 1.5 s"):
            run_sync(ready)(kc, 1.5)
        run_sync(km.signal_kernel)(signal.SIGKILL)
        with pytest.raises(RuntimeError, match="stopped before it answered"):
            run_sync(ready)(kc, 30)
