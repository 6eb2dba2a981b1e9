"""How long-running commands react to Ctrl-C and SIGTERM: one implementation for all of them.

* ``GracefulInterrupt``: the first Ctrl-C (or SIGTERM, if asked) only sets ``requested``;
  a loop checks it between iterations, so no update or commit is cut in half and the state
  saved on the way out is consistent. A second Ctrl-C interrupts at once.
* ``sigterm_as_interrupt``: SIGTERM stops like Ctrl-C (experiments: the current run
  checkpoints and writes its summary).
* ``sigterm_as_exit``: SIGTERM (a scheduler's or ``timeout``'s kill) unwinds the stack like
  an exception, so ``finally`` blocks commit complete work, and the process exits with
  128 + 15 = 143, as a shell reports a process killed by SIGTERM.

Signal handlers can only be installed from the main thread; elsewhere both are no-ops
(Ray and thread-pool workers get their signals from their own runtime).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_SIGINT = 128 + signal.SIGINT    # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives; its exit code is 143.

    A ``SystemExit`` so that ``except Exception`` handlers do not swallow it, while
    ``finally`` blocks and context managers still run."""

    def __init__(self) -> None:
        super().__init__(EXIT_SIGTERM)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_terminated(signum, frame) -> None:  # noqa: ARG001
    raise Terminated()


@contextmanager
def _on_sigterm(handler) -> Iterator[None]:
    """``handler`` for SIGTERM within the block (main thread only), the previous after."""
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def sigterm_as_exit():
    """Within the block, SIGTERM raises ``Terminated`` (exit code 143)."""
    return _on_sigterm(_raise_terminated)


def _raise_keyboard_interrupt(signum, frame) -> None:  # noqa: ARG001
    raise KeyboardInterrupt


def sigterm_as_interrupt():
    """Within the block, SIGTERM raises ``KeyboardInterrupt``: ``kill PID`` stops a trainer
    like Ctrl-C (checkpoint and summary written). Background jobs started from a
    non-interactive shell ignore SIGINT, so SIGTERM is how they are stopped."""
    return _on_sigterm(_raise_keyboard_interrupt)


class GracefulInterrupt:
    """First Ctrl-C sets ``requested``; a second raises ``KeyboardInterrupt`` at once.

    With ``sigterm=True`` a SIGTERM also sets ``requested`` (and ``terminated``), so a loop
    stops at its next boundary; the caller then raises ``Terminated``. Use as a context
    manager or call ``restore()``; only installed in the main thread.
    """

    def __init__(self, *, sigterm: bool = False) -> None:
        self.requested = False
        self.terminated = False
        self._previous: dict[int, object] = {}
        if _main_thread():
            self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._handle)
            if sigterm:
                self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        if signum == signal.SIGTERM:
            self.terminated = True
        elif self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        """Raise what the signal asked for, if one arrived: ``Terminated`` or
        ``KeyboardInterrupt``."""
        if self.terminated:
            raise Terminated()
        if self.requested:
            raise KeyboardInterrupt

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def __enter__(self) -> "GracefulInterrupt":
        return self

    def __exit__(self, *exc) -> None:
        self.restore()
