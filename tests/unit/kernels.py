"""Helpers shared by the unit tests of the grading's kernels, bridge and preprocessors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: the bridge's folders in a student kernel's folder
BRIDGE_FOLDERS = ("sockets", "from-student", "to-student")


@contextmanager
def student_kernel(root: Path, code: str) -> Iterator[Any]:
    """A real Python kernel over Unix sockets in `root`, once it ran `code`: its manager.

    `root` gets the bridge's folders (`BRIDGE_FOLDERS`), as a student kernel's folder has.
    """
    from jupyter_client.manager import KernelManager

    for name in BRIDGE_FOLDERS:
        (root / name).mkdir(exist_ok=True)
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(root / "sockets" / "k"))
    km.start_kernel(cwd=str(root))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(code, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        yield km
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def connection(km: Any) -> dict[str, Any]:
    """The kernel's connection information as the judge is given it (its key as text)."""
    info = dict(km.get_connection_info())
    info["key"] = info["key"].decode()
    return info
