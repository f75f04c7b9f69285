"""Ctrl-C and SIGTERM held back while a result is being installed, so none is half-written."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Shield:
    """Defers SIGINT and SIGTERM while `held`; raises KeyboardInterrupt when released."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False

    def handler(self, signum: int, frame: object) -> None:
        """The signal handler: interrupt now, or remember the signal for later."""
        if self.depth:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Use `handler` for SIGINT and SIGTERM (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = {sig: signal.signal(sig, self.handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold signals back for the duration of the block."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending:
                self.pending = False
                raise KeyboardInterrupt
