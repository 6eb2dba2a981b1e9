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
