"""F1 of the kinematic pianist (policy "ik") per hand and song, beside the random policy.

One deterministic whole episode per (song, hand) for each policy (the random policy with
episode seed 0), the first 550-step chunk of each song (the whole song when shorter).
PIG pieces are read at run time from ``--pig-dir`` (never stored in the repository) and
skipped when it is absent. The "best RL" column is the best DroQ evaluation F1 recorded in
docs/results.md for that chunk (shadow_five only; none for the other hands).

    python benchmarks/ik_table.py                       # the docs/results.md table
    python benchmarks/ik_table.py --hands shadow_five --songs twinkle:0
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from fingering.annotate import COST_MODELS, DEFAULT_MODEL, cost_model  # noqa: E402
from pianoenv import suite  # noqa: E402
from pianoenv.episode import run_episode  # noqa: E402
from pianoenv.kinematic import ServoConfig, SlideConfig  # noqa: E402
from pianoenv.policy import make_policy  # noqa: E402

HANDS = ("shadow_five", "shadow_four", "allegro_like", "leap_like")
SONGS = ("twinkle:0", "c_major_scale:0", "chords:0", "music21:bach/bwv66.6:0")
# Bach French Suite No. 5 Sarabande (RP1M's piece) and Gavotte; French Suite No. 1 Allemande;
# Schubert D 845; Schumann Kreisleriana No. 8
PIG_PIECES = ("008-1", "047-1", "007-1", "146-1", "040-1")
# Best DroQ evaluation F1 in docs/results.md ("A small real dataset", 8k steps, shadow_five)
RECORDED_RL = {("twinkle:0", "shadow_five"): 0.220, ("c_major_scale:0", "shadow_five"): 0.183,
               ("chords:0", "shadow_five"): 0.392,
               ("music21:bach/bwv66.6:0", "shadow_five"): 0.025}


def pig_songs(pig_dir: Path) -> list[str]:
    files = [pig_dir / "FingeringFiles" / f"{p}_fingering.txt" for p in PIG_PIECES]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        print(f"(PIG pieces skipped, not in {pig_dir}: {', '.join(missing)}; pass --pig-dir)")
    return [f"{f}:0" for f in files if f.is_file()]


def label(song: str) -> str:
    """A short row label: "PIG 008-1:0" for a PIG chunk, the spec itself otherwise."""
    if "_fingering.txt" not in song:
        return song
    path, _, chunk = song.rpartition(":")
    return f"PIG {Path(path).name.split('_')[0]}:{chunk}"


def evaluate(song: str, hand: str, annotator_model: str, slides: SlideConfig,
             servo: ServoConfig) -> dict:
    env = suite.load(song, hand)
    try:
        start = time.perf_counter()
        ik = make_policy("ik", env, annotator=cost_model(annotator_model), slides=slides,
                         servo=servo)
        result = run_episode(env, ik, seed=0)
        seconds = time.perf_counter() - start
        missed = Counter(u.reason for u in ik.unreachable)
        rand = run_episode(env, make_policy("random", env, seed=0), seed=0)
    finally:
        env.close()
    return {"steps": result.length, "f1": result.metrics["f1"],
            "precision": result.metrics["precision"], "recall": result.metrics["recall"],
            "unreachable_steps": len(ik.unreachable),
            "reasons": dict(missed), "random": rand.metrics["f1"], "seconds": seconds}


def _clearance(text: str) -> float | str:
    return "none" if text.lower() == "none" else float(text)


def _given(config: type, **values):
    """``config`` with the values that were given (None: not given, the pianist's default
    stays; the string "none" is passed on as None)."""
    return config(**{k: (None if v == "none" else v) for k, v in values.items()
                     if v is not None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hands", nargs="+", default=list(HANDS))
    parser.add_argument("--songs", nargs="+", default=None,
                        help="song specs (default: the built-in set, music21 Bach and PIG)")
    parser.add_argument("--pig-dir", type=Path, default=Path("../shared/data/pig"),
                        help="PIG dataset directory (read at run time, never copied)")
    parser.add_argument("--annotator-model", choices=sorted(COST_MODELS), default=DEFAULT_MODEL,
                        help="the annotator's cost model that fingers the song")
    parser.add_argument("--slides", choices=("planned", "stepwise"), default="planned",
                        help="forearm slides: planned ahead (pianoenv.kinematic.slides, the "
                             "default) or commanded step by step as before it")
    parser.add_argument("--hold", action=argparse.BooleanOptionalAction, default=True,
                        help="offset the commands by the keys' load while they are held "
                             "(HandIK.load_offsets; --no-hold: as before it)")
    parser.add_argument("--slide-smoothness", type=float, default=None,
                        help="SlideConfig.smoothness (default: the pianist's)")
    parser.add_argument("--slide-free-weight", type=float, default=None,
                        help="SlideConfig.free_weight (default: the pianist's)")
    parser.add_argument("--slide-feedback", type=float, default=None,
                        help="ServoConfig.slide_feedback (default: the pianist's)")
    parser.add_argument("--slide-integral", type=float, default=None,
                        help="ServoConfig.slide_integral, 0 for none (default: the pianist's)")
    parser.add_argument("--clearance", type=_clearance, default=None,
                        help="SlideConfig.clearance in m between the hands, or 'none' to let "
                             "the hands' plans overlap as before it (default: the pianist's)")
    args = parser.parse_args()
    slides = _given(SlideConfig, enabled=args.slides == "planned",
                    smoothness=args.slide_smoothness, free_weight=args.slide_free_weight,
                    clearance=args.clearance)
    servo = _given(ServoConfig, hold_keys_down=args.hold, slide_feedback=args.slide_feedback,
                   slide_integral=args.slide_integral)
    print(f"annotator model: {args.annotator_model}; {slides}; {servo}")
    songs = args.songs or [*SONGS, *pig_songs(args.pig_dir)]
    print("| song | hand | steps | ik F1 | precision | recall | unreachable (key-steps) "
          "| random F1 | best RL F1 recorded | ik s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    notes = []
    for song in songs:
        for hand in args.hands:
            r = evaluate(song, hand, args.annotator_model, slides, servo)
            rl = RECORDED_RL.get((song, hand))
            print(f"| {label(song)} | {hand} | {r['steps']} | **{r['f1']:.3f}** | "
                  f"{r['precision']:.3f} | {r['recall']:.3f} | {r['unreachable_steps']} | "
                  f"{r['random']:.3f} | {'none recorded' if rl is None else f'{rl:.3f}'} | "
                  f"{r['seconds']:.1f} |", flush=True)
            if r["reasons"]:
                reasons = ", ".join(f"{k} {v}" for k, v in sorted(r["reasons"].items()))
                notes.append(f"- {label(song)} / {hand}: {reasons}")
    if notes:
        print("\nUnreachable key-steps by reason:")
        print("\n".join(notes))


if __name__ == "__main__":
    main()
