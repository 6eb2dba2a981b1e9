"""Speed of the kinematic pianist: ms per action (plan + IK) vs ms per env step, same run.

For each hand, one episode of the song is played with policy "ik"; every control step
times the policy call (targets, mink IK for both hands, servo commands) and the
environment step separately, so both see the same load. Repeated ``--rounds`` times,
hands interleaved; the table gives the median over rounds of each mean, their ratio, and
the share of the 50 ms control period one action takes.

    python benchmarks/ik_bench.py --song twinkle:0 --max-steps 200 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from pianoenv import suite  # noqa: E402
from pianoenv.policy import make_policy  # noqa: E402

HANDS = ("shadow_five", "shadow_four", "allegro_like", "leap_like")


def one_round(env, policy) -> tuple[float, float, int]:
    """Mean ms per policy call and per env step over one episode."""
    policy.reset(0)
    ts = env.reset()
    t_policy = t_env = 0.0
    n = 0
    while not ts.last():
        start = time.perf_counter()
        action = policy(ts)
        mid = time.perf_counter()
        ts = env.step(action)
        t_policy += mid - start
        t_env += time.perf_counter() - mid
        n += 1
    return 1e3 * t_policy / n, 1e3 * t_env / n, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--song", default="twinkle:0")
    parser.add_argument("--hands", nargs="+", default=list(HANDS))
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setups = {}
    for hand in args.hands:
        env = suite.load(args.song, hand, max_steps=args.max_steps)
        start = time.perf_counter()
        policy = make_policy("ik", env)
        setups[hand] = (env, policy, time.perf_counter() - start)
    times: dict[str, list[tuple[float, float]]] = {h: [] for h in args.hands}
    steps = 0
    for _ in range(args.rounds):
        for hand in args.hands:
            env, policy, _ = setups[hand]
            ms_policy, ms_env, steps = one_round(env, policy)
            times[hand].append((ms_policy, ms_env))
    load = os.getloadavg()[0]
    print(f"{args.song}, {steps} steps x {args.rounds} rounds, load average {load:.1f}")
    print("| hand | ms per IK action | ms per env step | action / env step | "
          "share of the 50 ms control period | set-up s (annotator + models) |")
    print("|---|---:|---:|---:|---:|---:|")
    for hand in args.hands:
        arr = np.array(times[hand])
        ms_policy, ms_env = np.median(arr[:, 0]), np.median(arr[:, 1])
        ratios = arr[:, 0] / arr[:, 1]
        print(f"| {hand} | {ms_policy:.2f} | {ms_env:.2f} | {np.median(ratios):.1f}x "
              f"({ratios.min():.1f}-{ratios.max():.1f}) | {ms_policy / 50:.1%} | "
              f"{setups[hand][2]:.1f} |")
    for env, _, _ in setups.values():
        env.close()


if __name__ == "__main__":
    main()
