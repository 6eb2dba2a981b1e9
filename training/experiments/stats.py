"""Statistics over seeds: the mean and its 95% confidence interval, for numbers and curves.

The 95% confidence interval of a mean over n seeds is ``mean +- t_{0.975, n-1} * s / sqrt(n)``
(Student's t, sample standard deviation s); with a single seed it is undefined and reported
as null / NaN, never as zero width.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

@dataclass(frozen=True)
class ConfidenceInterval:
    """Mean of ``n`` values and its two-sided confidence interval (t distribution)."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if not math.isfinite(x) else round(float(x), 6)

        return {"mean": num(self.mean), "ci_low": num(self.low), "ci_high": num(self.high),
                "ci_half_width": num(self.half_width), "n": self.n, "confidence": self.confidence}

    def format(self, digits: int = 3) -> str:
        """``0.812 +- 0.041`` (or ``0.812 (n=1)`` when the interval is undefined)."""
        if not math.isfinite(self.mean):
            return "n/a"
        if not math.isfinite(self.half_width):
            return f"{self.mean:.{digits}f} (n={self.n})"
        return f"{self.mean:.{digits}f} +- {self.half_width:.{digits}f}"


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> ConfidenceInterval:
    """Mean and ``confidence`` interval of the mean, from Student's t with n-1 dof.

    NaNs are dropped (a seed that produced no evaluation). n = 0 gives NaN everywhere and
    n = 1 a NaN interval around the single value: one seed says nothing about spread.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray([float(v) for v in values], dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return ConfidenceInterval(math.nan, math.nan, math.nan, 0, confidence)
    mean = float(x.mean())
    if n == 1:
        return ConfidenceInterval(mean, math.nan, math.nan, 1, confidence)
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sem
    return ConfidenceInterval(mean, mean - half, mean + half, n, confidence)


@dataclass(frozen=True)
class CurveBand:
    """Mean and CI of several seeds' curves at the steps all of them evaluated."""

    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int

    def to_dict(self) -> dict[str, Any]:
        def clean(a: np.ndarray) -> list[float | None]:
            return [None if not math.isfinite(v) else round(float(v), 6) for v in a]

        return {"steps": [int(s) for s in self.steps], "mean": clean(self.mean),
                "ci_low": clean(self.low), "ci_high": clean(self.high), "n": self.n}


def curve_band(curves: Sequence[Sequence[tuple[int, float]]], confidence: float = 0.95) -> CurveBand:
    """``curves[seed] = [(step, value), ...]`` -> per-step mean and CI over seeds.

    Only steps present in every curve are kept (a seed stopped early by a time budget
    shortens the band rather than biasing its tail towards the seeds that got further).
    """
    curves = [list(c) for c in curves if len(c)]
    if not curves:
        empty = np.zeros(0)
        return CurveBand(empty.astype(int), empty, empty, empty, 0)
    common = {int(s) for s, _ in curves[0]}
    for c in curves[1:]:
        common &= {int(s) for s, _ in c}
    steps = np.array(sorted(common), dtype=int)
    lookup = [{int(s): float(v) for s, v in c} for c in curves]
    cis = [mean_ci([d[s] for d in lookup], confidence) for s in steps]
    return CurveBand(steps, np.array([c.mean for c in cis]), np.array([c.low for c in cis]),
                     np.array([c.high for c in cis]), len(curves))
