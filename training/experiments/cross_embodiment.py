"""Cross-embodiment (RP1M Sec. 4.2): one song chunk, one budget, several hands.

The paper disables the Shadow hand's little finger and reports F1 0.96 (five fingers) vs
0.95 (four fingers) on French Suite No. 5 Sarabande, first 550 steps, after full training
(millions of steps on a GPU). Here any hand spec can be an arm; every hand trains with the
OT fingering reward (no human fingering exists for a robot hand) for the same number of
steps and seeds, and the experiment reports per hand: final F1 (mean and 95% CI over
seeds, the seeds' values below ``stats.MIN_SEEDS_FOR_CI`` seeds), best evaluation F1, the
F1 curve, the random policy's F1 (a line in the hand's colour), and which fingers the
learned policy used (finger usage of the final policy, pooled over seeds, with counts).
The paper's numbers are shown only when the song is the paper's: PIG piece 008 (the
Sarabande), chunk 0, whole (``paper_reference`` in summary.json says why otherwise).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fingering.match import finger_counts, usage_shares
from fingering.notes import FINGER_NAMES
from handspec.errors import InputError
from handspec.load import load_hand
from pianoenv.songs import CHUNK_LENGTH, parse_song_spec
from training.experiments import common, plots, stats
from training.experiments.budget import Budget
from training.rl.loop import default_env_factory
from training.runlog import new_figure, save_figure

DEFAULT_HANDS = ("shadow_five", "shadow_four")
# RP1M, Sec. 4.2 "Cross Embodiments" (Sarabande, first 550 steps, full training budget).
PAPER_F1 = {"shadow_five": 0.96, "shadow_four": 0.95}
PAPER_PIECE = "008"      # PIG's Bach French Suite No. 5, Sarabande
PAPER_SETTING = (f"RP1M Sec. 4.2: F1 0.96 (five fingers) vs 0.95 (four fingers), French Suite "
                 f"No. 5 Sarabande (PIG {PAPER_PIECE}) chunk 0 = first {CHUNK_LENGTH} steps, "
                 f"full training budget")


def paper_reference(song: str, max_episode_steps: int | None) -> dict[str, Any]:
    """Whether the paper's F1 values describe this song: only for PIG piece 008's chunk 0
    played whole (``max_episode_steps`` None or the chunk's 550 steps). Another piece or a
    shorter episode is another task, and its F1 beside 0.96 would read as a comparison."""
    name, chunk = parse_song_spec(song)
    file = Path(name).name
    reasons = []
    if not (file.startswith(f"{PAPER_PIECE}-") and file.lower().endswith(".txt")):
        reasons.append(f"the song {song!r} is not a PIG file of piece {PAPER_PIECE}")
    elif chunk != 0:
        reasons.append(f"the song is chunk {chunk} of piece {PAPER_PIECE}, not chunk 0"
                       if chunk is not None else f"the song is all of piece {PAPER_PIECE}, "
                       f"not its chunk 0 (add ':0')")
    if max_episode_steps is not None and max_episode_steps != CHUNK_LENGTH:
        reasons.append(f"episodes are cut to {max_episode_steps} steps, not {CHUNK_LENGTH}")
    if reasons:
        return {"applies": False, "paper_f1": {}, "setting": PAPER_SETTING,
                "why_not_shown": "; ".join(reasons)}
    return {"applies": True, "paper_f1": dict(PAPER_F1), "setting": PAPER_SETTING}


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
    usage = {hand: pooled_usage(runs[hand]) for hand in hands}
    fingers = {hand: _finger_names(hand, env_factory is None) for hand in hands}
    paper = paper_reference(song, budget.max_episode_steps)
    figures = _plots(song, budget.steps, exp.root, results, randoms, usage, paper)
    table = results_table(hands, results, randoms, usage, fingers, paper)
    common.write_text(exp.root / "table.md", table)
    return common.finish(exp, {
        "experiment": "cross-embodiment", "song": song, "hands": hands, "fingering": "ot",
        "seeds": list(range(budget.seeds)), "steps_per_run": budget.steps,
        "results": {h: {**results[h].to_dict(), "random_policy_f1": randoms[h].get("f1"),
                        "fingers": fingers[h], **usage[h].to_dict(),
                        "paper_f1": paper["paper_f1"].get(h)} for h in hands},
        "table_markdown": table, "plots": {k: str(v) for k, v in figures.items()},
        **common.common_summary(budget, exp, base, runs, started),
        "paper_reference": paper,
    })


def _plots(song: str, steps: int, root: Path, results: dict[str, common.ArmResult],
           randoms: dict[str, dict[str, float]], usage: dict[str, PooledUsage],
           paper: dict[str, Any]) -> dict[str, Path]:
    slug = common.arm_slug
    per_arm = {"random": {slug(h): randoms[h].get("f1") for h in results}}
    if paper["applies"]:
        per_arm["RP1M, full budget"] = {slug(h): paper["paper_f1"].get(h) for h in results}
    figures = {
        "f1_curves": plots.plot_f1_bands(
            {slug(h): r.band for h, r in results.items()}, root / "f1_curves.png",
            title=f"{common.song_slug(song)}: F1 vs steps per hand", arm_reference=per_arm),
        "final_f1": plots.plot_f1_bars(
            {slug(h): r.final_f1 for h, r in results.items()},
            {slug(h): r.per_seed_final for h, r in results.items()},
            root / "final_f1.png", title=f"{common.song_slug(song)}: final F1 after {steps} steps"),
    }
    if any(u.counts is not None for u in usage.values()):
        figures["finger_usage"] = plot_usage_by_hand(
            {slug(h): u for h, u in usage.items()}, root / "finger_usage.png",
            title=f"{common.song_slug(song)}: fingers the policies used (final policies, seeds pooled)")
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


@dataclass(frozen=True)
class PooledUsage:
    """Fingers the final policies of one hand used, pooled over seeds (rows right, left;
    columns thumb..little); ``counts`` is None when no seed has a learned fingering."""

    counts: np.ndarray | None     # (2, 5) notes pressed by each finger
    not_played: np.ndarray        # (2,) notes of each hand no finger pressed
    seeds: int

    @property
    def pressed(self) -> list[int]:
        return [0, 0] if self.counts is None else [int(v) for v in self.counts.sum(axis=1)]

    @property
    def shares(self) -> np.ndarray | None:
        """Share of each hand's pressed notes per finger (read it with ``counts``)."""
        return None if self.counts is None else usage_shares(self.counts)

    def to_dict(self) -> dict[str, Any]:
        shares = self.shares
        return {"finger_usage_right_left": None if shares is None else shares.round(4).tolist(),
                "finger_counts_right_left": None if self.counts is None else self.counts.tolist(),
                "pressed_notes_right_left": self.pressed,
                "not_played_right_left": self.not_played.tolist(),
                "usage_seeds": self.seeds}


def pooled_usage(runs: Sequence[common.SeedRun]) -> PooledUsage:
    """Finger usage of the final policies, pooled over seeds, with the counts behind it.

    Pooling counts (rather than averaging per-seed shares) keeps a seed that pressed no
    note with one hand from diluting the other seeds' shares.
    """
    seqs = [seq for seq in (common.read_learned_fingering(r) for r in runs) if seq is not None]
    if not seqs:
        return PooledUsage(None, np.zeros(2, dtype=np.int64), 0)
    counts, not_played = finger_counts(seqs)
    return PooledUsage(counts, not_played, len(seqs))


def results_table(hands: Sequence[str], results: dict[str, common.ArmResult],
                  randoms: dict[str, dict[str, float]], usage: dict[str, PooledUsage],
                  fingers: dict[str, list[str]], paper: dict[str, Any]) -> str:
    """Markdown: one row per hand with F1 (``stats`` CI rule), the notes each hand pressed
    and finger usage as counts; the paper's F1 only when the song is the paper's (else a
    line under the table says why not)."""
    def usage_text(u: PooledUsage, side: int, names: list[str]) -> str:
        if u.counts is None:
            return "n/a"
        row, total = u.counts[side], int(u.counts[side].sum())
        text = " ".join(f"{FINGER_NAMES[i][:2]} {row[i]}" for i in range(5) if FINGER_NAMES[i] in names)
        return f"{text} (of {total} pressed, {int(u.not_played[side])} not)"

    header = ["hand", "fingers", f"final F1 ({stats.CI_HEADER})", "best eval F1", "per seed",
              "random policy F1", "right-hand notes per finger", "left-hand notes per finger"]
    rows = []
    for h in hands:
        r = results[h]
        row = [f"`{common.arm_slug(h)}`", len(fingers[h]), r.final_f1.format(), r.best_f1.format(),
               " ".join(f"{v:.3f}" for v in r.per_seed_final),
               f"{randoms[h].get('f1', math.nan):.3f}",
               usage_text(usage[h], 0, fingers[h]), usage_text(usage[h], 1, fingers[h])]
        if paper["applies"]:
            row.append(paper["paper_f1"].get(h, ""))
        rows.append(row)
    if paper["applies"]:
        header.append("paper F1 (RP1M, full budget)")
    table = common.markdown_table(header, rows)
    if not paper["applies"]:
        table += f"\nNo paper F1 column: {paper['why_not_shown']} ({PAPER_SETTING}).\n"
    return table


def plot_usage_by_hand(usage: dict[str, PooledUsage], path: Path, *, title: str) -> Path:
    """``usage_by_hand_figure`` saved as a PNG."""
    return save_figure(usage_by_hand_figure(usage, title=title), path)


def usage_by_hand_figure(usage: dict[str, PooledUsage], *, title: str):
    """Grouped bars: for each of the player's hands, the share of its pressed notes per
    finger, one bar colour per robot hand (seeds pooled), each bar labelled with its count
    and each legend entry with the notes that hand pressed."""
    fig = new_figure(10, 4.0)
    axes = fig.subplots(1, 2, sharey=True)
    hands = [h for h, u in usage.items() if u.counts is not None]
    width = 0.8 / max(len(hands), 1)
    x = np.arange(5)
    for ax, (side, row) in zip(axes, (("left", 1), ("right", 0))):
        for i, hand in enumerate(hands):
            u = usage[hand]
            pressed, missed = u.pressed[row], int(u.not_played[row])
            bars = ax.bar(x - 0.4 + width * (i + 0.5), u.shares[row], width,
                          color=plots.arm_color(i), edgecolor="black",
                          label=f"{hand}: {pressed} of {pressed + missed} notes pressed "
                                f"({u.seeds} seed{'s' if u.seeds != 1 else ''})")
            ax.bar_label(bars, labels=[str(int(c)) for c in u.counts[row]], padding=2, fontsize=7)
        ax.set_xticks(x, [n.capitalize() for n in FINGER_NAMES])
        ax.set_xlabel("finger (bar labels: number of notes)")
        ax.set_title(f"{side} hand")
        ax.set_ylim(0, 1.4)  # room for the legend above the bars
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    axes[0].set_ylabel("share of the hand's pressed notes")
    fig.suptitle(title)
    return fig
