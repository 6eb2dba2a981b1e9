"""Figures comparing fingerings (PNG, Agg; no pyplot state, no display needed).

Every ``plot_*`` function saves one PNG atomically and returns its ``Path``; the
``*_figure`` function behind it builds the figure (tests read its texts). Bars of shares
carry their counts and heat maps their cell counts: a share alone hides whether it is one
note or a hundred. Figures that colour by finger use the same colours (``FINGER_COLORS``,
Okabe-Ito colour-blind-safe palette, thumb..little).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from handspec.atomic import atomic_output
from fingering.match import CONFUSION_COLUMNS, HANDS, UNPLAYED, finger_counts, usage_shares
from fingering.notes import FINGER_NAMES, NoteSequence

FINGER_COLORS: tuple[str, ...] = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2")
NO_FINGER_COLOR = "#BBBBBB"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _notes(k: int) -> str:
    return f"{k} note{'' if k == 1 else 's'}"


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


HUMAN_COLOR, MACHINE_COLOR = "#999999", "#0072B2"


def finger_usage_figure(human: Sequence[NoteSequence], machine: NoteSequence, *,
                        title: str = "", machine_label: str = "machine"):
    """Per-hand finger usage, humans (pooled annotators) vs one machine fingering: bars are
    shares of the hand's fingered notes, each labelled with its count, and the legend says
    how many notes each side fingered (a share of 1.0 can be one note)."""
    theirs, theirs_missing = finger_counts(human)
    ours, ours_missing = finger_counts([machine])
    fig = _figure(10, 4.0)
    axes = fig.subplots(1, 2, sharey=True)
    x = np.arange(5)
    annotators = len(human)
    for ax, hand in zip(axes, ("left", "right")):
        k = HANDS.index(hand)
        for counts, missing, offset, color, hatch, who in (
                (theirs[k], theirs_missing[k], -0.2, HUMAN_COLOR, None, "human"),
                (ours[k], ours_missing[k], 0.2, MACHINE_COLOR, "///", machine_label)):
            total, share = int(counts.sum()), usage_shares(counts)
            label = f"{who}: {_notes(total)}"
            if who == "human" and annotators > 1:  # every annotator fingers the same notes
                label = (f"human: {_notes(total // annotators)} x {annotators} annotators"
                         if total % annotators == 0 else
                         f"human: {_notes(total)} in {annotators} fingerings")
            if missing:
                label = f"{who}: {total} of {total + int(missing)} notes fingered, {int(missing)} unplayed"
            bars = ax.bar(x + offset, share, 0.38, color=color, edgecolor="black", hatch=hatch,
                          label=label)
            ax.bar_label(bars, labels=[str(int(c)) for c in counts], padding=2, fontsize=7)
        ax.set_xticks(x, [n.capitalize() for n in FINGER_NAMES])
        ax.set_title(f"{hand} hand")
        ax.set_xlabel("finger (bar labels: counts)")
        ax.set_ylim(0, 1.4)  # room for the legend above the bars
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper right", fontsize=7)
    axes[0].set_ylabel("share of the hand's fingered notes")
    fig.suptitle(title or "Finger usage: human vs machine")
    return fig


def plot_finger_usage(human: Sequence[NoteSequence], machine: NoteSequence, path: str | Path,
                      *, title: str = "", machine_label: str = "machine") -> Path:
    """``finger_usage_figure`` saved as a PNG."""
    return _save(finger_usage_figure(human, machine, title=title, machine_label=machine_label),
                 path)


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


def confusion_figure(confusion: np.ndarray, *, title: str = "", machine_label: str = "machine",
                     annotators: int | None = None):
    """Finger confusion [hand, human finger, machine column] as count heat maps.

    ``confusion`` is ``PieceMatch.confusion`` (2, 5, 7): machine columns are its fingers on
    the same hand, then "other hand" and "unplayed" (a (2, 5, 5) matrix of fingers only is
    accepted too). Cells hold counts and the colour is the count on one scale for both
    hands, so a row of one note does not look like a row of thirty. With several
    annotators a note counts once per annotator, and the titles say so; ``annotators=None``
    (unknown, e.g. summed over pieces) labels the counts as (note, annotator) pairs.
    """
    from matplotlib.ticker import MaxNLocator

    conf = np.asarray(confusion, dtype=float)
    columns = [n.capitalize() for n in CONFUSION_COLUMNS[:conf.shape[2]]]
    fig = _figure(4.0 + 1.0 * conf.shape[2], 4.4)
    axes = fig.subplots(1, 2)
    top = max(float(conf.max()), 1.0)
    unit = "notes" if annotators == 1 else "(note, annotator) pairs"
    image = None
    for ax, hand in zip(axes, ("left", "right")):
        c = conf[HANDS.index(hand)]
        image = ax.imshow(c, vmin=0, vmax=top, cmap="Blues", aspect="auto")
        for i in range(c.shape[0]):
            for j in range(c.shape[1]):
                ax.text(j, i, f"{int(c[i, j])}", ha="center", va="center", fontsize=8,
                        color="white" if c[i, j] > 0.6 * top else "black")
        if c.shape[1] > 5:
            ax.axvline(4.5, color="black", lw=1.5)
        ax.set_xticks(range(c.shape[1]), columns, rotation=35, ha="right")
        ax.set_yticks(range(5), columns[:5])
        ax.set_xlabel(f"{machine_label} finger")
        ax.set_ylabel("human finger")
        total = int(c.sum())
        unplayed = int(c[:, UNPLAYED].sum()) if c.shape[1] > 5 else 0
        if annotators is not None and total % annotators == 0 and unplayed % annotators == 0:
            n = f"n = {_notes(total // annotators)}"
            n += f" x {annotators} annotators" if annotators > 1 else ""
            n += f", {unplayed // annotators} unplayed" if c.shape[1] > 5 else ""
        else:  # unknown, or annotators disagree on which hand plays some notes
            n = f"n = {total} (note, annotator) pairs"
            n += f", {unplayed} of them unplayed" if c.shape[1] > 5 else ""
        ax.set_title(f"{hand} hand: {n}", fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8, label=f"{unit} (cell counts)",
                 ticks=MaxNLocator(integer=True))
    fig.suptitle(title or "Finger confusion")
    return fig


def plot_confusion(confusion: np.ndarray, path: str | Path, *, title: str = "",
                   machine_label: str = "machine", annotators: int | None = None) -> Path:
    """``confusion_figure`` saved as a PNG."""
    return _save(confusion_figure(confusion, title=title, machine_label=machine_label,
                                  annotators=annotators), path)
