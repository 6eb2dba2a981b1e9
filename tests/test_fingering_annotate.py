"""The offline annotator: reach, movement, hands, four-finger hands."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fingering import keyboard
from fingering.annotate import assign_hands, finger_numbers, generic_reach, suggest_fingering
from fingering.notes import Note, NoteSequence
from handspec.reach import FingerReach

C4 = 60
C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def melody(pitches, hand="right", dt=0.25, dur=0.2) -> NoteSequence:
    return NoteSequence.from_notes(
        Note(p, i * dt, i * dt + dur, 64, hand) for i, p in enumerate(pitches))


def fingers(seq: NoteSequence) -> list[int]:
    return [n.finger for n in seq.notes]


def y(pitch: int) -> float:
    return float(keyboard.key_press_points()[pitch - 21, 1])


def test_five_finger_position_uses_one_finger_per_key():
    out = suggest_fingering(melody([60, 62, 64, 65, 67]), generic_reach())
    assert fingers(out) == [1, 2, 3, 4, 5]
    down = suggest_fingering(melody([67, 65, 64, 62, 60]), generic_reach())
    assert fingers(down) == [5, 4, 3, 2, 1]


def test_left_hand_is_mirrored():
    out = suggest_fingering(melody([48, 50, 52, 53, 55], hand="left"), generic_reach())
    assert fingers(out) == [5, 4, 3, 2, 1]
    assert all(n.hand == "left" for n in out.notes)


def test_scale_beyond_five_keys_crosses_once_and_keeps_notes():
    seq = melody(C_MAJOR)
    out = suggest_fingering(seq, generic_reach())
    f = fingers(out)
    assert len(f) == 8 and all(1 <= x <= 5 for x in f)
    # consecutive notes never reuse a finger on a different key
    assert all(a != b for a, b in zip(f, f[1:]))
    assert [(n.pitch, n.onset) for n in out.notes] == [(n.pitch, n.onset) for n in seq.notes]


def test_chords_respect_finger_order_and_span():
    reach = generic_reach()
    chords = [(60, 64, 67), (62, 65, 69), (60, 67, 72)]
    notes = [Note(p, i * 1.0, i * 1.0 + 0.9, 64, "right") for i, c in enumerate(chords) for p in c]
    out = suggest_fingering(NoteSequence.from_notes(notes), reach)
    for t in range(3):
        chord = sorted((n for n in out.notes if n.onset == t), key=lambda n: n.pitch)
        f = [n.finger for n in chord]
        assert f == sorted(f) and len(set(f)) == 3
        idx = [x - 1 for x in f]
        for a in range(3):
            for b in range(a + 1, 3):
                gap = abs(y(chord[b].pitch) - y(chord[a].pitch))
                assert gap <= reach.max_span[idx[a], idx[b]] + 1e-9


def test_held_note_finger_is_not_reused():
    # C4 held by the thumb while a melody moves above it
    notes = [Note(60, 0.0, 2.0, 64, "right")] + [
        Note(p, 0.25 * (i + 1), 0.25 * (i + 1) + 0.2, 64, "right")
        for i, p in enumerate([64, 65, 67, 65, 64])]
    out = suggest_fingering(NoteSequence.from_notes(notes), generic_reach())
    held = next(n for n in out.notes if n.pitch == 60)
    assert all(n.finger != held.finger for n in out.notes if n.pitch != 60)


def test_four_finger_hand_uses_its_finger_names():
    base = generic_reach()
    four = FingerReach("four", base.fingers[:4], base.rest_tips[:4], base.max_span[:4, :4])
    assert finger_numbers(four) == (1, 2, 3, 4)
    out = suggest_fingering(melody([60, 62, 64, 65, 67, 69]), four)
    assert set(fingers(out)) <= {1, 2, 3, 4}


def test_too_many_notes_for_one_hand_are_reported():
    chord = [Note(p, 0.0, 1.0, 64, "right") for p in (60, 62, 64, 65, 67, 69, 71)]
    out = suggest_fingering(NoteSequence.from_notes(chord), generic_reach())
    assert out.metadata["unfingered"] == 2
    assert sum(1 for n in out.notes if n.fingers) == 5


def test_assign_hands_splits_low_and_high():
    notes = [Note(36 + (i % 3) * 2, i * 0.5, i * 0.5 + 0.4) for i in range(6)]
    notes += [Note(72 + (i % 3) * 2, i * 0.5, i * 0.5 + 0.4) for i in range(6)]
    seq = NoteSequence.from_notes(notes)
    hands = assign_hands(seq, generic_reach())
    for n, h in zip(seq.notes, hands):
        assert h == ("left" if n.pitch < 60 else "right")
    out = suggest_fingering(seq, generic_reach(), respect_hands=False)
    assert out.has_fingering


def test_empty_song():
    out = suggest_fingering(NoteSequence.from_notes([]), generic_reach())
    assert len(out) == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(36, 84), st.integers(0, 40), st.integers(1, 8)),
                min_size=1, max_size=40),
       st.booleans())
def test_every_note_gets_a_valid_hand_and_finger(raw, keep_hands):
    notes = [Note(p, 0.125 * t, 0.125 * (t + d), 64, "right" if p >= 60 else "left")
             for p, t, d in raw]
    seq = NoteSequence.from_notes(notes)
    out = suggest_fingering(seq, generic_reach(), respect_hands=keep_hands)
    assert len(out) == len(seq)
    for n in out.notes:
        assert n.hand in ("right", "left")
    by_group: dict[tuple[str, float], list[int]] = {}
    for n in out.notes:
        if n.fingers:
            assert 1 <= n.finger <= 5
            by_group.setdefault((n.hand, n.onset), []).append(n.finger)
    # within one onset a hand never uses a finger twice
    for group in by_group.values():
        assert len(group) == len(set(group))
    if keep_hands:
        assert [n.hand for n in out.notes] == [n.hand for n in seq.notes]


def test_shadow_hand_reach_if_available():
    handspec = pytest.importorskip("handspec")
    try:
        reach = handspec.finger_reach(handspec.load_hand("shadow_five"))
    except Exception as exc:  # pragma: no cover - model build unavailable
        pytest.skip(f"shadow_five unavailable: {exc}")
    out = suggest_fingering(melody(C_MAJOR), reach)
    assert out.has_fingering and np.isfinite(out.metadata["fingering_cost"]["right"])


# ---------------------------------------------------------------- v2: sequential biomechanics

from dataclasses import replace as _replace  # noqa: E402

import itertools  # noqa: E402

from fingering.annotate import (COST_MODELS, DEFAULT_MODEL, AnnotatorConfig,  # noqa: E402
                                _Geometry, cost_model, fingering_cost)
from fingering.match import crossings_without_thumb  # noqa: E402

TWO_OCTAVES = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79, 81, 83, 84]


def scaled(reach: FingerReach, factor: float) -> FingerReach:
    return FingerReach(f"{reach.hand}x{factor}", reach.fingers, reach.rest_tips * factor,
                       reach.max_span * factor)


def test_models_are_named_and_travel_is_v1():
    assert DEFAULT_MODEL == "biomech" and set(COST_MODELS) == {"travel", "biomech"}
    assert cost_model("travel") == AnnotatorConfig()  # v1 weights, biomechanics off
    assert not cost_model("travel").sequential and cost_model("biomech").sequential
    with pytest.raises(ValueError, match="unknown cost model"):
        cost_model("nope")
    seq = melody(TWO_OCTAVES + TWO_OCTAVES[::-1][1:])
    assert fingers(suggest_fingering(seq, generic_reach(), model="travel")) == \
        fingers(suggest_fingering(seq, generic_reach(), config=AnnotatorConfig()))


@pytest.mark.parametrize("hand", ["right", "left"])
def test_scales_pass_the_thumb_instead_of_crossing_fingers(hand):
    pitches = TWO_OCTAVES + TWO_OCTAVES[::-1][1:]
    seq = melody(pitches if hand == "right" else [p - 24 for p in pitches], hand=hand)
    old = suggest_fingering(seq, generic_reach(), model="travel")
    new = suggest_fingering(seq, generic_reach())
    assert crossings_without_thumb(old)[0] >= 5       # v1: 5-4-5-4 style crossings
    assert crossings_without_thumb(new) == (0, len(seq) - 1)
    f = fingers(new)
    assert f.count(1) >= 4                            # the thumb passes under, repeatedly
    # no thumb passing under the little finger (5 -> 1 going up, right hand)
    up = 1 if hand == "right" else -1
    for (a, pa), (b, pb) in zip(zip(f, seq.notes), zip(f[1:], seq.notes[1:])):
        if a == 5 and b == 1:
            assert (pb.pitch - pa.pitch) * up < 0


def test_comfortable_spans_come_from_the_hand():
    cfg = cost_model("biomech")
    base, big = _Geometry.of(generic_reach(), cfg), _Geometry.of(scaled(generic_reach(), 2), cfg)
    np.testing.assert_allclose(big.band_hi, 2 * base.band_hi)
    np.testing.assert_allclose(big.band_lo, 2 * base.band_lo)
    np.testing.assert_allclose(big.cross_reach, 2 * base.cross_reach)
    assert (base.band_hi >= base.band_lo).all()
    # a crossing is allowed only with the thumb, and not under the outermost finger
    thumb, little = 0, 4
    assert base.cross_reach[thumb, 1] > base.cross_reach[thumb, 2] > base.cross_reach[thumb, 3] > 0
    assert base.cross_reach[thumb, little] == 0 and base.cross_reach[1, 2] == 0


def test_a_bigger_hand_stretches_more_cheaply():
    # Octave leaps C4 <-> C5: thumb and little finger, and a hand twice as wide pays less
    # for the same fingering than a hand half as wide (spans are relative to the hand).
    seq = melody([60, 72] * 4, dt=0.15, dur=0.12)
    cfg = cost_model("biomech")
    wide = suggest_fingering(seq, scaled(generic_reach(), 1.2))
    assert set(fingers(wide)) == {1, 5}
    assert fingering_cost(wide, scaled(generic_reach(), 1.2), cfg) < \
        fingering_cost(wide, scaled(generic_reach(), 0.6), cfg)


def test_thumb_avoids_black_keys_between_white_ones():
    seq = melody([64, 66, 68, 69, 71])  # E F# G# A B: the thumb belongs on E or A
    f = fingers(suggest_fingering(seq, generic_reach()))
    assert f[1] != 1 and f[2] != 1


def test_four_finger_overflow_is_counted_or_lent():
    base = generic_reach()
    four = FingerReach("four", base.fingers[:4], base.rest_tips[:4], base.max_span[:4, :4])
    chord = [Note(p, 1.0, 2.0, 64, "right") for p in (60, 64, 67, 72, 76)]
    busy = [Note(48, 0.5, 2.5, 64, "left")]
    free = [Note(48, 0.0, 0.5, 64, "left")]
    kept = suggest_fingering(NoteSequence.from_notes(chord + busy), four, lend_overflow=True)
    assert kept.metadata["unfingered"] == 1 and kept.metadata["lent"] == 0
    lent = suggest_fingering(NoteSequence.from_notes(chord + free), four, lend_overflow=True)
    assert lent.metadata["unfingered"] == 0 and lent.metadata["lent"] == 1
    moved = [n for n in lent.notes if n.onset == 1.0 and n.hand == "left"]
    assert len(moved) == 1 and moved[0].fingers
    # hands given and not re-assigned: nothing moves unless asked
    stay = suggest_fingering(NoteSequence.from_notes(chord + free), four)
    assert stay.metadata["unfingered"] == 1 and stay.metadata["lent"] == 0
    assert [n.hand for n in stay.notes] == [n.hand for n in NoteSequence.from_notes(chord + free)]


def test_output_keeps_the_input_order():
    notes = [Note(67, 0.5, 0.7, 64, "right"), Note(60, 0.0, 0.2, 64, "right"),
             Note(48, 0.25, 0.4, 64, "left"), Note(64, 0.25, 0.45, 64, "right")]
    seq = NoteSequence(tuple(notes))  # deliberately not sorted
    out = suggest_fingering(seq, generic_reach())
    assert [(n.pitch, n.onset, n.offset, n.hand) for n in out.notes] == \
           [(n.pitch, n.onset, n.offset, n.hand) for n in notes]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(55, 80), st.sampled_from([0.1, 0.2, 0.4])),
                min_size=1, max_size=3),
       st.sampled_from(["biomech", "travel"]))
def test_viterbi_is_exact_against_brute_force(raw, model):
    t, notes = 0.0, []
    for pitch, dur in raw:
        notes.append(Note(pitch, t, t + dur, 64, "right"))
        t += dur
    seq, reach, cfg = NoteSequence(tuple(notes)), generic_reach(), cost_model(model)
    out = suggest_fingering(seq, reach, config=cfg)
    best = fingering_cost(out, reach, cfg)
    assert best == pytest.approx(out.metadata["fingering_cost"]["right"])
    every = [fingering_cost(NoteSequence(tuple(_replace(n, fingers=(f,)) for n, f in
                                               zip(notes, combo))), reach, cfg)
             for combo in itertools.product(range(1, 6), repeat=len(notes))]
    assert best <= min(every) + 1e-9


def test_fingering_cost_scores_any_fingering():
    seq = melody(TWO_OCTAVES)
    out = suggest_fingering(seq, generic_reach())
    cfg = cost_model("biomech")
    crossed = NoteSequence(tuple(_replace(n, fingers=(f,)) for n, f in
                                 zip(seq.notes, [1, 2, 3, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5])))
    assert fingering_cost(out, generic_reach(), cfg) < fingering_cost(crossed, generic_reach(), cfg)
    with pytest.raises(ValueError, match="finger"):
        fingering_cost(seq, generic_reach(), cfg)  # no fingers to score


def _thumb_passes(seq: NoteSequence) -> list[int]:
    """The finger each thumb-under comes from (right hand, ascending)."""
    f = fingers(seq)
    return [a for (a, pa), (b, pb) in zip(zip(f, seq.notes), zip(f[1:], seq.notes[1:]))
            if b == 1 and a != 1 and pb.pitch > pa.pitch]


@pytest.mark.parametrize("hand", ["generic", "shadow_five"])
def test_a_human_like_hand_passes_the_thumb_after_the_middle_or_ring_finger(hand):
    if hand == "generic":
        reach = generic_reach()
    else:
        pytest.importorskip("mujoco")
        from handspec import finger_reach, load_hand

        reach = finger_reach(load_hand(hand))
    out = suggest_fingering(melody(TWO_OCTAVES), reach)
    passes = _thumb_passes(out)
    assert 2 <= len(passes) <= 3 and set(passes) <= {3, 4}   # 123 1234 ... not 1-2-1-2
    assert fingers(out)[0] == 1 and fingers(out)[-1] in (4, 5)
