"""``training.locks.FileLock``: one holder at a time, refused at once, never left stale."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handspec.errors import InputError
from training.locks import FileLock

HOLD = """
import sys, time
from training.locks import FileLock
held = FileLock(sys.argv[1], "busy").acquire()  # kept: the object releases when collected
print("held", flush=True)
time.sleep(120)
"""


def lock(path: Path) -> FileLock:
    return FileLock(path, "another process is using it", file=path.parent, field="out")


def test_second_holder_is_refused_with_the_message_until_release(tmp_path):
    path = tmp_path / "new" / ".lock"
    first = lock(path).acquire()
    assert first.held and path.is_file()  # the folder is created
    assert first.acquire() is first  # taking it again is a no-op
    with pytest.raises(InputError) as err:
        lock(path).acquire()
    assert err.value.one_line() == f"{tmp_path / 'new'}: out: another process is using it"
    first.release()
    first.release()  # idempotent
    assert not first.held
    with lock(path) as again:
        assert again.held
    assert not again.held
    lock(path).acquire().release()


def _holder(path: Path) -> subprocess.Popen:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=root,
                            env=dict(os.environ, PYTHONPATH=str(root)),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_lock_held_by_another_process_is_refused_and_freed_when_it_dies(tmp_path):
    path = tmp_path / ".lock"
    proc = _holder(path)
    try:
        with pytest.raises(InputError, match="another process is using it"):
            lock(path).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)  # no cleanup runs: the kernel drops the lock
        proc.wait()
    lock(path).acquire().release()


def test_a_child_process_does_not_inherit_the_lock(tmp_path):
    path = tmp_path / ".lock"
    held = lock(path).acquire()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        held.release()
        time.sleep(0.1)
        lock(path).acquire().release()  # the running child does not keep it
    finally:
        child.kill()
        child.wait()
