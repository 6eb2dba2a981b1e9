"""``FileLock``: one process at a time on a run directory or an output file.

An exclusive, non-blocking ``flock`` on a lock file. A second holder (another process, or a
second lock object in the same process: flock locks belong to open file descriptions) is
refused at once with an ``InputError`` that says who is busy, instead of waiting or
interleaving writes. The kernel drops the lock when the holder dies, even by SIGKILL, so a
crashed run never leaves a stale lock behind; the lock file itself stays (it is empty).

The descriptor is opened non-inheritable (PEP 446): a spawned child process (an environment
worker) does not keep the lock alive after its parent lets it go.

Used by the trainer (``.lock`` in the run directory) and by ``DemoWriter``
(``.NAME.lock`` next to the file it writes).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from handspec.errors import InputError


class FileLock:
    """``FileLock(path, busy="another process is ...", file=..., field=...)``.

    ``acquire`` takes the lock (a no-op when this object holds it already) or raises
    ``InputError(busy, file=file, field=field)``; ``release`` (or leaving the ``with``
    block) drops it and may be called any number of times.
    """

    def __init__(self, path: str | Path, busy: str, *, file: str | Path | None = None,
                 field: str | None = None):
        self.path = Path(path)
        self.busy = busy
        self.file = file
        self.field = field
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> FileLock:
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(self.busy, file=self.file, field=self.field) from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
