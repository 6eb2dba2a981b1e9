"""Match rates (Nakamura et al. 2020), confusion matrices and plots."""

from __future__ import annotations

import numpy as np
import pytest

from fingering.match import align, finger_usage, human_agreement, match_rates, summarize
from fingering.notes import Note, NoteSequence
from tiny_fingerings import A, B, fingering
from fingering.plots import plot_confusion, plot_finger_usage, plot_piano_roll



def test_hand_checked_rates():
    est = fingering([1, 2, 4, 5, 1])
    m = match_rates(est, [A, B])
    # vs A: notes 0,1,3 match -> 3/5; vs B: notes 0,2,3 -> 3/5
    assert m.per_annotator == pytest.approx((0.6, 0.6))
    assert m.overall.general == pytest.approx(0.6) and m.overall.highest == pytest.approx(0.6)
    # soft: 0 (both), 1 (A), 2 (B), 3 (both) match; 4 neither -> 4/5
    assert m.overall.soft == pytest.approx(0.8)
    right, left = m.per_hand["right"], m.per_hand["left"]
    assert right.general == pytest.approx(2 / 3) and right.soft == pytest.approx(1.0)
    assert left.general == pytest.approx(0.5) and left.soft == pytest.approx(0.5)
    assert right.notes == 3 and left.notes == 2


def test_identical_fingering_scores_one_and_wrong_hand_never_matches():
    m = match_rates(A, [A])
    assert (m.overall.general, m.overall.highest, m.overall.soft) == (1.0, 1.0, 1.0)
    swapped = fingering([1, 2, 3, 5, 4], hands=["left"] * 5)
    m2 = match_rates(swapped, [A])
    assert m2.overall.general == pytest.approx(2 / 5)  # only the two left-hand notes
    assert m2.hand_mismatch == 3


def test_missing_fingers_and_unaligned_notes_count_as_misses():
    est = fingering([0, 2, 3, 5, 4])
    m = match_rates(est, [A])
    assert m.overall.general == pytest.approx(0.8) and m.unfingered == 1
    partial = NoteSequence.from_notes(list(A.notes)[:3])
    assert match_rates(partial, [A]).overall.general == pytest.approx(0.6)
    assert align(partial, A).tolist() == [0, 1, 2, -1, -1]


def test_align_handles_order_and_duplicates():
    notes = [Note(60, 0.0, 1.0, 64, "right", (1,)), Note(60, 0.0, 0.5, 64, "right", (2,)),
             Note(64, 1.0, 2.0, 64, "right", (3,))]
    ref = NoteSequence.from_notes(notes)
    est = NoteSequence(tuple(reversed(ref.notes)))
    idx = align(est, ref)
    assert sorted(idx.tolist()) == [0, 1, 2]
    assert [est.notes[i].pitch for i in idx] == [n.pitch for n in ref.notes]


def test_confusion_matrix_counts():
    est = fingering([2, 2, 3, 5, 4])
    m = match_rates(est, [A])
    right = m.confusion[0]
    assert right[0, 1] == 1 and right[1, 1] == 1 and right[2, 2] == 1
    assert m.confusion.sum() == 5 and np.trace(m.confusion[1]) == 2


def test_annotators_with_different_notes_are_rejected():
    other = NoteSequence.from_notes([Note(61, 0.0, 1.0, 64, "right", (1,))])
    with pytest.raises(ValueError, match="note list"):
        match_rates(A, [A, other])
    with pytest.raises(ValueError, match="at least one"):
        match_rates(A, [])


def test_human_agreement_and_summary():
    assert human_agreement([A]) is None
    h = human_agreement([A, B])
    # A vs B agree on notes 0 and 3 -> 2/5 both ways
    assert h.overall.general == pytest.approx(0.4)
    s = summarize([match_rates(A, [A]), match_rates(B, [A])])
    assert s["general"] == pytest.approx((1.0 + 0.4) / 2) and s["notes"] == 10


def test_finger_usage_shares():
    usage = finger_usage([A])
    assert usage[0].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0, 0])
    assert usage[1].tolist() == pytest.approx([0, 0, 0, 0.5, 0.5])


def test_plots_write_readable_pngs(tmp_path):
    m = match_rates(B, [A])
    paths = [plot_finger_usage([A], B, tmp_path / "usage.png"),
             plot_piano_roll(A, B, tmp_path / "sub" / "roll.png"),
             plot_confusion(m.confusion, tmp_path / "conf.png")]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert not list(tmp_path.glob("**/.*.png"))  # no temp files left


def _seq(rows, hand="right"):
    from fingering.notes import Note

    return NoteSequence.from_notes(Note(p, i * 0.25, i * 0.25 + 0.2, 64, hand, (f,))
                                   for i, (p, f) in enumerate(rows))


def test_crossings_without_thumb_counts_only_non_thumb_crossings():
    from fingering.match import crossings_without_thumb

    # right hand: 5-4 going up and 3-4 going down cross; 3-1 up / 1-3 down are thumb passing
    assert crossings_without_thumb(_seq([(60, 5), (62, 4)])) == (1, 1)
    assert crossings_without_thumb(_seq([(64, 3), (62, 4)])) == (1, 1)
    assert crossings_without_thumb(_seq([(64, 3), (65, 1), (64, 3)])) == (0, 2)
    assert crossings_without_thumb(_seq([(60, 1), (62, 2), (64, 3)])) == (0, 2)
    assert crossings_without_thumb(_seq([(60, 2), (60, 3)])) == (0, 1)   # same key
    # left hand mirrored: 2-3 going up crosses, 3-2 going up does not
    assert crossings_without_thumb(_seq([(48, 2), (50, 3)], "left")) == (1, 1)
    assert crossings_without_thumb(_seq([(48, 3), (50, 2)], "left")) == (0, 1)


def test_crossings_skip_chords_and_unfingered_notes():
    from fingering.match import crossings_without_thumb
    from fingering.notes import Note

    chord = [Note(60, 0.0, 0.2, 64, "right", (1,)), Note(64, 0.01, 0.2, 64, "right", (3,))]
    after = [Note(62, 0.25, 0.4, 64, "right", (5,)), Note(60, 0.5, 0.6, 64, "right", ()),
             Note(59, 0.75, 0.9, 64, "right", (4,)), Note(57, 1.0, 1.1, 64, "right", (5,))]
    # pairs: (62,5)-(60,none) skipped, (60,none)-(59,4) skipped, (59,4)-(57,5): crossing
    assert crossings_without_thumb(NoteSequence.from_notes(chord + after)) == (1, 1)
