"""Learning speed: evaluation F1 against wall-clock and against environment steps, per arm.

The yardstick for every change that claims to make learning faster (issue 14). Each arm is
a set of ``pianohands train`` options; each arm runs ``--seeds`` seeds under the same
wall-clock budget, all in this one invocation, so arms are compared on the same machine
under the same load. Runs go through ``training.rl.loop.Trainer`` exactly as ``pianohands
train`` does (deterministic evaluation every ``--eval-interval`` steps, whole episodes).

    python benchmarks/learn_bench.py --song twinkle --arms droq residual-ik \\
        --seeds 0 1 2 --budget-min 15 --workers 2 --out benchmarks/results/learn_twinkle

Prints a table (per arm: final and best F1, mean and each seed, steps, and the wall-clock
and steps to first reach F1 0.5 / 0.75 / 0.9), writes ``curves.csv``, ``summary.json`` and
``learn_curves.png`` (F1 vs wall-clock and vs steps, each seed a thin line, the mean bold,
a 95% band only with >= 3 seeds, the random policy's F1 dashed and, for residual arms, the
F1 of their base policy alone dotted: what the learner starts from and must beat).

``--workers 2`` runs two seeds at once, each pinned to one vCPU with single-threaded XLA
(both vCPUs busy; on this machine they share a physical core, so each run is slower than
alone: compare arms only within one invocation).

``--merge DIR [DIR ...]`` writes the table, curves and plot of earlier invocations' ``--out``
folders together (seeds of one arm run at different times, e.g. a 2-hour seed per vCPU
while other work used the other one); nothing is trained.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import multiprocessing as mp
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.rl.config import PRESETS  # noqa: E402 - light (pydantic), after the path

THRESHOLDS = (0.5, 0.75, 0.9)
_CROSSQ = PRESETS["crossq"]
_IK = {"base_policy": "ik"}

# name -> (TrainConfig overrides, env_kwargs, DroQConfig overrides). Add an arm here.
ARMS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "droq": ({}, {}, {}),
    "residual-ik": ({}, _IK, {}),
    "residual-ik-small": ({}, {"base_policy": "ik", "residual_scale": 0.1}, {}),
    "utd1": ({"update_interval": 1}, {}, {}),
    "rprl": ({}, {}, {"discount": 0.8, "tau": 0.005}),
    # learner options (DroQConfig): n-step targets, CrossQ (paper preset: critics 2x2048, UTD
    # 1), CrossQ with 2x256 critics (~CPU cost of the DroQ critics), zero-initialised mean
    "residual-ik-nstep3": ({}, _IK, {"n_step": 3}),
    "residual-ik-crossq": (_CROSSQ.run, _IK, _CROSSQ.agent),
    "residual-ik-crossq-256": (_CROSSQ.run, _IK, {**_CROSSQ.agent,
                                                  "critic_hidden_dims": (256, 256)}),
    "residual-ik-zero": ({}, _IK, {"actor_zero_init": True}),
    # the press term's wrong keys charged per key (pianoenv.rewards.PRESS_VARIANTS)
    "residual-ik-perkey": ({}, {**_IK, "press_variant": "per_key"}, {}),
    "residual-ik-perkey-zero": ({}, {**_IK, "press_variant": "per_key"},
                                {"actor_zero_init": True}),
    # residual RL's recipe (Silver et al. 2018): zero residual, small exploration from step 0
    # (no uniform warm-up; a temperature to match: at 1.0 the entropy bonus of a 0.1 std
    # outweighs the reward ~20x), critics alone for the first 10k updates
    "residual-ik-burnin": ({"warmup_steps": 0}, _IK,
                           {"actor_zero_init": True, "actor_init_std": 0.1,
                            "init_temperature": 0.01, "actor_burn_in": 10_000}),
    "crossq": (_CROSSQ.run, {}, _CROSSQ.agent),
}


def _worker(job: dict[str, Any]) -> dict[str, Any]:
    """One training run in its own process (spawned: JAX and fork do not mix)."""
    if job.get("cpu") is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {job["cpu"]})
    os.environ.setdefault("MUJOCO_GL", "egl")
    from training.rl.config import DroQConfig, TrainConfig
    from training.rl.loop import Trainer

    overrides, env_kwargs, agent = ARMS[job["arm"]]
    base = TrainConfig()
    config = TrainConfig(
        song=job["song"], hand=job["hand"], seed=job["seed"], steps=job["max_steps"],
        eval_interval=job["eval_interval"], eval_episodes=1, checkpoint_interval=10**9,
        buffer_size=min(base.buffer_size, job["max_steps"] + 1),
        env_kwargs={**job["env_kwargs"], **env_kwargs},
        agent=DroQConfig(**agent), **{"fingering": job["fingering"], **overrides})
    curve: list[dict[str, float]] = []
    start = time.perf_counter()

    def on_eval(step: int, result: Any) -> None:
        curve.append({"step": step, "seconds": time.perf_counter() - start,
                      "f1": float(result.metrics["f1"])})

    trainer = Trainer(config, job["out"], progress=False, tensorboard=False,
                      time_budget_s=job["budget_s"], on_eval=on_eval, eval_at_start=True)
    summary = trainer.run()
    return {"arm": job["arm"], "seed": job["seed"], "curve": curve,
            "steps": int(summary["steps"]), "wall_s": float(summary["wall_time_s"])}


def policy_f1(song: str, hand: str, env_kwargs: dict[str, Any], policy: str,
              episodes: int = 1) -> float:
    """Mean F1 of a registered policy alone (no learning) over ``episodes`` episodes: the
    random policy (the floor) and each arm's base policy (what a residual starts from)."""
    from pianoenv import suite
    from pianoenv.episode import run_episode
    from pianoenv.policy import make_policy
    from training.rl.config import RESIDUAL_KEYS

    plain = {k: v for k, v in env_kwargs.items() if k not in RESIDUAL_KEYS}
    env = suite.load(song, hand=hand, **plain)
    actor = make_policy(policy, env)
    f1 = [run_episode(env, actor, seed=i).metrics["f1"] for i in range(episodes)]
    env.close()
    return float(sum(f1) / len(f1))


def base_policies(arms: list[str], env_kwargs: dict[str, Any]) -> list[str]:
    """The base policies the arms learn residuals on (``--env-arg base_policy`` included)."""
    names = {ARMS[arm][1].get("base_policy") for arm in arms if arm in ARMS}
    return sorted(name for name in names | {env_kwargs.get("base_policy")} if name)


def references(song: str, hand: str, env_kwargs: dict[str, Any], arms: list[str],
               known: dict[str, float] | None = None) -> dict[str, float]:
    """The reference lines of a plot: the random policy (3 episodes) and every base policy
    of the arms (deterministic: one episode), by policy name; those in ``known`` (an earlier
    invocation's) are not measured again."""
    refs = dict(known or {})
    for name in ["random", *base_policies(arms, env_kwargs)]:
        if name not in refs:
            refs[name] = policy_f1(song, hand, env_kwargs, name, 3 if name == "random" else 1)
    return refs


def first_reach(curve: list[dict[str, float]], threshold: float, key: str) -> float | None:
    for point in curve:
        if point["f1"] >= threshold:
            return point[key]
    return None


def summarise(results: list[dict[str, Any]], arms: list[str]) -> dict[str, Any]:
    import numpy as np

    table: dict[str, Any] = {}
    for arm in arms:
        runs = sorted((r for r in results if r["arm"] == arm), key=lambda r: r["seed"])
        final = [r["curve"][-1]["f1"] for r in runs]
        best = [max(p["f1"] for p in r["curve"]) for r in runs]
        row: dict[str, Any] = {
            "seeds": [r["seed"] for r in runs], "final_f1": final, "best_f1": best,
            "final_f1_mean": float(np.mean(final)), "best_f1_mean": float(np.mean(best)),
            "steps": [r["steps"] for r in runs], "wall_s": [r["wall_s"] for r in runs]}
        for th in THRESHOLDS:
            row[f"minutes_to_{th}"] = [None if (s := first_reach(r["curve"], th, "seconds")) is None
                                       else round(s / 60, 1) for r in runs]
            row[f"steps_to_{th}"] = [first_reach(r["curve"], th, "step") for r in runs]
        table[arm] = row
    return table


def print_table(table: dict[str, Any], refs: dict[str, float]) -> None:
    def fmt(values: list[Any]) -> str:
        return "/".join("-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
                        for v in values)

    head = ["arm", "final F1 mean (seeds)", "best F1 mean", "steps (seeds)"]
    head += [f"min to {th}" for th in THRESHOLDS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for arm, row in table.items():
        cells = [arm, f"{row['final_f1_mean']:.3f} ({fmt(row['final_f1'])})",
                 f"{row['best_f1_mean']:.3f}", fmt(row["steps"])]
        cells += [fmt(row[f"minutes_to_{th}"]) for th in THRESHOLDS]
        print("| " + " | ".join(cells) + " |")
    for name, f1 in refs.items():
        print(f"{name} policy alone, F1: {f1:.3f}")


def plot(results: list[dict[str, Any]], arms: list[str], refs: dict[str, float], out: Path,
         title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=120, sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, arm in enumerate(arms):
        runs = [r for r in results if r["arm"] == arm]
        color = colors[i % len(colors)]
        for ax, key, scale in ((axes[0], "seconds", 1 / 60), (axes[1], "step", 1.0)):
            for r in runs:
                ax.plot([p[key] * scale for p in r["curve"]], [p["f1"] for p in r["curve"]],
                        color=color, lw=0.8, alpha=0.45)
            # the mean only where every seed has data (no extrapolation before the first
            # eval); one seed is drawn as measured, not resampled
            grid = (np.array([p[key] for p in runs[0]["curve"]], float) if len(runs) == 1
                    else np.linspace(max(r["curve"][0][key] for r in runs),
                                     min(r["curve"][-1][key] for r in runs), 40))
            ys = np.array([np.interp(grid, [p[key] for p in r["curve"]],
                                     [p["f1"] for p in r["curve"]]) for r in runs])
            ax.plot(grid * scale, ys.mean(0), color=color, lw=2.2,
                    label=f"{arm} (mean of {len(runs)})" if len(runs) > 1 else f"{arm} (1 seed)")
            if len(runs) >= 3:
                half = 1.96 * ys.std(0, ddof=1) / math.sqrt(len(runs))
                ax.fill_between(grid * scale, ys.mean(0) - half, ys.mean(0) + half,
                                color=color, alpha=0.15, lw=0)
    for ax, xlabel in ((axes[0], "wall-clock (minutes)"), (axes[1], "environment steps")):
        for name, f1 in refs.items():
            label = "random policy" if name == "random" else f"{name} policy alone (no learning)"
            ax.axhline(f1, color="black", ls="--" if name == "random" else ":", lw=1,
                       label=f"{label} ({f1:.2f})")
        for th in THRESHOLDS:
            ax.axhline(th, color="grey", lw=0.5, alpha=0.5)
        ax.set(xlabel=xlabel, ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    # steps in thousands: six-digit tick labels run into each other on long runs
    axes[1].xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
    axes[0].set_ylabel("evaluation F1 (deterministic, whole episode)")
    axes[1].legend(fontsize=7, loc="lower right")
    banded = [a for a in arms if sum(r["arm"] == a for r in results) >= 3]
    band = "" if not banded else " (band: 95% CI over seeds)" if banded == arms else \
        f" (band: 95% CI over seeds, {', '.join(banded)})"
    fig.suptitle(textwrap.fill(title + band, 120), fontsize=10)  # long merges: two lines
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--song", default="twinkle")
    p.add_argument("--hand", default="shadow_five")
    p.add_argument("--fingering", default="ot")
    p.add_argument("--arms", nargs="+", default=["droq", "residual-ik"], choices=sorted(ARMS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--budget-min", type=float, default=15.0, help="wall-clock per run")
    p.add_argument("--max-steps", type=int, default=2_000_000, help="step cap per run")
    p.add_argument("--eval-interval", type=int, default=5_000)
    p.add_argument("--env-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="task argument for every arm (e.g. max_steps=550)")
    p.add_argument("--workers", type=int, default=1, help="runs at once (1 per vCPU)")
    p.add_argument("--out", type=Path, default=Path("runs/learn_bench"))
    p.add_argument("--overwrite", action="store_true", help="replace run dirs already in --out")
    p.add_argument("--merge", nargs="+", type=Path, metavar="DIR",
                   help="combine these earlier --out folders into --out instead of training")
    args = p.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)

    env_kwargs = parse_env_args(args.env_arg)
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [{"arm": arm, "seed": seed, "song": args.song, "hand": args.hand,
             "fingering": args.fingering, "env_kwargs": env_kwargs,
             "max_steps": args.max_steps, "eval_interval": args.eval_interval,
             "budget_s": args.budget_min * 60, "out": str(args.out / f"{arm}_s{seed}")}
            for seed in args.seeds for arm in args.arms]  # arms side by side on the 2 workers
    existing = [Path(j["out"]) for j in jobs if Path(j["out"]).exists()]
    if existing and not args.overwrite:
        p.error(f"{existing[0]} exists; pass --overwrite or choose another --out")
    for path in existing:
        shutil.rmtree(path)
    started = time.perf_counter()
    if args.workers > 1:
        for i, job in enumerate(jobs):
            job["cpu"] = i % min(args.workers, os.cpu_count() or 1)
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false").strip()
        with mp.get_context("spawn").Pool(args.workers, maxtasksperchild=1) as pool:
            results = pool.map(_worker, jobs, chunksize=1)
    else:
        results = [_worker(job) for job in jobs]
    refs = references(args.song, args.hand, env_kwargs, args.arms)
    title = (f"{args.song} / {args.hand} / {args.fingering} / {args.budget_min:g} min per run, "
             f"{args.workers} at once")
    print(f"# learn_bench: {title}; total {(time.perf_counter() - started) / 60:.1f} min")
    report(results, args.arms, refs, args.out, title,
           {"args": {k: str(v) for k, v in vars(args).items()}})
    return 0


def parse_env_args(items: list[str]) -> dict[str, Any]:
    """``--env-arg KEY=VALUE`` items as task arguments (JSON values where they parse)."""
    env_kwargs: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        env_kwargs[key] = json.loads(value) if value[:1] in "0123456789-[{tfn" else value
    return env_kwargs


def report(results: list[dict[str, Any]], arms: list[str], refs: dict[str, float], out: Path,
           title: str, header: dict[str, Any]) -> None:
    """The table (printed), ``curves.csv``, ``summary.json`` and ``learn_curves.png``."""
    table = summarise(results, arms)
    print_table(table, refs)
    with (out / "curves.csv").open("w") as handle:
        handle.write("arm,seed,step,seconds,f1\n")
        for r in results:
            for point in r["curve"]:
                handle.write(f"{r['arm']},{r['seed']},{point['step']},{point['seconds']:.1f},"
                             f"{point['f1']:.4f}\n")
    (out / "summary.json").write_text(json.dumps(
        {**header, "random_f1": refs["random"], "policy_alone_f1": refs, "arms": table},
        indent=2) + "\n")
    plot(results, arms, refs, out / "learn_curves.png", title)
    print(f"wrote {out}/curves.csv, summary.json, learn_curves.png")


def merge(folders: list[Path], out: Path) -> int:
    """Earlier invocations' results as one: their curves (``curves.csv``) and per-seed step
    counts and wall times (``summary.json``); a seed of an arm may appear only once."""
    results: list[dict[str, Any]] = []
    arms: list[str] = []
    summaries = []
    for folder in folders:
        if not ((folder / "summary.json").is_file() and (folder / "curves.csv").is_file()):
            raise SystemExit(f"{folder}: no summary.json and curves.csv (not a --out folder "
                             "of a finished invocation)")
        summary = json.loads((folder / "summary.json").read_text())
        if "merged" in summary:
            raise SystemExit(f"{folder}: is itself a merge; merge the folders it lists")
        summaries.append(summary)
        curves: dict[tuple[str, int], list[dict[str, float]]] = {}
        for line in (folder / "curves.csv").read_text().splitlines()[1:]:
            arm, seed, step, seconds, f1 = line.split(",")
            curves.setdefault((arm, int(seed)), []).append(
                {"step": int(step), "seconds": float(seconds), "f1": float(f1)})
        for (arm, seed), curve in curves.items():
            if any(r["arm"] == arm and r["seed"] == seed for r in results):
                raise SystemExit(f"{folder}: {arm} seed {seed} is in two of the folders")
            row = summary["arms"][arm]
            i = row["seeds"].index(seed)
            results.append({"arm": arm, "seed": seed, "curve": curve,
                            "steps": row["steps"][i], "wall_s": row["wall_s"][i]})
            arms += [arm] if arm not in arms else []
    args = [s["args"] for s in summaries]
    for key in ("song", "hand", "fingering", "env_arg"):
        if len({a[key] for a in args}) > 1:
            raise SystemExit(f"the folders differ in --{key.replace('_', '-')}: "
                             f"{sorted({a[key] for a in args})}")
    budgets = sorted({a["budget_min"] for a in args}, key=float)
    title = (f"{args[0]['song']} / {args[0]['hand']} / {args[0]['fingering']} / "
             f"{' and '.join(budgets)} min per run, merged from {len(folders)} invocation"
             f"{'s' if len(folders) > 1 else ''}")
    out.mkdir(parents=True, exist_ok=True)
    print(f"# learn_bench (merged): {title}")
    known = {"random": float(summaries[0]["random_f1"])}
    for summary in summaries:  # earlier versions kept only the random policy's F1
        known.update(summary.get("policy_alone_f1", {}))
    refs = references(args[0]["song"], args[0]["hand"],
                      parse_env_args(ast.literal_eval(args[0]["env_arg"])), arms, known)
    report(sorted(results, key=lambda r: (r["arm"], r["seed"])), arms, refs, out, title,
           {"merged": [str(f) for f in folders], "args": args})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
