"""Specialists for the pipeline tests, loaded by name (``test_pipeline_plugins:Flaky``) the
way a user plugs in their own trainer. They must be importable in worker processes: local
workers are spawned with this process' ``sys.path``; the Ray backend passes it on too."""

from __future__ import annotations

import os
from pathlib import Path

from handspec.errors import InputError
from training.pipeline import BaselineSpecialist, ChunkTask


def _first_attempt(task: ChunkTask) -> bool:
    marker = Path(task.out) / f"{task.slug}.attempted"
    if marker.exists():
        return False
    marker.write_text(str(os.getpid()))
    return True


class Flaky(BaselineSpecialist):
    """Fails the first attempt of every chunk (a transient error), then plays randomly."""

    def __init__(self) -> None:
        super().__init__("random")

    def train(self, task, run_dir):
        if _first_attempt(task):
            raise RuntimeError(f"transient failure on {task.slug}")
        return super().train(task, run_dir)


class Crashing(BaselineSpecialist):
    """Kills its worker process on the first attempt (like the OOM killer), then works."""

    def __init__(self) -> None:
        super().__init__("random")

    def train(self, task, run_dir):
        if _first_attempt(task):
            os._exit(3)
        return super().train(task, run_dir)


class Broken(BaselineSpecialist):
    def __init__(self) -> None:
        super().__init__("random")

    def train(self, task, run_dir):
        raise RuntimeError("always broken")


class BadInput(BaselineSpecialist):
    def __init__(self) -> None:
        super().__init__("random")

    def train(self, task, run_dir):
        raise InputError("cannot use this song", file=task.song, field="notes")


def test_plugins_are_specialists():
    from training.pipeline import resolve_specialist

    assert isinstance(resolve_specialist("test_pipeline_plugins:Flaky"), Flaky)
