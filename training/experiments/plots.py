"""The plots every experiment draws: F1 curves with CI bands, final F1 bars per arm.

Each ``plot_*`` saves a PNG and returns its path; the ``*_figure`` function behind it builds
the figure (what tests read the texts of). A 95% CI is drawn only where
``stats.MIN_SEEDS_FOR_CI`` seeds or more finished; below that the seeds' own values are drawn
as points and nothing suggests a spread that was never measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from training.experiments.stats import MIN_SEEDS_FOR_CI, ConfidenceInterval, CurveBand
from training.runlog import F1_AXIS_LABEL, new_figure, save_figure

ARM_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# line styles of per-arm reference lines, in the order the kinds are given (e.g. random, paper)
REFERENCE_STYLES = ("--", ":", "-.")
SEED_POINTS_LABEL = f"(points: seeds; no CI below {MIN_SEEDS_FOR_CI} seeds)"


def arm_color(i: int) -> str:
    return ARM_COLORS[i % len(ARM_COLORS)]


def f1_bands_figure(bands: Mapping[str, CurveBand], *, title: str,
                    reference: Mapping[str, float | None] | None = None,
                    arm_reference: Mapping[str, Mapping[str, float | None]] | None = None) -> Figure:
    """F1 against environment steps: one line per arm (mean over seeds) with its 95% CI
    band from ``MIN_SEEDS_FOR_CI`` seeds on, each seed's evaluations as points below that.

    ``reference`` draws grey horizontal lines shared by all arms (e.g. the random policy of
    the one hand every arm uses). ``arm_reference[kind][arm]`` draws one line per arm in the
    arm's colour, a line style per kind, labelled "<kind>, <arm>" (e.g. each hand's random
    policy, so a hand's floor is told apart from another's).
    """
    fig = new_figure(7.2, 4.2)
    ax = fig.subplots()
    colors = {label: arm_color(i) for i, label in enumerate(bands)}
    for label, band in bands.items():
        color = colors[label]
        if not band.steps.size:
            ax.plot([], [], color=color, label=f"{label} (no finished seed yet)")
            continue
        if band.has_ci:
            ax.plot(band.steps, band.mean, marker="o", ms=3, color=color,
                    label=f"{label} (mean, 95% CI, n={band.n})")
            ok = np.isfinite(band.low)
            ax.fill_between(band.steps[ok], np.clip(band.low[ok], 0, 1),
                            np.clip(band.high[ok], 0, 1), color=color, alpha=0.2, lw=0)
            continue
        text = "one seed" if band.n == 1 else f"mean of n={band.n} seeds"
        ax.plot(band.steps, band.mean, lw=1.2, color=color, label=f"{label} ({text})")
        for k, curve in enumerate(band.per_seed if band.per_seed is not None else []):
            ax.scatter(band.steps, curve, s=14, color=color, marker="os^"[k % 3],
                       edgecolor="black", lw=0.3, zorder=3)
    for j, (label, value) in enumerate((reference or {}).items()):
        if value is not None and math.isfinite(value):
            ax.axhline(value, color="grey", ls=REFERENCE_STYLES[j % len(REFERENCE_STYLES)], lw=1,
                       label=f"{label} ({value:.2f})")
    for j, (kind, per_arm) in enumerate((arm_reference or {}).items()):
        for arm, value in per_arm.items():
            if value is not None and math.isfinite(value):
                ax.axhline(value, color=colors.get(arm, "grey"), lw=1.2,
                           ls=REFERENCE_STYLES[j % len(REFERENCE_STYLES)],
                           label=f"{kind}, {arm} ({value:.2f})")
    if any(not b.has_ci and b.n > 1 for b in bands.values()):
        title = f"{title}\n{SEED_POINTS_LABEL}"
    ax.set(xlabel="environment steps", ylabel=F1_AXIS_LABEL, ylim=(0, 1.02), title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=7)
    return fig


def plot_f1_bands(bands: Mapping[str, CurveBand], path: str | Path, *, title: str,
                  reference: Mapping[str, float | None] | None = None,
                  arm_reference: Mapping[str, Mapping[str, float | None]] | None = None) -> Path:
    """``f1_bands_figure`` saved as a PNG."""
    return save_figure(f1_bands_figure(bands, title=title, reference=reference,
                                       arm_reference=arm_reference), path)


def f1_bars_figure(cis: Mapping[str, ConfidenceInterval], per_seed: Mapping[str, Sequence[float]],
                   *, title: str, ylabel: str = "final F1") -> Figure:
    """One bar per arm (mean over seeds) with every seed as a dot, its 95% CI as an error
    bar where ``has_ci``, and the number of seeds under the arm's name."""
    fig = new_figure(1.8 + 1.4 * max(len(cis), 1), 3.8)
    ax = fig.subplots()
    labels = list(cis)
    x = np.arange(len(labels))
    means = [cis[k].mean if math.isfinite(cis[k].mean) else 0.0 for k in labels]
    ax.bar(x, means, 0.6, color=[arm_color(i) for i in x], alpha=0.8, edgecolor="black")
    with_ci = [i for i, k in enumerate(labels) if cis[k].has_ci]
    if with_ci:
        ax.errorbar(x[with_ci], [means[i] for i in with_ci],
                    yerr=[cis[labels[i]].half_width for i in with_ci], fmt="none",
                    ecolor="black", capsize=5, lw=1.2)
    for i, k in enumerate(labels):
        values = [v for v in per_seed.get(k, []) if math.isfinite(v)]
        if values:
            ax.scatter(np.full(len(values), i) + np.linspace(-0.12, 0.12, len(values)), values,
                       color="black", s=12, zorder=3)
    seeds = [f"n={cis[k].n} seed{'s' if cis[k].n != 1 else ''}" if cis[k].n else "no seed yet"
             for k in labels]
    ax.set_xticks(x, [f"{k}\n{n}" for k, n in zip(labels, seeds)])
    if len(with_ci) < len(labels):
        title = f"{title}\n(dots: seeds; 95% CI only from {MIN_SEEDS_FOR_CI} seeds)"
    ax.set(ylabel=ylabel, ylim=(0, 1.1), title=title)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_f1_bars(cis: Mapping[str, ConfidenceInterval], per_seed: Mapping[str, Sequence[float]],
                 path: str | Path, *, title: str, ylabel: str = "final F1") -> Path:
    """``f1_bars_figure`` saved as a PNG."""
    return save_figure(f1_bars_figure(cis, per_seed, title=title, ylabel=ylabel), path)
