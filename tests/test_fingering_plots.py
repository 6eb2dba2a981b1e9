"""A fingering that leaves notes unplayed: rates over the played notes, the confusion's
"unplayed" column, usage bars with counts (figures read back after saving a PNG)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex

from figure_texts import axis_texts, joined, legend_texts, save_png
from fingering.match import (CONFUSION_COLUMNS, OTHER_HAND, UNPLAYED, finger_counts,
                             human_agreement, match_rates)
from tiny_fingerings import A, B, fingering
from fingering.plots import confusion_figure, finger_usage_figure, plot_confusion, plot_finger_usage

ROBOT = fingering([1, 2, 0, 5, 0], name="robot")   # pressed notes 0, 1, 3; not 2 and 4


# ------------------------------------------------------------------------------ match rates
def test_rates_over_played_notes_and_over_all_notes():
    m = match_rates(ROBOT, [A, B])
    assert m.notes == 5 and m.fingered == 3 and m.unfingered == 2
    # played notes 0, 1, 3: A agrees on all three, B on 0 and 3
    assert m.played.general == pytest.approx((3 / 3 + 2 / 3) / 2)
    assert m.played.highest == pytest.approx(1.0) and m.played.soft == pytest.approx(1.0)
    assert m.played.notes == 3
    # over all notes an unplayed note is a miss: 3/5 and 2/5
    assert m.overall.general == pytest.approx(0.5)
    right = m.played_per_hand["right"]
    assert right.notes == 2 and right.general == pytest.approx((1.0 + 0.5) / 2)
    assert m.played_per_hand["left"].notes == 1 and m.played_per_hand["left"].general == 1.0
    # a fingering of every note: the two agree
    full = match_rates(B, [A])
    assert full.played == full.overall and full.fingered == 5


def test_nothing_played_gives_no_rate_not_zero():
    silent = match_rates(fingering([0, 0, 0, 0, 0]), [A])
    assert silent.fingered == 0 and np.isnan(silent.played.general)
    assert silent.overall.general == 0.0
    assert silent.confusion[:, :, UNPLAYED].sum() == 5 and silent.confusion[:, :, :5].sum() == 0


def test_confusion_has_other_hand_and_unplayed_columns():
    assert CONFUSION_COLUMNS[OTHER_HAND] == "other hand" and CONFUSION_COLUMNS[UNPLAYED] == "unplayed"
    m = match_rates(ROBOT, [A, B])
    right, left = m.confusion
    assert m.confusion.shape == (2, 5, 7)
    assert m.confusion.sum() == 5 * 2                     # every (note, annotator) pair once
    assert right[0, 0] == 2 and right[1, 1] == 1 and right[2, 1] == 1   # B's middle -> index
    assert right[2, UNPLAYED] == 1 and right[3, UNPLAYED] == 1         # note 2 (A: 3, B: 4)
    assert left[4, 4] == 2 and left[3, UNPLAYED] == 1 and left[2, UNPLAYED] == 1
    crossed = fingering([1, 2, 3, 5, 4], hands=["left", "right", "right", "left", "left"])
    c = match_rates(crossed, [A]).confusion
    assert c[0, 0, OTHER_HAND] == 1 and c[0, 0, 0] == 0
    assert match_rates(crossed, [A]).hand_mismatch == 1
    # the humans' leave-one-out confusion keeps the shape
    assert human_agreement([A, B]).confusion.shape == (2, 5, 7)


def test_finger_counts_and_unplayed_per_hand():
    counts, unplayed = finger_counts([ROBOT, A])
    assert counts.tolist() == [[2, 2, 1, 0, 0], [0, 0, 0, 1, 2]]
    assert unplayed.tolist() == [1, 1]


# ------------------------------------------------------------------------------ figures
def test_confusion_figure_counts_unplayed_column_and_notes(tmp_path):
    m = match_rates(ROBOT, [A, B])
    fig = confusion_figure(m.confusion, title="conf", machine_label="robot", annotators=2)
    save_png(fig, tmp_path / "confusion.png")
    left, right = fig.axes[:2]
    assert right.get_title() == "right hand: n = 3 notes x 2 annotators, 1 unplayed"
    assert left.get_title() == "left hand: n = 2 notes x 2 annotators, 1 unplayed"
    ticks = [t.get_text() for t in right.get_xticklabels()]
    assert ticks == ["Thumb", "Index", "Middle", "Ring", "Little", "Other hand", "Unplayed"]
    cells = np.array([int(t) for t in axis_texts(right)]).reshape(5, 7)
    assert (cells == m.confusion[0]).all()                # counts in the cells
    # colour = the count, on one scale for both hands (not the row share)
    image = right.images[0]
    assert np.asarray(image.get_array()).tolist() == m.confusion[0].tolist()
    assert image.norm.vmax == left.images[0].norm.vmax == m.confusion.max()
    assert "(note, annotator) pairs (cell counts)" in joined(fig)
    one = confusion_figure(match_rates(ROBOT, [A]).confusion, annotators=1)
    assert one.axes[1].get_title() == "right hand: n = 3 notes, 1 unplayed"
    assert "notes (cell counts)" in joined(one)
    unknown = confusion_figure(m.confusion)              # e.g. summed over pieces
    assert unknown.axes[1].get_title() == "right hand: n = 6 (note, annotator) pairs, 2 of them unplayed"
    assert plot_confusion(m.confusion, tmp_path / "c.png", annotators=2).is_file()


def test_confusion_row_of_one_and_row_of_three_look_different():
    conf = np.zeros((2, 5, 7), dtype=int)
    conf[0, 0, 0] = 1   # thumb: one note
    conf[0, 1, 1] = 3   # index: three notes
    image = confusion_figure(conf, annotators=1).axes[1].images[0]
    rgba = image.to_rgba(np.asarray(image.get_array()))
    assert to_hex(rgba[0, 0]) != to_hex(rgba[1, 1])


def test_finger_usage_figure_counts_on_bars_and_played_notes_in_legend(tmp_path):
    fig = finger_usage_figure([A, B], ROBOT, title="usage", machine_label="robot")
    save_png(fig, tmp_path / "finger_usage.png")
    left, right = fig.axes[:2]
    # humans: A+B right hand = thumb 2, index 1, middle 2, ring 1; robot: thumb 1, index 1
    assert axis_texts(right) == ["2", "1", "2", "1", "0", "1", "1", "0", "0", "0"]
    assert axis_texts(left) == ["0", "0", "1", "1", "2", "0", "0", "0", "0", "1"]
    assert legend_texts(right) == ["human: 3 notes x 2 annotators",
                                   "robot: 2 of 3 notes fingered, 1 unplayed"]
    assert legend_texts(left)[1] == "robot: 1 of 2 notes fingered, 1 unplayed"
    # legend patches have the colours of their bars
    for ax in (left, right):
        for handle, bars in zip(ax.get_legend().legend_handles, ax.containers):
            assert to_hex(handle.get_facecolor()) == to_hex(bars.patches[0].get_facecolor())
    # robot right hand: one thumb of two fingered notes is a share of 0.5, not of 1/3
    robot_bars = right.containers[1]
    assert [p.get_height() for p in robot_bars.patches] == pytest.approx([0.5, 0.5, 0, 0, 0])
    one = finger_usage_figure([A], ROBOT)
    assert legend_texts(one.axes[1])[0] == "human: 3 notes"
    assert plot_finger_usage([A], ROBOT, tmp_path / "u.png").is_file()
