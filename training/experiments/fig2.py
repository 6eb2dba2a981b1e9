"""RP1M Fig. 2: F1 against environment steps for three ways to guide the fingers.

* ``ot``: RP1M, the optimal-transport fingering reward, no fingering in the observation;
* ``human``: RoboPianist-RL, the annotated human fingering in the observation and reward;
* ``none``: neither (only the press, sustain, collision and energy terms);
* ``annotator``: like ``human`` with the offline annotator's fingering for this hand's reach
  as the labels (``fingering.annotate``): the "human" arm for songs without human labels.

Same hand, song, agent (RP1M Table 4) and budget for every arm; each arm runs ``seeds``
seeds and the figure shows the mean evaluation F1 with its 95% CI band (t distribution).
The ``human`` arm needs a song with a fingering for every note: a PIG file or a built-in
piece. The paper's claim to check: OT matches human fingering and beats no fingering.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from handspec.errors import InputError
from training.experiments import common, plots, stats
from training.experiments.budget import Budget
from training.rl.loop import default_env_factory

ARMS = ("ot", "human", "none", "annotator")
ARM_LABELS = {"ot": "OT (RP1M)", "human": "human fingering (RoboPianist-RL)",
              "none": "no fingering",
              "annotator": "annotator fingering"}


def run_fig2(song: str, *, hand: str = "shadow_five", arms: Sequence[str] = ARMS,
             env_factory: common.EnvFactory | None = None, **budget: Any) -> dict[str, Any]:
    """Trains each fingering arm for ``steps`` x ``seeds`` (``Budget``: seeds, steps,
    out, schedule, time budget); F1 curves with 95% CI bands."""
    started = time.perf_counter()
    budget = Budget(**{"seeds": 3, **budget})
    arms = list(arms)
    _check(song, hand, arms, budget.max_episode_steps, env_factory is None)
    base = budget.base_config()
    # arms, like seeds and steps, may be added later: they are not part of the identity
    exp = common.open_experiment(budget, "fig2", budget.output(f"fig2_{common.song_slug(song)}"),
                      {"song": song, "hand": hand}, base)
    factory = env_factory or default_env_factory
    configs = budget.configs(base, {arm: (song, hand, arm) for arm in arms})
    random_f1 = common.random_baseline(exp, arms[0], configs[arms[0]][0], factory).get("f1")
    runs = common.train_arms(budget, exp, configs, factory)
    results = {arm: common.aggregate_arm(runs[arm]) for arm in arms}
    labels = {arm: ARM_LABELS.get(arm, arm) for arm in arms}
    figures = {
        "f1_curves": plots.plot_f1_bands(
            {labels[a]: results[a].band for a in arms}, exp.root / "f1_curves.png",
            title=f"Fig. 2: {common.song_slug(song)}, {common.arm_slug(hand)}", reference={"random policy": random_f1}),
        "final_f1": plots.plot_f1_bars(
            {a: results[a].final_f1 for a in arms}, {a: results[a].per_seed_final for a in arms},
            exp.root / "final_f1.png", title=f"{common.song_slug(song)}: final F1 after {budget.steps} steps"),
    }
    table = results_table(arms, results, random_f1)
    common.write_text(exp.root / "table.md", table)
    return common.finish(exp, {
        "experiment": "fig2", "song": song, "hand": hand, "arms": arms,
        "seeds": list(range(budget.seeds)), "steps_per_run": budget.steps,
        "random_policy_f1": random_f1,
        "results": {a: {"label": labels[a], **results[a].to_dict()} for a in arms},
        "table_markdown": table, "plots": {k: str(v) for k, v in figures.items()},
        **common.common_summary(budget, exp, base, runs, started),
    })


def _check(song: str, hand: str, arms: list[str], max_episode_steps: int | None,
           real_env: bool) -> None:
    if not arms:
        raise InputError("give at least one arm", field="--arms")
    for arm in arms:
        if arm not in ARMS:
            raise InputError(f"unknown arm {arm!r}; one of {', '.join(ARMS)}", field="--arms")
    duplicates = sorted({a for a in arms if arms.count(a) > 1})
    if duplicates:
        raise InputError(f"arm {duplicates[0]!r} is listed twice", field="--arms")
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
    table = common.markdown_table(["arm", f"final F1 ({stats.CI_HEADER})", "best eval F1",
                                   "mean F1 over the curve", "per seed"], rows)
    if random_f1 is not None:
        table += f"\nrandom policy F1: {random_f1:.3f}\n"
    return table
