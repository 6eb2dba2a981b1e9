"""Statistics over seeds: the mean and its 95% confidence interval, for numbers and curves.

The 95% confidence interval of a mean over n seeds is ``mean +- t_{0.975, n-1} * s / sqrt(n)``
(Student's t, sample standard deviation s). It is reported only from ``MIN_SEEDS_FOR_CI``
seeds on: with two seeds t_{0.975, 1} = 12.7 and the "interval" (e.g. 0.315 +- 1.371)
spans more than the whole F1 range, so it says nothing but looks like a result. Below that
the interval is null / NaN (never zero width) and every table and plot shows the seeds'
own values instead. This module is the one place that rule lives: tables call
``ConfidenceInterval.format``, plots ask ``has_ci``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

MIN_SEEDS_FOR_CI = 3
# the column header that goes with ``ConfidenceInterval.format``
CI_HEADER = f"mean +- 95% CI; seed values if n < {MIN_SEEDS_FOR_CI}"


@dataclass(frozen=True)
class ConfidenceInterval:
    """Mean of ``n`` values and its two-sided confidence interval (t distribution).

    ``values`` are the finite values the mean is over (one per seed, in seed order), kept so
    that a table can print them where there are too few for an interval.
    """

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95
    values: tuple[float, ...] = ()

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    @property
    def has_ci(self) -> bool:
        """True when there is an interval to draw (n >= ``MIN_SEEDS_FOR_CI``)."""
        return self.n >= MIN_SEEDS_FOR_CI and math.isfinite(self.half_width)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": _num(self.mean), "ci_low": _num(self.low), "ci_high": _num(self.high),
                "ci_half_width": _num(self.half_width), "n": self.n,
                "confidence": self.confidence, "values": [_num(v) for v in self.values]}

    def format(self, digits: int = 3, *, percent: bool = False) -> str:
        """``0.812 +- 0.041`` from three seeds on; ``0.315 (n=2: 0.100, 0.530)`` below
        (``0.400 (n=1)`` for one); ``n/a`` without any. ``percent`` prints ``81.2% +- 4.1``."""
        if not math.isfinite(self.mean):
            return "n/a"

        def num(x: float) -> str:
            return f"{100 * x:.{digits}f}%" if percent else f"{x:.{digits}f}"

        if self.has_ci:
            half = f"{100 * self.half_width:.{digits}f}" if percent else num(self.half_width)
            return f"{num(self.mean)} +- {half}"
        if self.n >= 2 and self.values:
            return f"{num(self.mean)} (n={self.n}: {', '.join(num(v) for v in self.values)})"
        return f"{num(self.mean)} (n={self.n})"


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 6)


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> ConfidenceInterval:
    """Mean and ``confidence`` interval of the mean, from Student's t with n-1 dof.

    NaNs are dropped (a seed that produced no evaluation). n = 0 gives NaN everywhere;
    n < ``MIN_SEEDS_FOR_CI`` a NaN interval around the mean: too few seeds to say anything
    about spread.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray([float(v) for v in values], dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    kept = tuple(float(v) for v in x)
    if n == 0:
        return ConfidenceInterval(math.nan, math.nan, math.nan, 0, confidence)
    mean = float(x.mean())
    if n < MIN_SEEDS_FOR_CI:
        return ConfidenceInterval(mean, math.nan, math.nan, n, confidence, kept)
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sem
    return ConfidenceInterval(mean, mean - half, mean + half, n, confidence, kept)


@dataclass(frozen=True)
class CurveBand:
    """Mean and CI of several seeds' curves at the steps all of them evaluated.

    ``per_seed[k]`` is seed k's curve at ``steps`` (what a plot draws instead of a band
    when ``has_ci`` is False).
    """

    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int
    per_seed: np.ndarray | None = None

    @property
    def has_ci(self) -> bool:
        return self.n >= MIN_SEEDS_FOR_CI and bool(np.isfinite(self.low).any())

    def to_dict(self) -> dict[str, Any]:
        def clean(a: np.ndarray) -> list[float | None]:
            return [_num(v) for v in a]

        seeds = [] if self.per_seed is None else [clean(row) for row in self.per_seed]
        return {"steps": [int(s) for s in self.steps], "mean": clean(self.mean),
                "ci_low": clean(self.low), "ci_high": clean(self.high), "n": self.n,
                "per_seed": seeds}


def curve_band(curves: Sequence[Sequence[tuple[int, float]]], confidence: float = 0.95) -> CurveBand:
    """``curves[seed] = [(step, value), ...]`` -> per-step mean and CI over seeds.

    Only steps present in every curve are kept (a seed stopped early by a time budget
    shortens the band rather than biasing its tail towards the seeds that got further).
    """
    curves = [list(c) for c in curves if len(c)]
    if not curves:
        empty = np.zeros(0)
        return CurveBand(empty.astype(int), empty, empty, empty, 0, np.zeros((0, 0)))
    common = {int(s) for s, _ in curves[0]}
    for c in curves[1:]:
        common &= {int(s) for s, _ in c}
    steps = np.array(sorted(common), dtype=int)
    lookup = [{int(s): float(v) for s, v in c} for c in curves]
    per_seed = np.array([[d[s] for s in steps] for d in lookup], dtype=float).reshape(len(curves), -1)
    cis = [mean_ci(per_seed[:, k], confidence) for k in range(len(steps))]
    return CurveBand(steps, np.array([c.mean for c in cis]), np.array([c.low for c in cis]),
                     np.array([c.high for c in cis]), len(curves), per_seed)
