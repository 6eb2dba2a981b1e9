"""Figures comparing fingerings (PNG, Agg; no pyplot state, no display needed).

Every function saves one PNG atomically and returns its ``Path``. Finger colours are the
same in every figure (``FINGER_COLORS``, Okabe-Ito colour-blind-safe palette, thumb..little).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from handspec.atomic import atomic_output
from fingering.match import HANDS, finger_usage
from fingering.notes import FINGER_NAMES, NoteSequence

FINGER_COLORS: tuple[str, ...] = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2")
NO_FINGER_COLOR = "#BBBBBB"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def plot_finger_usage(human: Sequence[NoteSequence], machine: NoteSequence, path: str | Path,
                      *, title: str = "", machine_label: str = "machine") -> Path:
    """Per-hand finger usage bars, humans (pooled annotators) vs one machine fingering."""
    ours, theirs = finger_usage([machine]), finger_usage(human)
    fig = _figure(9, 3.6)
    axes = fig.subplots(1, 2, sharey=True)
    x = np.arange(5)
    for ax, hand in zip(axes, ("left", "right")):
        k = HANDS.index(hand)
        ax.bar(x - 0.2, theirs[k], 0.38, color=FINGER_COLORS, edgecolor="black",
               label=f"human ({len(human)} annotator{'s' if len(human) != 1 else ''})")
        ax.bar(x + 0.2, ours[k], 0.38, color=FINGER_COLORS, edgecolor="black", hatch="///",
               alpha=0.75, label=machine_label)
        ax.set_xticks(x, [n.capitalize() for n in FINGER_NAMES])
        ax.set_title(f"{hand} hand")
        ax.set_xlabel("finger")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("share of the hand's notes")
    axes[1].legend(loc="upper right", fontsize=8)
    fig.suptitle(title or "Finger usage: human vs machine")
    return _save(fig, path)


def _roll(ax, seq: NoteSequence, label: str, t0: float, t1: float) -> None:
    from matplotlib.patches import Rectangle

    for n in seq.notes:
        if n.offset < t0 or n.onset > t1:
            continue
        color = FINGER_COLORS[n.finger - 1] if n.finger else NO_FINGER_COLOR
        ax.add_patch(Rectangle((n.onset, n.pitch - 0.45), max(n.duration, 0.02), 0.9,
                               facecolor=color, edgecolor="black", linewidth=0.4,
                               hatch="..." if n.hand == "left" else None))
    ax.set_title(label, fontsize=10)
    ax.set_ylabel("MIDI pitch")
    ax.grid(alpha=0.25)


def plot_piano_roll(first: NoteSequence, second: NoteSequence, path: str | Path, *,
                    labels: tuple[str, str] = ("human", "machine"),
                    time_range: tuple[float, float] | None = None, title: str = "") -> Path:
    """Two fingerings of the same notes as piano rolls, one above the other, coloured by
    finger (dotted = left hand)."""
    from matplotlib.patches import Patch

    notes = first.notes + second.notes
    t0, t1 = time_range or (min(n.onset for n in notes), max(n.offset for n in notes))
    lo, hi = min(n.pitch for n in notes), max(n.pitch for n in notes)
    fig = _figure(11, 6)
    axes = fig.subplots(2, 1, sharex=True, sharey=True)
    for ax, seq, label in zip(axes, (first, second), labels):
        _roll(ax, seq, label, t0, t1)
    axes[0].set_xlim(t0, t1)
    axes[0].set_ylim(lo - 1, hi + 1)
    axes[1].set_xlabel("time (s)")
    handles = [Patch(facecolor=c, edgecolor="black", label=n)
               for c, n in zip(FINGER_COLORS, FINGER_NAMES)]
    handles += [Patch(facecolor="white", edgecolor="black", label="right hand"),
                Patch(facecolor="white", edgecolor="black", hatch="...", label="left hand")]
    fig.legend(handles=handles, loc="outside right center", fontsize=8)
    fig.suptitle(title or "Piano roll coloured by finger")
    return _save(fig, path)


def plot_confusion(confusion: np.ndarray, path: str | Path, *, title: str = "",
                   machine_label: str = "machine") -> Path:
    """Finger confusion (2, 5, 5) [hand, human, machine] as row-normalised heat maps."""
    conf = np.asarray(confusion, dtype=float)
    fig = _figure(9, 4.2)
    axes = fig.subplots(1, 2)
    names = [n.capitalize() for n in FINGER_NAMES]
    image = None
    for ax, hand in zip(axes, ("left", "right")):
        c = conf[HANDS.index(hand)]
        rows = c.sum(axis=1, keepdims=True)
        share = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
        image = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        for i in range(5):
            for j in range(5):
                ax.text(j, i, f"{int(c[i, j])}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.6 else "black")
        ax.set_xticks(range(5), names, rotation=30)
        ax.set_yticks(range(5), names)
        ax.set_xlabel(f"{machine_label} finger")
        ax.set_ylabel("human finger")
        ax.set_title(f"{hand} hand (n={int(c.sum())})")
    fig.colorbar(image, ax=axes, shrink=0.8, label="share of the human finger's notes")
    fig.suptitle(title or "Finger confusion (counts; colour = row share)")
    return _save(fig, path)
