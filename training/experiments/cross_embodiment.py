"""Cross-embodiment (RP1M Sec. 4.2): one song chunk, one budget, several hands.

The paper disables the Shadow hand's little finger and reports F1 0.96 (five fingers) vs
0.95 (four fingers) on French Suite No. 5 Sarabande, first 550 steps, after full training
(millions of steps on a GPU). Here any hand spec can be an arm; every hand trains with the
OT fingering reward (no human fingering exists for a robot hand) for the same number of
steps and seeds, and the experiment reports per hand: final F1 (mean and 95% CI over
seeds), best evaluation F1, the F1 curve, the random policy's F1, and which fingers the
learned policy used (finger usage of the final policy, pooled over seeds).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fingering.match import HANDS, finger_usage
from fingering.notes import FINGER_NAMES
from handspec.errors import InputError
from handspec.load import load_hand
from training.experiments import common, plots
from training.experiments.budget import Budget
from training.rl.loop import default_env_factory
from training.runlog import new_figure, save_figure

DEFAULT_HANDS = ("shadow_five", "shadow_four")
# RP1M, Sec. 4.2 "Cross Embodiments" (Sarabande, first 550 steps, full training budget).
PAPER_F1 = {"shadow_five": 0.96, "shadow_four": 0.95}


def run_cross_embodiment(song: str, hands: Sequence[str] = DEFAULT_HANDS, *,
                         env_factory: common.EnvFactory | None = None,
                         **budget: Any) -> dict[str, Any]:
    """Trains every hand on ``song`` for ``steps`` x ``seeds`` (``Budget``); writes
    plots and summary.json and returns the summary. Bad input (unknown hand or song,
    duplicate hands, budgets < 1) raises ``InputError`` before anything is trained.
    """
    started = time.perf_counter()
    budget = Budget(**{"seeds": 3, **budget})
    hands = list(hands)
    _check(song, hands, budget.max_episode_steps, env_factory is None)
    base = budget.base_config()
    # hands, like seeds and steps, may be added later: they are not part of the identity
    exp = common.open_experiment(budget, "cross-embodiment",
                      budget.output(f"cross_embodiment_{common.song_slug(song)}"),
                      {"song": song, "fingering": "ot"}, base)
    factory = env_factory or default_env_factory
    configs = budget.configs(base, {hand: (song, hand, "ot") for hand in hands})
    randoms = {hand: common.random_baseline(exp, hand, configs[hand][0], factory) for hand in hands}
    runs = common.train_arms(budget, exp, configs, factory)
    results = {hand: common.aggregate_arm(runs[hand]) for hand in hands}
    pooled = {hand: pooled_usage(runs[hand]) for hand in hands}
    usage = {hand: u for hand, (u, _) in pooled.items()}
    pressed = {hand: n for hand, (_, n) in pooled.items()}
    fingers = {hand: _finger_names(hand, env_factory is None) for hand in hands}
    figures = _plots(song, budget.steps, exp.root, results, randoms, usage, pressed)
    table = results_table(hands, results, randoms, usage, fingers)
    common.write_text(exp.root / "table.md", table)
    return common.finish(exp, {
        "experiment": "cross-embodiment", "song": song, "hands": hands, "fingering": "ot",
        "seeds": list(range(budget.seeds)), "steps_per_run": budget.steps,
        "results": {h: {**results[h].to_dict(), "random_policy_f1": randoms[h].get("f1"),
                        "fingers": fingers[h], "finger_usage_right_left": usage[h],
                        "pressed_notes_right_left": pressed[h],
                        "paper_f1": PAPER_F1.get(h)} for h in hands},
        "table_markdown": table, "plots": {k: str(v) for k, v in figures.items()},
        **common.common_summary(budget, exp, base, runs, started),
        "paper_reference": "RP1M Sec. 4.2: F1 0.96 (five fingers) vs 0.95 (four fingers), "
                           "Sarabande first 550 steps, full training budget",
    })


def _plots(song: str, steps: int, root: Path, results: dict[str, common.ArmResult],
           randoms: dict[str, dict[str, float]], usage: dict[str, Any],
           pressed: dict[str, list[int]]) -> dict[str, Path]:
    slug = common.arm_slug
    figures = {
        "f1_curves": plots.plot_f1_bands(
            {slug(h): r.band for h, r in results.items()}, root / "f1_curves.png",
            title=f"{song}: F1 vs steps per hand (mean, 95% CI)",
            reference={f"random policy, {slug(h)}": randoms[h].get("f1") for h in results}),
        "final_f1": plots.plot_f1_bars(
            {slug(h): r.final_f1 for h, r in results.items()},
            {slug(h): r.per_seed_final for h, r in results.items()},
            root / "final_f1.png", title=f"{song}: final F1 after {steps} steps"),
    }
    if any(u is not None for u in usage.values()):
        figures["finger_usage"] = plot_usage_by_hand(
            {f"{slug(h)} ({sum(pressed[h])} notes)": u for h, u in usage.items()},
            root / "finger_usage.png", title=f"{song}: fingers the policies used")
    return figures


def _check(song: str, hands: list[str], max_episode_steps: int | None, real_env: bool) -> None:
    if not hands:
        raise InputError("give at least one hand", field="--hands")
    duplicates = sorted({h for h in hands if hands.count(h) > 1})
    if duplicates:
        raise InputError(f"hand {duplicates[0]!r} is listed twice", field="--hands")
    slugs = [common.arm_slug(h) for h in hands]
    clash = sorted({h for h, s in zip(hands, slugs) if slugs.count(s) > 1})
    if clash:
        raise InputError(f"hands {', '.join(clash)} would share the folder "
                         f"{common.arm_slug(clash[0])!r}; rename one file", field="--hands")
    if real_env:  # fail on a bad name now, not after the first hand has trained
        for hand in hands:
            common.check_hand(hand, "--hands")
        common.song_goals(song, max_episode_steps)


def _finger_names(hand: str, real: bool) -> list[str]:
    if not real:
        return list(FINGER_NAMES)
    spec = load_hand(hand)
    names = [f.name for f in spec.fingers] or (list(spec.mjcf.tip_sites) if spec.mjcf else [])
    return [n for n in FINGER_NAMES if n in names] or list(FINGER_NAMES)


def pooled_usage(runs: Sequence[common.SeedRun]) -> tuple[list[list[float]] | None, list[int]]:
    """Finger usage of the final policies, pooled over seeds (rows right, left; columns
    thumb..little), and how many notes each hand pressed.

    Pooling counts (rather than averaging per-seed shares) keeps a seed that pressed no
    note with one hand from diluting the other seeds' shares.
    """
    seqs = [seq for seq in (common.read_learned_fingering(r) for r in runs) if seq is not None]
    if not seqs:
        return None, [0, 0]
    counts = [sum(1 for s in seqs for n in s.notes if n.hand == hand and n.finger) for hand in HANDS]
    return finger_usage(seqs).round(4).tolist(), counts


def results_table(hands: Sequence[str], results: dict[str, common.ArmResult],
                  randoms: dict[str, dict[str, float]], usage: dict[str, Any],
                  fingers: dict[str, list[str]]) -> str:
    """Markdown: one row per hand with F1 (mean +- 95% CI half-width) and finger usage."""
    def usage_text(u: Any, side: int, names: list[str]) -> str:
        if u is None:
            return "n/a"
        return " ".join(f"{FINGER_NAMES[i][:2]} {100 * u[side][i]:.0f}%"
                        for i in range(5) if FINGER_NAMES[i] in names)

    rows = []
    for h in hands:
        r = results[h]
        rows.append([f"`{common.arm_slug(h)}`", len(fingers[h]), r.final_f1.format(), r.best_f1.format(),
                     " ".join(f"{v:.3f}" for v in r.per_seed_final),
                     f"{randoms[h].get('f1', math.nan):.3f}",
                     usage_text(usage[h], 0, fingers[h]), usage_text(usage[h], 1, fingers[h]),
                     PAPER_F1.get(h, "")])
    return common.markdown_table(
        ["hand", "fingers", "final F1 (mean +- 95% CI)", "best eval F1", "per seed",
         "random policy F1", "right-hand usage", "left-hand usage", "paper F1"], rows)


def plot_usage_by_hand(usage: dict[str, Any], path: Path, *, title: str) -> Path:
    """Grouped bars: for each of the player's hands, the share of its pressed notes per
    finger, one bar colour per robot hand (pooled over seeds)."""
    fig = new_figure(9, 3.6)
    axes = fig.subplots(1, 2, sharey=True)
    hands = [h for h, u in usage.items() if u is not None]
    width = 0.8 / max(len(hands), 1)
    x = np.arange(5)
    for ax, (side, row) in zip(axes, (("left", 1), ("right", 0))):
        for i, hand in enumerate(hands):
            ax.bar(x - 0.4 + width * (i + 0.5), np.asarray(usage[hand])[row], width,
                   color=plots.ARM_COLORS[i % len(plots.ARM_COLORS)], edgecolor="black",
                   label=hand)
        ax.set_xticks(x, [n.capitalize() for n in FINGER_NAMES])
        ax.set_title(f"{side} hand")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("share of the hand's pressed notes")
    axes[1].legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)
