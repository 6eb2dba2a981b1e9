"""``song plot`` speed on long pieces: the piano roll as collections vs one artist per bar.

Issue 15 measured 72-106 s for whole long pieces with the earlier drawing (one
``broken_barh`` per note, per held-over key-step and per pedal step). This script times,
in one run, ``pianoenv.songs.plot.plot_piano_roll`` against that earlier drawing
(re-implemented here as the baseline) on synthetic pieces of growing length, and prints
the ratio.

    python benchmarks/plot_bench.py [--notes 250 1000]   (the baseline takes minutes beyond)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from fingering.notes import Note, NoteSequence  # noqa: E402
from pianoenv.songs import prepare  # noqa: E402
from pianoenv.songs.plot import plot_piano_roll  # noqa: E402


def piece(n: int, seed: int = 0) -> NoteSequence:
    """n notes over n/3 seconds, both hands, with two long pedal spans."""
    rng = np.random.default_rng(seed)
    on = np.sort(rng.uniform(0, n / 3, n))
    off = on + rng.uniform(0.1, 2.0, n)
    pitch = rng.integers(36, 96, n)
    notes = tuple(Note(pitch=int(p), onset=float(a), offset=float(b),
                       hand="right" if p >= 60 else "left") for p, a, b in zip(pitch, on, off))
    return NoteSequence(notes, f"synthetic_{n}", ((1.0, n / 6), (n / 5, n / 3)), {})


def per_bar(goals, out: Path) -> None:
    """The earlier drawing: one artist per note, per held key-step and per pedal step."""
    from matplotlib.figure import Figure

    dt = goals.control_timestep
    colors = {"right": "tab:red", "left": "tab:blue", None: "0.35"}
    fig = Figure(figsize=(max(6.0, min(30.0, goals.duration / 2.5)), 4.5), dpi=120)
    ax = fig.add_subplot()
    for (start, end), note in zip(goals.note_steps, goals.notes.notes):
        ax.broken_barh([(start * dt, (end - start) * dt)], (note.key - 0.4, 0.8),
                       facecolors=colors[note.hand])
    held = goals.keys.copy()
    for (start, end), note in zip(goals.note_steps, goals.notes.notes):
        held[start:end, note.key] = False
    for t, key in zip(*np.nonzero(held)):
        ax.broken_barh([(t * dt, dt)], (key - 0.4, 0.8), facecolors="0.6")
    for t in np.nonzero(goals.sustain)[0]:
        ax.broken_barh([(t * dt, dt)], (-3, 1.0), facecolors="tab:green", alpha=0.5)
    ax.set_xlim(0, goals.duration)
    ax.set_ylim(-5, 90)
    fig.tight_layout()
    fig.savefig(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, nargs="+", default=[250, 1000])
    args = parser.parse_args()
    print(f"{'notes':>6} {'steps':>7} {'minutes':>8} {'per bar (s)':>12} {'collections (s)':>16} "
          f"{'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.notes:
            goals = prepare(piece(n))
            t0 = time.perf_counter()
            per_bar(goals, Path(tmp) / "a.png")
            t1 = time.perf_counter()
            plot_piano_roll(goals, Path(tmp) / "b.png")
            t2 = time.perf_counter()
            print(f"{n:>6} {goals.num_steps:>7} {goals.duration / 60:>8.1f} {t1 - t0:>12.2f} "
                  f"{t2 - t1:>16.2f} {(t1 - t0) / (t2 - t1):>6.1f}")


if __name__ == "__main__":
    main()
