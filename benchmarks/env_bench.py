"""Environment speed: env steps/s vs the raw physics of the same model, and worker scaling.

For shadow_five on Twinkle with a fixed sequence of random actions, measured in one run:
  * env: ``PianoEnv.step`` (10 physics substeps + observation + all reward terms + metrics);
  * physics: the same number of raw ``mujoco.mj_step`` substeps with the same controls on
    the same compiled model from the same reset states (no Python around them), i.e. the
    very trajectory the env run simulates;
  * ratio = env time / physics time (1.0 would mean the environment adds nothing);
  * throughput with N worker processes, each stepping its own environment.
RoboPianist on this machine (DESIGN.md, idle): ~500 steps/s, ratio 1.86.
Run with nothing else busy: the two vCPUs share one physical core.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

ROBOPIANIST_STEPS_PER_S = 500.0
ROBOPIANIST_RATIO = 1.86
WORKER_STEPS = 1200  # steps each worker process times


def _make(song: str, hand: str, physics_timestep: float = 0.005):
    from pianoenv import suite

    return suite.load(song, hand, "ot", seed=0, physics_timestep=physics_timestep)


def _actions(env, n: int, seed: int = 0) -> np.ndarray:
    spec = env.action_spec()
    return np.random.default_rng(seed).uniform(spec.minimum, spec.maximum, (n, spec.shape[0]))


CLOCK = time.perf_counter  # --clock cpu switches to process CPU time (robust on a busy machine)


def time_env(env, actions: np.ndarray) -> float:
    env.reset()
    start = CLOCK()
    for a in actions:
        if env.step(a).last():
            env.reset()
    return CLOCK() - start


def time_physics(env, actions: np.ndarray) -> float:
    """The same substeps as ``time_env`` from the same states: start from ``env.reset()``'s
    state and reset (untimed) where the episode would end, so both runs simulate the same
    trajectory (with sleeping keys the physics cost depends on how many keys are awake)."""
    m, d = env.model, env.data
    n_sub, left = env._n_sub, env.num_steps
    env.reset()
    elapsed, start = 0.0, CLOCK()
    for a in actions:
        d.ctrl[env._act_ids] = a[:-1]
        mujoco.mj_step(m, d, nstep=n_sub)
        left -= 1
        if left == 0:
            elapsed += CLOCK() - start
            env.reset()
            left, start = env.num_steps, CLOCK()
    return elapsed + CLOCK() - start


def _worker(args) -> float:
    song, hand, steps, seed, physics_timestep = args
    env = _make(song, hand, physics_timestep)
    actions = _actions(env, steps, seed)
    time_env(env, actions[:50])  # warm-up
    return time_env(env, actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--song", default="twinkle")
    parser.add_argument("--hand", default="shadow_five")
    parser.add_argument("--steps", type=int, default=200,
                        help="steps per round (short rounds follow the machine's speed drift)")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--physics-timestep", type=float, default=0.005,
                        help="0.005 = RoboPianist's; 0.01 halves the substeps (coarser physics)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: time.process_time, for a machine that is not idle")
    args = parser.parse_args()
    global CLOCK
    if args.clock == "cpu":
        CLOCK = time.process_time

    env = _make(args.song, args.hand, args.physics_timestep)
    actions = _actions(env, args.steps)
    time_env(env, actions[:100]), time_physics(env, actions[:100])  # warm caches
    # Interleave env and physics rounds so both see the same machine load; the ratio is the
    # median of per-round ratios, the speeds the best round of each.
    rounds = [(time_env(env, actions), time_physics(env, actions)) for _ in range(args.repeats)]
    t_env = min(r[0] for r in rounds)
    t_phys = min(r[1] for r in rounds)
    env_sps, phys_sps = args.steps / t_env, args.steps / t_phys
    ratio = float(np.median([e / p for e, p in rounds]))
    load = os.getloadavg()[0]
    print(f"{args.hand} on {args.song}: {args.steps} steps x {env._n_sub} substeps of "
          f"{args.physics_timestep} s, {args.repeats} interleaved rounds, {os.cpu_count()} CPUs, "
          f"{args.clock} clock, load average {load:.1f} at start")
    print(f"{'measure':34s} {'steps/s':>9s} {'ms/step':>8s} {'vs RoboPianist':>15s}")
    print(f"{'env step (PianoEnv.step)':34s} {env_sps:9.0f} {1e3 / env_sps:8.3f} "
          f"{env_sps / ROBOPIANIST_STEPS_PER_S:14.2f}x")
    print(f"{'raw physics (mj_step x substeps)':34s} {phys_sps:9.0f} {1e3 / phys_sps:8.3f}")
    print(f"ratio env/physics (median of rounds): {ratio:.3f}   "
          f"(RoboPianist: {ROBOPIANIST_RATIO}; physics share "
          f"{100 / ratio:.0f}% of a step)")
    print("per-round ratios:", " ".join(f"{e / p:.3f}" for e, p in rounds))
    for n in args.workers if args.clock == "wall" else []:  # throughput needs wall time
        ctx = mp.get_context("spawn")
        with ctx.Pool(n) as pool:
            start = time.perf_counter()
            times = pool.map(_worker, [(args.song, args.hand, WORKER_STEPS, s,
                                        args.physics_timestep) for s in range(n)])
            wall = time.perf_counter() - start
        total = n * WORKER_STEPS / max(times)
        print(f"{n} worker process{'es' if n > 1 else '  '}: {total:7.0f} steps/s in total "
              f"({total / n:.0f} per worker; pool wall {wall:.1f} s incl. start-up)")


if __name__ == "__main__":
    main()
