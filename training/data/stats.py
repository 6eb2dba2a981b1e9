"""Summaries of demonstration files: counts, sizes, F1 (``summarize``) and RP1M Fig. 4's
statistics over many files (``compute_stats``; ``training.data.plot`` draws them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from training.data.format import NUM_KEYS, h5_key
from training.data.reader import DemoFile


@dataclass
class FileSummary:
    path: str
    song: str
    chunk: int
    hand: str
    hand_hash: str
    num_demos: int
    total_steps: int
    nbytes: int
    f1: list[float]
    precision: list[float]
    recall: list[float]

    @property
    def mean_f1(self) -> float:
        return float(np.mean(self.f1)) if self.f1 else float("nan")

    @property
    def mb_per_episode(self) -> float:
        return self.nbytes / 1e6 / self.num_demos if self.num_demos else float("nan")


def summarize(path: str | Path) -> FileSummary:
    """Counts, size and per-episode metrics of one file (attributes only; fast)."""
    with DemoFile(path) as df:
        attrs = [df.demo_attrs(i) for i in range(df.num_demos)]
        m = df.meta
        return FileSummary(str(path), m.song, int(m.chunk), m.hand, m.hand_hash, df.num_demos,
                           df.total_steps, df.nbytes(),
                           [float(a.get("f1", np.nan)) for a in attrs],
                           [float(a.get("precision", np.nan)) for a in attrs],
                           [float(a.get("recall", np.nan)) for a in attrs])


@dataclass
class DatasetStats:
    """What RP1M's Fig. 4 shows, over a set of files (one file = one specialist/piece).

    key_steps:   (88,) steps each key is active in the goals, counted once per file
                 (the music, not the 500 repetitions of it)
    active_keys: per file, the number of active keys summed over all its time steps
    file_f1:     per file, the mean F1 of its episodes (what the data achieve)
    episode_f1:  every episode's F1
    eval_f1:     per file whose policy recorded one, the specialist's evaluation F1 (the
                 policy's mode, as RP1M's selection uses); None elsewhere
    """

    files: list[FileSummary]
    key_steps: np.ndarray
    active_keys: list[int]
    file_f1: list[float]
    episode_f1: list[float]
    eval_f1: list[float | None] = field(default_factory=list)

    @property
    def white_fraction(self) -> float:
        from fingering.keyboard import black_mask

        total = self.key_steps.sum()
        return float(self.key_steps[~black_mask()].sum() / total) if total else float("nan")


def compute_stats(paths: Iterable[str | Path]) -> DatasetStats:
    files, key_steps, active, file_f1, ep_f1 = [], np.zeros(NUM_KEYS, np.int64), [], [], []
    eval_f1: list[float | None] = []
    for path in paths:
        summary = summarize(path)
        files.append(summary)
        if summary.num_demos == 0:
            continue
        with DemoFile(path) as df:
            goal = df.read(0, f"obs/{h5_key('goal')}")[:, :NUM_KEYS].astype(bool)
            recorded = df.meta.policy.get("eval_f1")
        key_steps += goal.sum(axis=0)
        active.append(int(goal.sum()))
        file_f1.append(summary.mean_f1)
        ep_f1.extend(summary.f1)
        eval_f1.append(float(recorded) if isinstance(recorded, (int, float)) else None)
    return DatasetStats(files, key_steps, active, file_f1, ep_f1, eval_f1)
