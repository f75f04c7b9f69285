"""`signals.Shield`: Ctrl-C and SIGTERM wait while a result is installed, then interrupt."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from course_utils.grading.signals import Shield


def test_outside_a_held_block_a_signal_interrupts_at_once():
    with pytest.raises(KeyboardInterrupt):
        Shield().handler(signal.SIGINT, None)


def test_a_signal_while_held_interrupts_when_the_block_ends():
    shield = Shield()
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with shield.held():
            shield.handler(signal.SIGTERM, None)
            finished.append("install")  # the block runs to its end
    assert finished == ["install"]
    assert shield.pending is False and shield.depth == 0
    with shield.held():  # and the next block is not interrupted by the old signal
        pass


def test_nested_blocks_interrupt_only_when_the_outer_one_ends():
    shield = Shield()
    order = []
    with pytest.raises(KeyboardInterrupt):
        with shield.held():
            with shield.held():
                shield.handler(signal.SIGINT, None)
            order.append("inner ended")
    assert order == ["inner ended"]


def test_an_error_in_the_block_still_releases_it():
    shield = Shield()
    with pytest.raises(ValueError):
        with shield.held():
            raise ValueError("install failed")
    assert shield.depth == 0
    with pytest.raises(KeyboardInterrupt):
        shield.handler(signal.SIGINT, None)


def test_real_signals_are_held_and_the_handlers_restored():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    shield = Shield()
    with shield.installed():
        assert signal.getsignal(signal.SIGTERM) == shield.handler
        with pytest.raises(KeyboardInterrupt):
            with shield.held():
                os.kill(os.getpid(), signal.SIGTERM)
                assert shield.pending
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_installing_outside_the_main_thread_changes_nothing():
    before = signal.getsignal(signal.SIGINT)
    seen = []

    def run() -> None:
        with Shield().installed():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [before]
