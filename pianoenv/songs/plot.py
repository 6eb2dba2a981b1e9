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


def _runs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, start, end) of every run of True in each row of a 2-D bool array."""
    padded = np.zeros((rows.shape[0], rows.shape[1] + 2), np.int8)
    padded[:, 1:-1] = rows
    edges = np.diff(padded, axis=1)
    r0, start = np.nonzero(edges == 1)
    _, end = np.nonzero(edges == -1)  # row-major order pairs each start with its end
    return r0, start, end


def _bars(ax, x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, height: float, color,
          alpha: float = 1.0) -> None:
    """Rectangles [x0, x1] x [y0, y0 + height] as one collection."""
    from matplotlib.collections import PolyCollection

    if len(x0) == 0:
        return
    y1 = y0 + height
    verts = np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1),
                      np.stack([x1, y1], 1), np.stack([x0, y1], 1)], axis=1)
    ax.add_collection(PolyCollection(verts, facecolors=color, edgecolors="none", alpha=alpha))


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
    # One PolyCollection per colour instead of one artist per note or step: a long piece
    # has tens of thousands of bars, and artists are what makes matplotlib slow.
    spans = np.asarray(goals.note_steps, np.int64).reshape(-1, 2)
    keys = np.array([n.key for n in goals.notes.notes], np.int64)
    hands = np.array([str(h) for h in _hand_of(goals)])
    for hand, color in _COLORS.items():
        rows = hands == str(hand)
        _bars(ax, spans[rows, 0] * dt, spans[rows, 1] * dt, keys[rows] - 0.4, 0.8, color)
    # keys held over from a previous chunk have no note of their own: draw them too
    held = goals.keys.copy()
    for (start, end), key in zip(spans, keys):
        held[start:end, key] = False
    k_held, t0, t1 = _runs(held.T)
    _bars(ax, t0 * dt, t1 * dt, k_held - 0.4, 0.8, "0.6")
    used = np.nonzero(goals.keys.any(axis=0))[0]
    lo, hi = (used.min(), used.max()) if used.size else (39, 51)
    pedal_y = lo - 2.5
    _, p0, p1 = _runs(np.asarray(goals.sustain, bool)[None])
    _bars(ax, p0 * dt, p1 * dt, np.full(len(p0), pedal_y - 0.5), 1.0, "tab:green", alpha=0.5)
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
