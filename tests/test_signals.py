"""``training.signals``: the one implementation of Ctrl-C / SIGTERM handling."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from training.signals import EXIT_SIGTERM, GracefulInterrupt, Terminated, sigterm_as_exit


def test_sigterm_as_exit_raises_terminated_and_restores():
    before = signal.getsignal(signal.SIGTERM)
    cleaned = []
    with pytest.raises(Terminated) as err:
        with sigterm_as_exit():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
            finally:
                cleaned.append(True)  # finally blocks run: work gets committed
    assert err.value.code == EXIT_SIGTERM == 143 and cleaned
    assert signal.getsignal(signal.SIGTERM) is before


def test_graceful_interrupt_first_requests_second_interrupts():
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the runner was started in the background
    with GracefulInterrupt() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested and not stop.terminated
        with pytest.raises(KeyboardInterrupt):
            stop.check()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # the second one interrupts at once
    assert signal.getsignal(signal.SIGINT) is before


def test_graceful_interrupt_can_take_sigterm():
    before = signal.getsignal(signal.SIGTERM)
    with GracefulInterrupt(sigterm=True) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.terminated
        with pytest.raises(Terminated):
            stop.check()
    assert signal.getsignal(signal.SIGTERM) is before


def test_outside_the_main_thread_nothing_is_installed():
    seen = {}

    def worker():
        with sigterm_as_exit():
            seen["handler"] = signal.getsignal(signal.SIGTERM)
        stop = GracefulInterrupt()
        seen["requested"] = stop.requested
        stop.restore()

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"handler": before, "requested": False}
