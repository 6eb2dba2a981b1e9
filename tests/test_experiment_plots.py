"""What experiment outputs say: the CI rule, F1 curves and bars, the paper's numbers only
beside the paper's piece, per-hand random lines, finger usage with counts.

Tiny synthetic numbers only (no training); each figure is saved as a PNG into tmp_path and
its texts are read back (``figure_texts``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.colors import to_hex

from figure_texts import axis_texts, bands, error_bars, joined, legend_texts, point_sets, save_png
from training.experiments import cross_embodiment as ce
from training.experiments import plots, stats
from training.runlog import f1_curve_figure, plot_f1_curve

TWO = [[(100, 0.10), (200, 0.30)], [(100, 0.20), (200, 0.50)]]
THREE = TWO + [[(100, 0.15), (200, 0.40)]]


# ------------------------------------------------------------------------------ the CI rule
def test_min_seeds_for_ci_is_three_and_format_prints_seed_values_below():
    assert stats.MIN_SEEDS_FOR_CI == 3
    two = stats.mean_ci([0.1, 0.53])
    assert not two.has_ci and math.isnan(two.half_width)
    assert two.format() == "0.315 (n=2: 0.100, 0.530)"
    assert "+-" not in two.format()
    assert two.to_dict()["ci_half_width"] is None and two.to_dict()["values"] == [0.1, 0.53]
    three = stats.mean_ci([0.1, 0.53, 0.3])
    assert three.has_ci and three.format().startswith("0.310 +- ")
    assert three.format(1, percent=True).startswith("31.0% +- ")
    assert stats.mean_ci([0.25, 0.5]).format(1, percent=True) == "37.5% (n=2: 25.0%, 50.0%)"
    assert stats.mean_ci([0.4]).format() == "0.400 (n=1)"
    assert stats.mean_ci([]).format() == "n/a"


# ------------------------------------------------------------------------------ F1 curves
def test_f1_bands_no_band_with_two_seeds_band_with_three(tmp_path):
    bands2 = {"hand_a": stats.curve_band(TWO)}
    fig = plots.f1_bands_figure(bands2, title="two seeds")
    save_png(fig, tmp_path / "bands_two.png")
    ax = fig.axes[0]
    assert bands(ax) == []                                   # no CI band from two seeds
    assert len(point_sets(ax)) == 2                          # each seed's evaluations instead
    assert sum(len(p.get_offsets()) for p in point_sets(ax)) == 4
    assert legend_texts(ax) == ["hand_a (mean of n=2 seeds)"]
    assert "no CI below 3 seeds" in ax.get_title()

    fig3 = plots.f1_bands_figure({"hand_a": stats.curve_band(THREE)}, title="three seeds")
    save_png(fig3, tmp_path / "bands_three.png")
    ax3 = fig3.axes[0]
    assert len(bands(ax3)) == 1 and point_sets(ax3) == []
    assert legend_texts(ax3) == ["hand_a (mean, 95% CI, n=3)"]
    assert "no CI" not in ax3.get_title()


def test_f1_bands_axes_say_steps_and_f1(tmp_path):
    fig = plots.f1_bands_figure({"a": stats.curve_band(THREE)}, title="t")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "environment steps"
    assert ax.get_ylabel().startswith("F1") and "episode" not in ax.get_ylabel()


def test_random_policy_line_per_hand_in_the_hands_colour(tmp_path):
    per_hand = {"shadow_five": stats.curve_band(THREE), "shadow_four": stats.curve_band(TWO)}
    fig = plots.f1_bands_figure(
        per_hand, title="hands",
        arm_reference={"random": {"shadow_five": 0.12, "shadow_four": 0.08},
                       "RP1M, full budget": {"shadow_five": 0.96, "shadow_four": 0.95}})
    save_png(fig, tmp_path / "bands_random.png")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    mean_five, mean_four = lines["shadow_five (mean, 95% CI, n=3)"], lines["shadow_four (mean of n=2 seeds)"]
    five, four = lines["random, shadow_five (0.12)"], lines["random, shadow_four (0.08)"]
    assert to_hex(five.get_color()) == to_hex(mean_five.get_color())
    assert to_hex(four.get_color()) == to_hex(mean_four.get_color())
    assert to_hex(five.get_color()) != to_hex(four.get_color())
    assert five.get_linestyle() == four.get_linestyle() == "--"
    paper = lines["RP1M, full budget, shadow_five (0.96)"]
    assert paper.get_linestyle() == ":" and to_hex(paper.get_color()) == to_hex(mean_five.get_color())
    for label in lines:
        if not label.startswith("_"):
            assert label in legend_texts(ax)


def test_plot_f1_bands_writes_the_png(tmp_path):
    path = plots.plot_f1_bands({"a": stats.curve_band(TWO)}, tmp_path / "f1.png", title="t",
                               reference={"random policy": 0.1})
    assert path.read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------------------ F1 bars
def test_f1_bars_error_bar_only_from_three_seeds_and_n_on_every_bar(tmp_path):
    per_seed = {"two": [0.2, 0.4], "three": [0.3, 0.5, 0.4], "none": []}
    cis = {k: stats.mean_ci(v) for k, v in per_seed.items()}
    fig = plots.f1_bars_figure(cis, per_seed, title="final")
    save_png(fig, tmp_path / "bars.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "two\nn=2 seeds", "three\nn=3 seeds", "none\nno seed yet"]
    bars = error_bars(ax)
    assert len(bars) == 1                                     # the three-seed arm only
    (segment,) = bars[0].lines[2][0].get_segments()         # one vertical bar: at x = 1
    half = cis["three"].half_width
    assert np.ravel(segment).tolist() == pytest.approx([1, 0.4 - half, 1, 0.4 + half])
    assert sum(len(p.get_offsets()) for p in point_sets(ax)) == 5   # every seed is a dot
    assert "95% CI only from 3 seeds" in ax.get_title()

    all_three = {"a": [0.3, 0.5, 0.4]}
    fig3 = plots.f1_bars_figure({"a": stats.mean_ci(all_three["a"])}, all_three, title="f")
    assert len(error_bars(fig3.axes[0])) == 1 and "only from" not in fig3.axes[0].get_title()
    fig2 = plots.f1_bars_figure({"a": stats.mean_ci([0.3, 0.5])}, {"a": [0.3, 0.5]}, title="f")
    assert error_bars(fig2.axes[0]) == []


# ------------------------------------------------------------------------------ one run's curve
def test_run_f1_curve_x_is_environment_steps(tmp_path):
    rows = [{"step": s, "f1": f, "precision": f, "recall": f} for s, f in ((500, 0.1), (1000, 0.3))]
    fig = f1_curve_figure(rows, title="run", random_f1=0.05)
    save_png(fig, tmp_path / "curve.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "environment steps"
    assert ax.get_ylabel() == "F1, precision, recall (deterministic policy)"
    assert list(ax.get_lines()[0].get_xdata()) == [500, 1000]
    assert "evaluation episode" not in joined(fig)
    assert "random policy F1 (0.05)" in legend_texts(ax)
    assert f1_curve_figure([], title="x") is None
    assert plot_f1_curve([], tmp_path / "none.png", title="x") is None
    assert not (tmp_path / "none.png").exists()


# ------------------------------------------------------------------------------ cross-embodiment
@pytest.mark.parametrize("song, steps, applies", [
    ("/data/pig/FingeringFiles/008-1_fingering.txt:0", None, True),
    ("008-2_fingering.txt:0", 550, True),
    ("/data/pig/FingeringFiles/008-1_fingering.txt:1", None, False),   # another chunk
    ("/data/pig/FingeringFiles/008-1_fingering.txt", None, False),     # the whole piece
    ("/data/pig/FingeringFiles/008-1_fingering.txt:0", 40, False),     # a shorter episode
    ("/data/pig/FingeringFiles/001-1_fingering.txt:0", None, False),   # another piece
    ("demo_short", None, False),
    ("twinkle:0", None, False),
])
def test_paper_reference_only_for_pig_008_chunk_0(song, steps, applies):
    paper = ce.paper_reference(song, steps)
    assert paper["applies"] is applies
    assert bool(paper["paper_f1"]) is applies
    assert ("why_not_shown" in paper) is not applies
    if not applies:
        assert paper["why_not_shown"]


def _arm(values):
    from training.experiments.common import ArmResult

    ci = stats.mean_ci(values)
    return ArmResult(ci, ci, ci, tuple(values), stats.curve_band([[(10, v)] for v in values]))


def _usage():
    return ce.PooledUsage(np.array([[2, 1, 0, 0, 0], [0, 0, 0, 0, 1]]), np.array([1, 10]), 2)


def test_cross_embodiment_table_paper_column_only_beside_the_paper_piece():
    hands = ["shadow_five", "shadow_four"]
    results = {"shadow_five": _arm([0.1, 0.53]), "shadow_four": _arm([0.2, 0.3, 0.4])}
    randoms = {h: {"f1": 0.05} for h in hands}
    usage = {h: _usage() for h in hands}
    fingers = {"shadow_five": ["thumb", "index", "middle", "ring", "little"],
               "shadow_four": ["thumb", "index", "middle", "ring"]}
    other = ce.results_table(hands, results, randoms, usage, fingers,
                             ce.paper_reference("demo_short", 40))
    assert "paper F1" not in other.splitlines()[0] and "0.96" not in other.split("\nNo paper")[0]
    assert "No paper F1 column: the song 'demo_short' is not a PIG file of piece 008" in other
    assert "0.315 (n=2: 0.100, 0.530)" in other and "+- " in other   # 2 seeds vs 3 seeds
    assert "th 2 in 1 mi 0 ri 0 (of 3 pressed, 1 not)" in other    # four fingers: no "li"
    assert "th 2 in 1 mi 0 ri 0 li 0 (of 3 pressed, 1 not)" in other
    assert "th 0 in 0 mi 0 ri 0 li 1 (of 1 pressed, 10 not)" in other
    same = ce.results_table(hands, results, randoms, usage, fingers,
                            ce.paper_reference("/x/008-1_fingering.txt:0", None))
    assert same.splitlines()[0].endswith("paper F1 (RP1M, full budget) |")
    assert "| 0.96 |" in same and "| 0.95 |" in same and "No paper" not in same


def test_usage_by_hand_counts_on_every_bar_and_notes_in_the_legend(tmp_path):
    usage = {"shadow_five": _usage(),
             "shadow_four": ce.PooledUsage(np.array([[1, 0, 0, 0, 0], [0, 3, 0, 0, 0]]),
                                           np.array([2, 8]), 3),
             "broken": ce.PooledUsage(None, np.zeros(2, dtype=int), 0)}
    fig = ce.usage_by_hand_figure(usage, title="usage")
    save_png(fig, tmp_path / "usage_by_hand.png")
    left, right = fig.axes[:2]
    assert left.get_title() == "left hand" and right.get_title() == "right hand"
    assert axis_texts(right) == ["2", "1", "0", "0", "0", "1", "0", "0", "0", "0"]
    assert axis_texts(left) == ["0", "0", "0", "0", "1", "0", "3", "0", "0", "0"]
    assert legend_texts(right) == ["shadow_five: 3 of 4 notes pressed (2 seeds)",
                                   "shadow_four: 1 of 3 notes pressed (3 seeds)"]
    assert legend_texts(left)[0] == "shadow_five: 1 of 11 notes pressed (2 seeds)"
    # the legend patch has the colour of its bars
    for ax in (left, right):
        handles = ax.get_legend().legend_handles
        bars = [c for c in ax.containers]
        for handle, container in zip(handles, bars):
            assert to_hex(handle.get_facecolor()) == to_hex(container.patches[0].get_facecolor())
    assert ce.plot_usage_by_hand(usage, tmp_path / "u.png", title="u").is_file()
