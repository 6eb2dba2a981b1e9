"""How fast is the OT fingering step? Microseconds per solve and batched throughput.

Two tables, every ratio measured in the same run:

1. one solve of a (K keys x 10 fingers) cost matrix for K in {1, 3, 6, 10}, per solver, via
   ``fingering.solve`` (validation and cost recomputation included), plus the share of a
   ~4 ms environment step (RP1M's budget: a solve should be well under 5%);
2. B problems (10 fingers, 1..10 keys padded to 10 with masks, like many environments at
   one control step): ``solve_batch(method="jax")`` against looping ``solve(method="jv")``
   and looping raw ``scipy.optimize.linear_sum_assignment``, for B in {1, 64, 1024}.

Costs come from random fingertip positions and real key press points (metres). Timings
are the median over repeats after warm-up (JIT compilation excluded and reported apart);
in the batched table the contenders are interleaved within each repeat and the ratios are
medians of per-repeat ratios, so load changes on a shared machine affect them alike.
Run: ``.venv/bin/python benchmarks/ot_bench.py [--repeats N] [--json out.json]``.
The machine load is printed with the results: on a shared 2-vCPU box numbers move.
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
from scipy.optimize import linear_sum_assignment

from fingering import keyboard
from fingering.costs import cost_matrix
from fingering.solvers import solve, solve_batch

ENV_STEP_S = 4e-3  # one RP1M environment step, seconds (the budget)
NUM_FINGERS = 10
KEY_COUNTS = (1, 3, 6, 10)
BATCHES = (1, 64, 1024)
SOLVERS = ("jv", "pot-emd", "pot-sinkhorn", "jax")


def random_problem(rng: np.random.Generator, num_keys: int) -> np.ndarray:
    """Two hands' fingertips hovering over a random stretch of the keyboard."""
    centre = rng.uniform(-0.4, 0.4)
    tips = np.column_stack([rng.uniform(0.0, 0.06, NUM_FINGERS),
                            centre + rng.uniform(-0.25, 0.25, NUM_FINGERS),
                            rng.uniform(0.03, 0.08, NUM_FINGERS)])
    points = keyboard.key_press_points()
    near = np.argsort(np.abs(points[:, 1] - centre))[:24]
    keys = points[rng.choice(near, size=num_keys, replace=False)]
    return cost_matrix(tips, keys)


def median_time(fn, repeats: int, inner: int) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` blocks of ``inner`` calls."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def bench_single(rng: np.random.Generator, repeats: int) -> list[dict]:
    rows = []
    for k in KEY_COUNTS:
        problems = [random_problem(rng, k) for _ in range(32)]
        row = {"keys": k}
        for method in SOLVERS:
            solve(problems[0], method=method)  # warm-up / JIT
            it = iter(range(10**9))
            inner = 32 if method != "pot-sinkhorn" else 8
            row[method] = 1e6 * median_time(
                lambda: solve(problems[next(it) % 32], method=method), repeats, inner)
        gaps = [solve(p, method="pot-sinkhorn").gap / max(solve(p).cost, 1e-12) for p in problems]
        row["sinkhorn_rel_gap_mean"] = float(np.mean(gaps))
        row["sinkhorn_rel_gap_max"] = float(np.max(gaps))
        row["sinkhorn_nonzero_gap"] = int(np.sum(np.asarray(gaps) > 1e-12))
        rows.append(row)
    return rows


def padded_batch(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
    costs = np.zeros((batch, NUM_FINGERS, NUM_FINGERS))
    valid = np.zeros((batch, NUM_FINGERS), bool)
    for b in range(batch):
        k = int(rng.integers(1, NUM_FINGERS + 1))
        costs[b, :k] = random_problem(rng, k)
        valid[b, :k] = True
    return costs, valid


def bench_batch(rng: np.random.Generator, repeats: int,
                batches: tuple[int, ...] = BATCHES) -> list[dict]:
    rows = []
    for batch in batches:
        costs, valid = padded_batch(rng, batch)
        subs = [costs[b][valid[b]] for b in range(batch)]
        t0 = time.perf_counter()
        jax_res = solve_batch(costs, valid, method="jax")
        compile_s = time.perf_counter() - t0
        ref = solve_batch(costs, valid, method="jv")
        assert np.allclose(jax_res.cost, ref.cost, atol=1e-9), "jax disagrees with jv"
        inner = max(1, 256 // batch)
        # Interleave the three contenders within every repeat, so that load changes on a
        # shared machine hit all of them alike; ratios are medians of per-repeat ratios.
        samples = {"jax": [], "jv": [], "raw": []}
        for _ in range(repeats):
            samples["jax"].append(median_time(
                lambda: solve_batch(costs, valid, method="jax"), 1, inner))
            samples["jv"].append(median_time(
                lambda: [solve(s, method="jv") for s in subs], 1, inner))
            samples["raw"].append(median_time(
                lambda: [linear_sum_assignment(s) for s in subs], 1, inner))
        t = {k: statistics.median(v) for k, v in samples.items()}
        ratio = lambda k: statistics.median(a / b for a, b in zip(samples[k], samples["jax"]))  # noqa: E731
        rows.append({"batch": batch, "jax_solves_per_s": batch / t["jax"],
                     "loop_jv_solves_per_s": batch / t["jv"],
                     "loop_scipy_solves_per_s": batch / t["raw"],
                     "jax_over_loop_jv": ratio("jv"), "jax_over_loop_scipy": ratio("raw"),
                     "first_call_s": compile_s})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES),
                        help="batch sizes of the batched table (an accelerator shines at 1e4+)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    import jax

    load = os.getloadavg()
    print(f"# ot_bench: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"jax {jax.__version__} on {jax.default_backend()}, load avg {load[0]:.2f} "
          f"(1 min) at start")
    single = bench_single(rng, args.repeats)
    print(f"\n## one solve, {NUM_FINGERS} fingers (microseconds, median)")
    print("| keys | " + " | ".join(SOLVERS) + " | jv share of a 4 ms step |")
    print("|---:|" + "---:|" * (len(SOLVERS) + 1))
    for row in single:
        cells = " | ".join(f"{row[m]:.1f}" for m in SOLVERS)
        print(f"| {row['keys']} | {cells} | {100 * row['jv'] * 1e-6 / ENV_STEP_S:.2f}% |")
    print("\npot-sinkhorn (default reg) relative gap to the exact cost, 32 problems per row: "
          + "; ".join(f"{r['keys']} keys: mean {r['sinkhorn_rel_gap_mean']:.1e}, max "
                      f"{r['sinkhorn_rel_gap_max']:.1e}, {r['sinkhorn_nonzero_gap']}/32 nonzero"
                      for r in single))
    batch = bench_batch(rng, args.repeats, tuple(args.batches))
    print(f"\n## batched: B problems of {NUM_FINGERS} fingers x 1..10 keys (padded), solves/s")
    print("| B | jax solve_batch | loop solve(jv) | loop raw scipy | jax / loop jv | "
          "jax / loop scipy | jax first call (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in batch:
        print(f"| {row['batch']} | {row['jax_solves_per_s']:.0f} | "
              f"{row['loop_jv_solves_per_s']:.0f} | {row['loop_scipy_solves_per_s']:.0f} | "
              f"{row['jax_over_loop_jv']:.2f}x | {row['jax_over_loop_scipy']:.2f}x | "
              f"{row['first_call_s']:.2f} |")
    end_load = os.getloadavg()[0]
    print(f"\nload avg {end_load:.2f} (1 min) at end")
    ten = single[-1]
    print(f"10x10 jv solve: {ten['jv']:.1f} us = {100 * ten['jv'] * 1e-6 / ENV_STEP_S:.2f}% "
          f"of a 4 ms step (target < 5%)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"single_us": single, "batch": batch,
                                         "load_start": load[0], "load_end": end_load},
                                        indent=2))


if __name__ == "__main__":
    main()
