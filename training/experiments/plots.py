"""The plots every experiment draws: F1 curves with CI bands, final F1 bars per arm."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from training.experiments.stats import ConfidenceInterval, CurveBand
from training.runlog import new_figure, save_figure

ARM_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def plot_f1_bands(bands: Mapping[str, CurveBand], path: str | Path, *, title: str,
                  reference: Mapping[str, float] | None = None) -> Path:
    """F1 against environment steps: one line per arm (mean over seeds) with its 95% CI band.

    ``reference`` draws horizontal dashed lines (e.g. a random policy's F1).
    """
    fig = new_figure(6.4, 3.8)
    ax = fig.subplots()
    for i, (label, band) in enumerate(bands.items()):
        if not band.steps.size:
            continue
        color = ARM_COLORS[i % len(ARM_COLORS)]
        ax.plot(band.steps, band.mean, marker="o", ms=3, color=color, label=f"{label} (n={band.n})")
        ok = np.isfinite(band.low)
        if ok.any():
            ax.fill_between(band.steps[ok], np.clip(band.low[ok], 0, 1), np.clip(band.high[ok], 0, 1),
                            color=color, alpha=0.2, lw=0)
    for j, (label, value) in enumerate((reference or {}).items()):
        if value is not None and math.isfinite(value):
            ax.axhline(value, color="grey", ls="--", lw=1, label=f"{label} ({value:.2f})")
    ax.set(xlabel="environment steps", ylabel="F1 (evaluation episode)", ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8)
    return save_figure(fig, path)


def plot_f1_bars(cis: Mapping[str, ConfidenceInterval], per_seed: Mapping[str, Sequence[float]],
                 path: str | Path, *, title: str, ylabel: str = "final F1") -> Path:
    """One bar per arm (mean over seeds) with its 95% CI and every seed as a dot."""
    fig = new_figure(1.6 + 1.3 * max(len(cis), 1), 3.6)
    ax = fig.subplots()
    labels = list(cis)
    x = np.arange(len(labels))
    means = [cis[k].mean for k in labels]
    errs = [cis[k].half_width if math.isfinite(cis[k].half_width) else 0.0 for k in labels]
    ax.bar(x, means, 0.6, yerr=errs, capsize=5, color=[ARM_COLORS[i % len(ARM_COLORS)] for i in x],
           alpha=0.8, edgecolor="black")
    for i, k in enumerate(labels):
        values = list(per_seed.get(k, []))
        ax.scatter(np.full(len(values), i) + np.linspace(-0.12, 0.12, len(values)) if values else [],
                   values, color="black", s=12, zorder=3)
    ax.set_xticks(x, labels, rotation=15)
    ax.set(ylabel=ylabel, ylim=(0, 1.02), title=title)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)
