"""How fast is the offline annotator, per piece, with the v2 cost against the v1 cost?

For every PIG piece (hands given, the first annotator's notes without fingers, exactly what
``pianohands fingering compare`` feeds it) the solver time of ``suggest_fingering`` with the
``biomech`` model (v2: sequential biomechanics) and the ``travel`` model (v1) is measured in
the same run, interleaved within each repeat (median over repeats), with each model's
general match rate and crossing rate beside it. The target is a median under 1 s of solver
time per piece. The hand's reach is computed once, outside the timing (it is per hand, not
per piece).

Without PIG data (``--pig-dir`` missing) it times generated pieces instead (random
two-hand textures of ``--notes`` notes; no match rates).

Run: ``.venv/bin/python benchmarks/annotate_bench.py --pig-dir ../shared/data/pig``
(``--hand``, ``--repeats``, ``--json out.json``). The machine load is printed with the
results: on a shared 2-vCPU box numbers move, ratios less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from fingering.annotate import COST_MODELS, suggest_fingering
from fingering.match import crossings_without_thumb, match_rates
from fingering.notes import Note, NoteSequence

MODELS = ("biomech", "travel")


def load_reach(hand: str):
    from fingering.cli import load_reach as reach_of

    return reach_of(hand)


def generated_pieces(count: int, notes: int, seed: int = 0) -> list[tuple[str, NoteSequence, list]]:
    """Random two-hand pieces: a stepwise melody (right) over broken chords (left)."""
    rng = np.random.default_rng(seed)
    pieces = []
    for k in range(count):
        out, t, pitch = [], 0.0, 72
        while len(out) < notes:
            pitch = int(np.clip(pitch + rng.choice([-2, -1, 1, 2, 3, -3, 5, -5]), 60, 96))
            dur = float(rng.choice([0.125, 0.25, 0.5]))
            out.append(Note(pitch, t, t + dur, 64, "right"))
            if rng.random() < 0.5:
                root = int(rng.integers(36, 55))
                chord = [root, root + 4, root + 7][: int(rng.integers(1, 4))]
                out.extend(Note(p, t, t + 2 * dur, 64, "left") for p in chord)
            t += dur
        pieces.append((f"gen{k:02d}", NoteSequence.from_notes(out), []))
    return pieces


def pig_pieces(pig_dir: Path) -> list[tuple[str, NoteSequence, list]]:
    from fingering.fit import load_pieces

    return [(p.id, p.source, list(p.annotators)) for p in load_pieces(pig_dir)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pig-dir", type=Path, default=Path("../shared/data/pig"))
    parser.add_argument("--hand", default="shadow_five")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--notes", type=int, default=300, help="notes per generated piece")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    load = os.getloadavg()[0]
    reach = load_reach(args.hand)
    if args.pig_dir.is_dir():
        pieces, source = pig_pieces(args.pig_dir), f"PIG pieces in {args.pig_dir}"
    else:
        pieces, source = generated_pieces(12, args.notes), "generated pieces (no PIG dir)"
    print(f"# annotator solver time per piece: {source}, hand {reach.hand}, "
          f"{args.repeats} repeats (median), {platform.processor() or platform.machine()}, "
          f"load average {load:.2f} at start")
    rows = []
    for pid, seq, annotators in pieces:
        times = {m: [] for m in MODELS}
        results = {}
        for _ in range(args.repeats):
            for model in MODELS:  # interleaved: load changes hit both alike
                t0 = time.perf_counter()
                results[model] = suggest_fingering(seq, reach, config=COST_MODELS[model])
                times[model].append(time.perf_counter() - t0)
        row = {"piece": pid, "notes": len(seq)}
        for model in MODELS:
            row[f"{model}_s"] = statistics.median(times[model])
            crossings, pairs = crossings_without_thumb(results[model])
            row[f"{model}_crossings"] = (crossings, pairs)
            row[f"{model}_general"] = (match_rates(results[model], annotators, pid)
                                       .overall.general if annotators else float("nan"))
        rows.append(row)

    print("\n| piece | notes | biomech (s) | travel (s) | biomech / travel | biomech general % "
          "| travel general % | biomech crossings w/o thumb | travel crossings w/o thumb |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        cells = [f"{r['biomech_s']:.3f}", f"{r['travel_s']:.3f}",
                 f"{r['biomech_s'] / r['travel_s']:.2f}x",
                 f"{100 * r['biomech_general']:.1f}", f"{100 * r['travel_general']:.1f}"]
        cells += [f"{c}/{n}" for c, n in (r["biomech_crossings"], r["travel_crossings"])]
        print(f"| {r['piece']} | {r['notes']} | " + " | ".join(cells) + " |")
    med = {m: statistics.median(r[f"{m}_s"] for r in rows) for m in MODELS}
    ratio = statistics.median(r["biomech_s"] / r["travel_s"] for r in rows)
    print(f"\nmedian solver time per piece: biomech {med['biomech']:.3f} s, travel "
          f"{med['travel']:.3f} s (median per-piece ratio {ratio:.2f}x); target < 1 s: "
          f"{'met' if med['biomech'] < 1.0 else 'NOT met'}")
    for model in MODELS:
        crossings = sum(r[f"{model}_crossings"][0] for r in rows)
        pairs = sum(r[f"{model}_crossings"][1] for r in rows)
        general = np.nanmean([r[f"{model}_general"] for r in rows])
        print(f"{model}: general match {100 * general:.2f}% (mean over pieces), crossings "
              f"without the thumb {crossings}/{pairs} = {100 * crossings / max(pairs, 1):.2f}%"
              f" of consecutive single-note pairs")
    if args.json:
        args.json.write_text(json.dumps({"load": load, "hand": reach.hand, "rows": rows,
                                         "median_s": med}, indent=2))


if __name__ == "__main__":
    main()
