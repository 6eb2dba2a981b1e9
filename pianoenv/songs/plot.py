"""Piano-roll picture of prepared goals: what must be pressed, by which hand, and the pedal."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fingering.keyboard import key_name
from handspec.errors import InputError
from handspec.atomic import atomic_output
from pianoenv.songs.goals import SongGoals

PLOT_SUFFIXES = (".png", ".pdf", ".svg")
_COLORS = {"right": "tab:red", "left": "tab:blue", None: "0.35"}


def _hand_of(goals: SongGoals) -> list[str | None]:
    return [n.hand for n in goals.notes.notes]


def plot_piano_roll(goals: SongGoals, out: str | Path, *, title: str | None = None) -> Path:
    """Draw ``goals`` as a piano roll (time across, keys up) and save it atomically.

    Each note is a bar from its start step to its end step, coloured by hand (red right,
    blue left, grey unknown); the sustain pedal is shaded along the bottom.
    """
    out = Path(out)
    if out.suffix.lower() not in PLOT_SUFFIXES:
        raise InputError(f"unsupported image type {out.suffix or '(none)'}; use "
                         + "/".join(PLOT_SUFFIXES), file=out, field="--out")
    if not out.parent.is_dir():
        raise InputError("folder does not exist", file=out.parent, field="--out")
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    dt = goals.control_timestep
    fig = Figure(figsize=(max(6.0, min(30.0, goals.duration / 2.5)), 4.5), dpi=120)
    ax = fig.add_subplot()
    key_of = [n.key for n in goals.notes.notes]
    for (start, end), key, hand in zip(goals.note_steps, key_of, _hand_of(goals)):
        ax.broken_barh([(start * dt, (end - start) * dt)], (key - 0.4, 0.8),
                       facecolors=_COLORS[hand])
    # keys held over from a previous chunk have no note of their own: draw them too
    held = goals.keys.copy()
    for (start, end), key in zip(goals.note_steps, key_of):
        held[start:end, key] = False
    for t, key in zip(*np.nonzero(held)):
        ax.broken_barh([(t * dt, dt)], (key - 0.4, 0.8), facecolors="0.6")
    used = np.nonzero(goals.keys.any(axis=0))[0]
    lo, hi = (used.min(), used.max()) if used.size else (39, 51)
    pedal_y = lo - 2.5
    for t in np.nonzero(goals.sustain)[0]:
        ax.broken_barh([(t * dt, dt)], (pedal_y - 0.5, 1.0), facecolors="tab:green", alpha=0.5)
    ticks = [k for k in range(lo, hi + 1) if key_name(k).startswith("C") and "#" not in key_name(k)]
    ax.set_yticks(ticks, [key_name(k) for k in ticks])
    ax.set_ylim(pedal_y - 1.5, hi + 1.5)
    ax.set_xlim(0, goals.duration)
    ax.set_xlabel(f"time (s), {goals.num_steps} steps of {dt:g} s")
    ax.set_ylabel("key")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or f"{goals.name}: red = right hand, blue = left, green = sustain")
    fig.tight_layout()
    with atomic_output(out) as tmp:
        fig.savefig(tmp)
    return out
