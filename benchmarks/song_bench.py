"""Song pipeline speed: loading, preprocessing, and the per-step goal window.

The per-step row matters most: the environment asks for ``goals.window(t)`` every control
step. It is compared, in the same run and interleaved, with RoboPianist's way of building
the same (11, 88) goal (a Python loop over the lookahead steps and the note objects active
in each, as in ``piano_with_shadow_hands._update_goal_state``), re-implemented here.

    python benchmarks/song_bench.py [--rounds 5] [--pig ../shared/data/pig]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from pianoenv.songs import LOOKAHEAD, load_song, prepare  # noqa: E402
from pianoenv.songs.midi import write_midi  # noqa: E402


def _time(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def robopianist_goal(notes_at: list[list[int]], sustain: list[int], t: int) -> np.ndarray:
    """RoboPianist's goal construction: loop over lookahead steps and each active note."""
    goal = np.zeros((LOOKAHEAD + 1, 89))
    t_start, t_end = t, min(t + LOOKAHEAD + 1, len(notes_at))
    for i, step in enumerate(range(t_start, t_end)):
        keys = notes_at[step]
        goal[i, keys] = 1.0
        goal[i, -1] = sustain[step]
    return goal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pig", type=Path, default=Path(__file__).resolve().parents[2]
                        / "shared" / "data" / "pig")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    midi_path = write_midi(load_song("twinkle"), tmp / "twinkle.mid")
    sources = {"built-in twinkle": "twinkle", "MIDI twinkle": str(midi_path),
               "music21 bach/bwv66.6": "music21:bach/bwv66.6"}
    pig_files = sorted((args.pig / "FingeringFiles").glob("*_fingering.txt"))
    if pig_files:
        sources[f"PIG {pig_files[0].name}"] = str(pig_files[0])
    load_song("music21:bach/bwv66.6")  # warm music21's import and parse cache

    rows: dict[str, list[float]] = {}
    goals = prepare(load_song("twinkle"))
    notes_at = [list(np.nonzero(row)[0]) for row in goals.keys]
    sustain = goals.sustain.astype(int).tolist()
    steps = range(goals.num_steps)
    for _ in range(args.rounds):
        for label, name in sources.items():
            seq = load_song(name)
            rows.setdefault(f"load {label} (ms)", []).append(1e3 * _time(lambda: load_song(name), 3))
            rows.setdefault(f"prepare {label} (ms)", []).append(1e3 * _time(lambda: prepare(seq), 5))
        rows.setdefault("window(t), SongGoals (us/step)", []).append(
            1e6 * _time(lambda: [goals.window(t) for t in steps], 5) / len(steps))
        rows.setdefault("goal, RoboPianist-style loop (us/step)", []).append(
            1e6 * _time(lambda: [robopianist_goal(notes_at, sustain, t) for t in steps], 5)
            / len(steps))

    print(f"song pipeline, median of {args.rounds} interleaved rounds")
    print(f"{'what':<52} {'median':>10} {'min':>10}")
    for label, values in rows.items():
        print(f"{label:<52} {statistics.median(values):>10.3f} {min(values):>10.3f}")
    ours = statistics.median(rows["window(t), SongGoals (us/step)"])
    ref = statistics.median(rows["goal, RoboPianist-style loop (us/step)"])
    print(f"per-step goal: SongGoals.window is {ref / ours:.1f}x the speed of the loop")


if __name__ == "__main__":
    main()
