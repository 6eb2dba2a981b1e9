"""MJX piano environment: environment steps per second against the number of environments.

For each hand and each batch size B, one jitted function runs ``--inner`` control steps of
``vmap(env.step)`` under ``lax.scan`` with uniformly random actions (fingers hit keys, so
the contact path is exercised), and is timed over ``--repeats`` calls after a warm-up
call (compile time is reported apart). steps/s = B x inner x repeats / seconds. The
reference is the CPU ``PianoEnv`` stepped in this process with random actions
(``--cpu-steps``), measured in the same run; the ratio column is MJX / CPU.

Memory: on a GPU, the device's peak bytes in use (``memory_stats``) after each size; on
the CPU, the process's peak RSS. ``state MiB`` is the size of one batch's ``State``.

    python benchmarks/mjx_bench.py --envs 64,128 --hands shadow_five       # CPU, small
    python benchmarks/mjx_bench.py --envs 64,256,1024,4096,8192 --hands all  # on a GPU
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from handspec.load import available_hands, load_hand
from pianoenv.env import PianoEnv
from pianoenv.mjx import MjxConfig, MjxPianoEnv
from pianoenv.songs import load_goals
from training.jaxcache import enable_compilation_cache


def cpu_steps_per_s(goals, spec, steps: int, seed: int = 0) -> float:
    env = PianoEnv(goals, spec, fingering="ot", random_state=seed)
    rng = np.random.default_rng(seed)
    low, high = env.action_spec().minimum, env.action_spec().maximum
    actions = rng.uniform(low, high, (steps, low.size)).astype(np.float32)
    env.reset()
    start = time.perf_counter()
    for a in actions:
        if env.step(a).last():
            env.reset()
    return steps / (time.perf_counter() - start)


def memory_mib() -> tuple[str, float]:
    device = jax.devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "peak_bytes_in_use" in stats:
        return "device peak", stats["peak_bytes_in_use"] / 2**20
    return "peak RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_hand(hand: str, goals, sizes: list[int], inner: int, repeats: int,
               config: MjxConfig) -> list[dict]:
    env = MjxPianoEnv(goals, load_hand(hand), fingering="ot", config=config)
    low, high = jnp.asarray(env.action_min), jnp.asarray(env.action_max)

    def run(state, key):
        def body(state, k):
            a = jax.random.uniform(k, (state.obs.shape[0], env.action_dim), minval=low, maxval=high)
            return jax.vmap(env.step)(state, a), None
        state, _ = jax.lax.scan(body, state, jax.random.split(key, inner))
        return state

    run = jax.jit(run, donate_argnums=0)
    reset = jax.jit(jax.vmap(env.reset))
    rows = []
    for batch in sizes:
        state = reset(jax.random.split(jax.random.PRNGKey(0), batch))
        state_mib = sum(x.nbytes for x in jax.tree.leaves(state)) / 2**20
        t0 = time.perf_counter()
        state = run(state, jax.random.PRNGKey(1))
        jax.block_until_ready(state.obs)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        for r in range(repeats):
            state = run(state, jax.random.PRNGKey(2 + r))
        jax.block_until_ready(state.obs)
        seconds = time.perf_counter() - t0
        kind, mib = memory_mib()
        rows.append({"hand": hand, "envs": batch, "steps_per_s": batch * inner * repeats / seconds,
                     "first_call_s": first, "state_mib": state_mib, "mem_kind": kind, "mem_mib": mib,
                     "pressed": int(np.asarray(state.info["pressed"]).sum())})
        print(f"  {hand} B={batch}: {rows[-1]['steps_per_s']:.0f} steps/s", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--song", default="twinkle")
    parser.add_argument("--hands", default="shadow_five", help="comma list, or 'all'")
    parser.add_argument("--envs", default="64,128", help="comma list of batch sizes")
    parser.add_argument("--inner", type=int, default=10, help="control steps per jitted call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per size")
    parser.add_argument("--cpu-steps", type=int, default=300, help="CPU reference steps")
    parser.add_argument("--max-geom-pairs", type=int, default=MjxConfig.max_geom_pairs)
    args = parser.parse_args(argv)
    enable_compilation_cache()
    hands = sorted(available_hands()) if args.hands == "all" else args.hands.split(",")
    sizes = [int(s) for s in args.envs.split(",")]
    goals = load_goals(args.song)
    config = MjxConfig(max_geom_pairs=args.max_geom_pairs)
    print(f"# mjx_bench: song {args.song} ({goals.num_steps} steps), device {jax.devices()[0]}, "
          f"jax {jax.__version__}, inner {args.inner} x repeats {args.repeats}, MJX settings "
          f"{config.as_dict()}")
    cpu = {h: cpu_steps_per_s(goals, load_hand(h), args.cpu_steps) for h in hands}
    print(f"{'hand':<14}{'envs':>7}{'MJX steps/s':>14}{'CPU env steps/s':>17}{'MJX/CPU':>9}"
          f"{'1st call s':>12}{'state MiB':>11}{'memory MiB':>22}{'keys down':>11}")
    for hand in hands:
        for row in bench_hand(hand, goals, sizes, args.inner, args.repeats, config):
            print(f"{hand:<14}{row['envs']:>7}{row['steps_per_s']:>14.0f}{cpu[hand]:>17.0f}"
                  f"{row['steps_per_s'] / cpu[hand]:>9.2f}{row['first_call_s']:>12.1f}"
                  f"{row['state_mib']:>11.1f}{row['mem_mib']:>11.0f} ({row['mem_kind']})"
                  f"{row['pressed']:>11}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
