"""Environment workers: env steps/s and updates/s of ``--env-workers 0`` vs ``1`` (and more).

Each (arm, env_workers) pair is one ``training.rl.loop.Trainer`` run with the RP1M agent
(default networks, batch 256, update every 2 steps) under the same wall-clock budget, each
in a fresh process, all in this one invocation (same machine, same load), in the order
A B B A per arm pair so a drift of the machine's load hits both settings alike. Rates are
measured after warm-up and compilation: from the rows of ``train.csv`` past
``warmup + skip`` steps (each row's steps/s over its log interval), with no evaluation
during the run. The ratio column is each run's rate over the ``env_workers 0`` run of the
same arm.

    python benchmarks/env_workers_bench.py --budget-min 2.5 \\
        --song /work/shared/data/pig/FingeringFiles/008-1_fingering.txt:0 \\
        --env-arg max_steps=550 | tee benchmarks/results/env_workers_cpu.txt

The load average (``os.getloadavg``) is printed before and after each run: on a shared
machine the ratios only mean something next to it.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARMS: dict[str, dict[str, Any]] = {  # name -> env_kwargs
    "droq": {},
    "residual-ik": {"base_policy": "ik"},
}


def _run(job: dict[str, Any], conn: Any) -> None:
    """One training run in its own process; sends back the rates measured past warm-up."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    from training.rl.config import TrainConfig
    from training.rl.loop import Trainer

    config = TrainConfig(
        song=job["song"], hand=job["hand"], fingering=job["fingering"], seed=0,
        steps=10**7, warmup_steps=job["warmup"], buffer_size=100_000,
        eval_interval=10**9, log_interval=job["log_interval"], checkpoint_interval=10**9,
        env_kwargs={**job["env_kwargs"], **ARMS[job["arm"]]}, env_workers=job["workers"])
    load_before = os.getloadavg()
    summary = Trainer(config, job["out"], progress=False, tensorboard=False,
                      time_budget_s=job["budget_s"]).run()
    rows = [r for r in csv.DictReader(open(Path(job["out"]) / "train.csv"))
            if int(r["step"]) > job["warmup"] + job["skip"]]
    seconds = sum(job["log_interval"] / float(r["steps_per_s"]) for r in rows)
    updates = sum(float(r["updates_per_s"]) * job["log_interval"] / float(r["steps_per_s"])
                  for r in rows)
    conn.send({"arm": job["arm"], "workers": job["workers"], "steps": summary["steps"],
               "measured_steps": len(rows) * job["log_interval"], "measured_s": seconds,
               "steps_per_s": len(rows) * job["log_interval"] / seconds if seconds else None,
               "updates_per_s": updates / seconds if seconds else None,
               "session_steps_per_s": summary["session_steps_per_s"],
               "worker_stats": summary.get("workers"),
               "load_before": load_before, "load_after": os.getloadavg()})
    conn.close()


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    # a plain (non-daemon) process: the trainer starts its own worker processes
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_run, args=(job, child))
    proc.start()
    child.close()
    try:
        result = parent.recv()
    except EOFError:
        raise RuntimeError(f"run {job['arm']} workers={job['workers']} failed") from None
    finally:
        proc.join()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--song", default="demo_short")
    p.add_argument("--hand", default="shadow_five")
    p.add_argument("--fingering", default="ot")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=sorted(ARMS))
    p.add_argument("--workers", nargs="+", type=int, default=[0, 1],
                   help="env_workers settings to compare (the first is the baseline)")
    p.add_argument("--budget-min", type=float, default=2.5, help="wall-clock per run")
    p.add_argument("--warmup", type=int, default=300, help="warm-up steps (not measured)")
    p.add_argument("--skip", type=int, default=200,
                   help="steps after warm-up not measured (compilation)")
    p.add_argument("--log-interval", type=int, default=50)
    p.add_argument("--env-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="task argument for every run (e.g. max_steps=550)")
    p.add_argument("--out", type=Path, default=Path("runs/env_workers_bench"))
    args = p.parse_args(argv)

    env_kwargs: dict[str, Any] = {}
    for item in args.env_arg:
        key, _, value = item.partition("=")
        env_kwargs[key] = json.loads(value) if value[:1] in "0123456789-[{tfn" else value
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    order: list[tuple[str, int]] = []
    for i, arm in enumerate(args.arms):  # A B ... B A: drift in load hits both sides
        settings = args.workers if i % 2 == 0 else args.workers[::-1]
        order += [(arm, w) for w in settings]
    print(f"# env_workers_bench: {args.song} / {args.hand} / env_kwargs {env_kwargs} / "
          f"{args.budget_min:g} min per run, warm-up {args.warmup} + {args.skip} steps not "
          f"measured; {os.cpu_count()} CPUs; load average at start "
          f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results = []
    started = time.perf_counter()
    for arm, workers in order:
        job = {"arm": arm, "workers": workers, "song": args.song, "hand": args.hand,
               "fingering": args.fingering, "env_kwargs": env_kwargs, "warmup": args.warmup,
               "skip": args.skip, "log_interval": args.log_interval,
               "budget_s": args.budget_min * 60, "out": str(args.out / f"{arm}_w{workers}")}
        result = run_job(job)
        if not result["measured_steps"]:
            raise SystemExit(f"{arm} env_workers={workers}: no step past warm-up + skip in "
                             f"{args.budget_min:g} min; raise --budget-min")
        results.append(result)
        print(f"  {arm} env_workers={workers}: {result['steps_per_s']:.1f} steps/s, "
              f"{result['updates_per_s']:.1f} updates/s over {result['measured_steps']} steps; "
              f"load {result['load_before'][0]:.2f} -> {result['load_after'][0]:.2f}", flush=True)
    print_table(results, args.arms, args.workers)
    print(f"total {(time.perf_counter() - started) / 60:.1f} min; load average at end "
          f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    (args.out / "results.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "runs": results}, indent=2) + "\n")
    return 0


def print_table(results: list[dict[str, Any]], arms: list[str], workers: list[int]) -> None:
    head = ["arm", "env_workers", "env steps/s", "x vs base", "updates/s", "x vs base",
            "learner waits", "policy lag (mean/max updates)", "load 1-min (before/after)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for arm in arms:
        base = next(r for r in results if r["arm"] == arm and r["workers"] == workers[0])
        for w in workers:
            r = next(r for r in results if r["arm"] == arm and r["workers"] == w)
            stats = r["worker_stats"] or {}
            wait = stats.get("learner_wait_fraction")
            lag = (f"{stats['policy_lag_mean']}/{stats['policy_lag_max']}"
                   if stats.get("policy_lag_mean") is not None else "-")
            cells = [arm, str(w), f"{r['steps_per_s']:.1f}",
                     f"{r['steps_per_s'] / base['steps_per_s']:.2f}",
                     f"{r['updates_per_s']:.1f}",
                     f"{r['updates_per_s'] / base['updates_per_s']:.2f}",
                     "-" if wait is None else f"{100 * wait:.0f}%", lag,
                     f"{r['load_before'][0]:.2f}/{r['load_after'][0]:.2f}"]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
