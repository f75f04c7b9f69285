"""A kernel is ready once it answered a request and a message of that request came on IOPub.

Jupyter's `wait_for_ready` asks the kernel for its information until the answer comes with a
message on the kernel's IOPub channel, then reads IOPub on until 0.2 s pass with no message: each
kernel the grader started (the student's, the judge) cost those 0.2 s. `ready` asks the same
way and stops at the first proof: the answer on the shell channel, then a message of that same
request on IOPub (the kernel's status going back to idle, sent at once). That message proves the
client hears IOPub; without that proof a cell's outputs, errors included, could be lost and the
cell scored as passing. Where none comes within `IOPUB_WAIT` (a subscription still being made:
ZeroMQ drops what is published before it), it asks again, as Jupyter's wait does.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

#: seconds to wait for the request's message on IOPub before asking again (Jupyter's own wait)
IOPUB_WAIT = 0.2
#: seconds between looks at whether the kernel is still alive while waiting for its answer
POLL = 1.0


async def _answered(kc: Any, msg_id: str, deadline: float, timeout: float) -> None:
    """Wait for the shell channel's answer to `msg_id` (other answers are dropped)."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"the kernel did not answer within {timeout:g} s")
        try:
            reply = await kc.get_shell_msg(timeout=min(left, POLL))
        except Empty:
            if not await kc.is_alive():
                raise RuntimeError("the kernel stopped before it answered") from None
            continue
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            return


async def _heard(kc: Any, msg_id: str) -> bool:
    """Whether a message of request `msg_id` comes on IOPub within `IOPUB_WAIT` seconds."""
    heard_by = time.monotonic() + IOPUB_WAIT
    while (left := heard_by - time.monotonic()) > 0:
        try:
            message = await kc.get_iopub_msg(timeout=left)
        except Empty:
            return False
        if message.get("parent_header", {}).get("msg_id") == msg_id:
            return True
    return False


async def ready(kc: Any, timeout: float) -> None:
    """Wait until the kernel of client `kc` (asynchronous, its channels started) answers, and
    its IOPub is heard.

    Raises:
        RuntimeError: when the kernel stops, or is not ready within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        msg_id = kc.kernel_info()
        await _answered(kc, msg_id, deadline, timeout)
        if await _heard(kc, msg_id):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the kernel's outputs were not heard within {timeout:g} s")
