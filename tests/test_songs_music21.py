"""music21 corpus: listing, the SATB-to-two-hands reduction, tempo, and bad corpus paths."""

from __future__ import annotations

import pytest

from fingering.notes import Note
from handspec.errors import InputError
from pianoenv.songs import load_song, prepare
from pianoenv.songs.music21_library import (KEYBOARD_PIECES, chorale_paths, music21_library,
                                            reduce_parts, reduce_satb)
from pianoenv.songs.summary import summarize


def voice(*pitches: int, length: float = 1.0) -> list[Note]:
    return [Note(p, i * length, (i + 1) * length) for i, p in enumerate(pitches)]


def test_library_lists_hundreds_of_scores_without_parsing():
    items = music21_library()
    names = [name for name, _ in items]
    assert len(names) == len(set(names)) >= 400 + len(KEYBOARD_PIECES)
    assert all(name.startswith("music21:") for name in names)
    chorales = chorale_paths()
    assert "bach/bwv66.6" in chorales and "bach/bwv846" not in chorales
    assert chorales.index("bach/bwv2.6") < chorales.index("bach/bwv10.7")


def test_close_spacing_keeps_the_usual_hands():
    s, a, t, b = voice(72, 71), voice(67, 67), voice(60, 59), voice(48, 55)
    notes = reduce_satb(s, a, t, b)
    hands = {(n.pitch, n.onset): n.hand for n in notes}
    assert hands == {(72, 0.0): "right", (71, 1.0): "right", (67, 0.0): "right",
                     (67, 1.0): "right", (60, 0.0): "left", (59, 1.0): "left",
                     (48, 0.0): "left", (55, 1.0): "left"}


def test_tenor_far_above_the_bass_moves_to_the_right_hand():
    # bass C2 (36), tenor E4 (64): 28 semitones apart; soprano G4/alto E4 close to it
    s, a, t, b = voice(72), voice(67), voice(64), voice(36)
    notes = {n.pitch: n.hand for n in reduce_satb(s, a, t, b)}
    assert notes == {72: "right", 67: "right", 64: "right", 36: "left"}


def test_alto_far_below_the_soprano_moves_to_the_left_hand():
    s, a, t, b = voice(84), voice(60), voice(55), voice(48)
    notes = {n.pitch: n.hand for n in reduce_satb(s, a, t, b)}
    assert notes[60] == "left" and notes[84] == "right"


def test_voice_crossing_never_crosses_the_hands():
    # the alto dips below the tenor (bwv66.6 does this): the alto note goes to the left hand
    s, a, t, b = voice(66), voice(54), voice(59), voice(50)
    notes = {n.pitch: n.hand for n in reduce_satb(s, a, t, b)}
    assert notes == {66: "right", 59: "left", 54: "left", 50: "left"}


def test_when_neither_hand_fits_the_smaller_stretch_wins():
    s, a, t, b = voice(90), voice(74), voice(60), voice(40)
    notes = {n.pitch: n.hand for n in reduce_satb(s, a, t, b)}
    assert notes[74] == "right"  # 16 from the soprano, 34 from the bass
    assert notes[60] == "left"   # 20 from the bass, but 30 from the soprano


def test_reduce_parts_rules():
    parts = [voice(72), voice(67), voice(60), voice(48)]
    _, rule = reduce_parts(parts, [None] * 4)
    assert rule == "SATB"
    notes, rule = reduce_parts([voice(48, 50), voice(72, 74)], [None, None])
    assert rule.startswith("higher parts") and {n.pitch: n.hand for n in notes} == {
        72: "right", 74: "right", 48: "left", 50: "left"}
    notes, rule = reduce_parts([voice(60)], [None])
    assert notes[0].hand == "right"
    # named voices win; a doubling instrument part is dropped
    notes, rule = reduce_parts([voice(72), voice(72), voice(67), voice(60), voice(48)],
                               [None, "S", "A", "T", "B"])
    assert rule == "SATB" and len(notes) == 4


def test_a_bach_chorale_loads_as_two_hands_at_its_tempo():
    seq = load_song("music21:bach/bwv66.6")
    assert seq.metadata["hand_rule"] == "SATB" and not seq.has_fingering
    assert {n.hand for n in seq} == {"right", "left"}
    # 36 quarter notes at the score's playback mark of 96 per quarter
    assert seq.duration == pytest.approx(36 * 60 / 96)
    summary = summarize(prepare(seq))
    assert summary.hands["right"].max_keys_down <= 4 and summary.hands["left"].max_keys_down <= 4
    assert summary.hands["right"].max_span <= 12 and summary.hands["left"].max_span <= 12
    assert summary.chunks == 2 and summary.crossing_steps == 0


def test_a_keyboard_piece_uses_its_staves():
    seq = load_song("music21:mozart/k545/movement1_exposition")
    right = [n.pitch for n in seq.for_hand("right")]
    left = [n.pitch for n in seq.for_hand("left")]
    assert right[0] == 72 and sum(right) / len(right) > sum(left) / len(left)


def test_bad_corpus_path_is_one_clear_error():
    with pytest.raises(InputError) as exc:
        load_song("music21:bach/no_such_chorale")
    assert exc.value.file == "music21:bach/no_such_chorale"
    assert exc.value.field == "corpus path" and "song list" in exc.value.message
