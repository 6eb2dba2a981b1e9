"""RP1M Fig. 2: F1 against environment steps for three ways to guide the fingers.

* ``ot``: RP1M, the optimal-transport fingering reward, no fingering in the observation;
* ``human``: RoboPianist-RL, the annotated human fingering in the observation and reward;
* ``none``: neither (only the press, sustain, collision and energy terms).

Same hand, song, agent (RP1M Table 4) and budget for every arm; each arm runs ``seeds``
seeds and the figure shows the mean evaluation F1 with its 95% CI band (t distribution).
The ``human`` arm needs a song with a fingering for every note: a PIG file or a built-in
piece. The paper's claim to check: OT matches human fingering and beats no fingering.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from handspec.errors import InputError
from training.experiments import common

ARMS = ("ot", "human", "none")
ARM_LABELS = {"ot": "OT (RP1M)", "human": "human fingering (RoboPianist-RL)",
              "none": "no fingering"}


def run_fig2(song: str, *, hand: str = "shadow_five", arms: Sequence[str] = ARMS, seeds: int = 3,
             steps: int = 6_000, out: str | Path | None = None,
             max_episode_steps: int | None = None, config_file: Path | None = None,
             warmup_steps: int | None = None, eval_interval: int | None = None,
             batch_size: int | None = None, hidden_dims: Sequence[int] | None = None,
             buffer_size: int | None = None,
             time_budget_s: float | None = None, progress: bool = True, tensorboard: bool = True,
             env_factory: common.EnvFactory | None = None,
             argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Trains each fingering arm for ``steps`` x ``seeds``; F1 curves with 95% CI bands."""
    started = time.perf_counter()
    common.check_positive("--buffer-size", buffer_size, 2)
    arms = list(arms)
    _check(song, hand, arms, seeds, steps, max_episode_steps, env_factory is None)
    out = Path(out) if out is not None else Path("runs") / f"fig2_{common.song_slug(song)}"
    base = common.experiment_base_config(config_file, warmup_steps=warmup_steps,
                                         eval_interval=eval_interval, batch_size=batch_size,
                                         hidden_dims=hidden_dims)
    # arms, like seeds and steps, may be added later: they are not part of the identity
    identity = {"song": song, "hand": hand, "max_episode_steps": max_episode_steps,
                "replay_capacity": buffer_size,
                "base_config": common.base_identity(base)}
    exp = common.ExperimentDir.open(out, "fig2", identity, steps=steps, seeds=range(seeds))
    exp.start_session(common.command_line(argv))
    factory = env_factory or common.default_env_factory
    configs = {arm: [common.run_config(base, song=song, hand=hand, fingering=arm, seed=s,
                                       steps=steps, replay_capacity=buffer_size,
                                       max_episode_steps=max_episode_steps)
                     for s in range(seeds)] for arm in arms}
    random_f1 = common.random_baseline(exp, arms[0], configs[arms[0]][0], factory).get("f1")
    runs = common.run_arms(exp, configs, factory, progress=progress, time_budget_s=time_budget_s,
                           tensorboard=tensorboard)
    results = {arm: common.aggregate_arm(runs[arm]) for arm in arms}
    labels = {arm: ARM_LABELS.get(arm, arm) for arm in arms}
    plots = {
        "f1_curves": common.plot_f1_bands(
            {labels[a]: results[a].band for a in arms}, exp.root / "f1_curves.png",
            title=f"Fig. 2: {song}, {hand}", reference={"random policy": random_f1}),
        "final_f1": common.plot_f1_bars(
            {a: results[a].final_f1 for a in arms}, {a: results[a].per_seed_final for a in arms},
            exp.root / "final_f1.png", title=f"{song}: final F1 after {steps} steps"),
    }
    table = results_table(arms, results, random_f1)
    common.write_text(exp.root / "table.md", table)
    summary = {
        "experiment": "fig2", "out": str(exp.root), "command": common.command_line(argv),
        "song": song, "hand": hand,
        "arms": arms, "seeds": list(range(seeds)), "steps_per_run": steps,
        "max_episode_steps": max_episode_steps, "train_config": base.to_dict(),
        "random_policy_f1": random_f1,
        "results": {a: {"label": labels[a], **results[a].to_dict()} for a in arms},
        "table_markdown": table, "plots": {k: str(v) for k, v in plots.items()},
        "budget": common.budget_record(runs, started),
        "runs": common.runs_table([r for a in arms for r in runs[a]]),
        "machine": common.machine_info(),
    }
    common.write_json(exp.root / "summary.json", summary)
    exp.log(f"summary: {exp.root / 'summary.json'}")
    return summary


def _check(song: str, hand: str, arms: list[str], seeds: int, steps: int,
           max_episode_steps: int | None, real_env: bool) -> None:
    if not arms:
        raise InputError("give at least one arm", field="--arms")
    for arm in arms:
        if arm not in ARMS:
            raise InputError(f"unknown arm {arm!r}; one of {', '.join(ARMS)}", field="--arms")
    duplicates = sorted({a for a in arms if arms.count(a) > 1})
    if duplicates:
        raise InputError(f"arm {duplicates[0]!r} is listed twice", field="--arms")
    common.check_positive("--seeds", seeds)
    common.check_positive("--steps", steps)
    common.check_positive("--max-episode-steps", max_episode_steps)
    if real_env:
        common.check_hand(hand, "--hand")
        goals = common.song_goals(song, max_episode_steps)
        if "human" in arms and not goals.notes.has_fingering:
            raise InputError("the human arm needs a fingering for every note; use a PIG file or "
                             "a built-in piece, or leave out the human arm (--arms ot --arms none)",
                             file=song, field="--song")


def results_table(arms: Sequence[str], results: dict[str, common.ArmResult],
                  random_f1: float | None) -> str:
    rows = [[ARM_LABELS.get(a, a), r.final_f1.format(), r.best_f1.format(),
             r.mean_curve_f1.format(), " ".join(f"{v:.3f}" for v in r.per_seed_final)]
            for a, r in ((a, results[a]) for a in arms)]
    table = common.markdown_table(["arm", "final F1 (mean +- 95% CI)", "best eval F1",
                                   "mean F1 over the curve", "per seed"], rows)
    if random_f1 is not None:
        table += f"\nrandom policy F1: {random_f1:.3f}\n"
    return table
