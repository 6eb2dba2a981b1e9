"""Built-in pieces: all load, fit the piano, and carry a fingering a human could play."""

from __future__ import annotations

import itertools

import pytest

from pianoenv.songs import builtin_names, load_song, prepare
from pianoenv.songs.builtin import line, pitch

NAMES = builtin_names()


def test_the_promised_pieces_exist():
    for name in ("c_major_scale", "c_major_scale_rh", "c_major_scale_lh", "arpeggios", "chords",
                 "twinkle", "ode_to_joy", "frere_jacques", "minuet_in_g", "demo_short"):
        assert name in NAMES


def test_pitch_names():
    assert [pitch(n) for n in ("A0", "C4", "F#5", "Bb2", "C8")] == [21, 60, 78, 46, 108]
    with pytest.raises(ValueError):
        pitch("H2")


def test_line_rests_and_chords():
    notes = line("right", [("C4", 1, 1), ("r", 1, 0), (("E4", "G4"), 2, (3, 5))], beat=0.5)
    assert [(n.pitch, n.onset, n.offset, n.finger) for n in notes] == [
        (60, 0.0, 0.5, 1), (64, 1.0, 2.0, 3), (67, 1.0, 2.0, 5)]
    with pytest.raises(ValueError):
        line("right", [(("E4", "G4"), 1, 3)], beat=0.5)


@pytest.mark.parametrize("name", NAMES)
def test_piece_is_complete_and_in_range(name):
    seq = load_song(name)
    assert seq.name == name and len(seq) >= 8
    assert seq.has_fingering  # every note has a hand and a finger
    assert all(21 <= n.pitch <= 108 and n.offset > n.onset for n in seq)
    assert seq.metadata["description"]
    goals = prepare(seq)
    assert goals.has_fingering and goals.num_chunks >= 1
    assert len(goals.notes) == len(seq)  # no same-key collisions to merge in a clean score


@pytest.mark.parametrize("name", NAMES)
def test_fingering_is_humanly_possible(name):
    """At every moment: a finger presses one key, at most five keys per hand, chord fingers
    ordered like the pitches (right hand: thumb lowest; left hand: thumb highest), and no
    hand stretches beyond a tenth."""
    seq = load_song(name)
    times = sorted({n.onset for n in seq})
    for t, hand in itertools.product(times, ("right", "left")):
        down = sorted((n.pitch, n.finger) for n in seq
                      if n.hand == hand and n.onset <= t < n.offset)
        if not down:
            continue
        fingers = [f for _, f in down]
        assert len(set(fingers)) == len(fingers) <= 5, (t, hand, down)
        expected = sorted(fingers) if hand == "right" else sorted(fingers, reverse=True)
        assert fingers == expected, (t, hand, down)
        assert down[-1][0] - down[0][0] <= 16, (t, hand, down)


@pytest.mark.parametrize("name", NAMES)
def test_hands_stay_on_their_side(name):
    """The right hand plays above the left hand at any moment (no crossing)."""
    seq = load_song(name)
    for t in sorted({n.onset for n in seq}):
        right = [n.pitch for n in seq if n.hand == "right" and n.onset <= t < n.offset]
        left = [n.pitch for n in seq if n.hand == "left" and n.onset <= t < n.offset]
        if right and left:
            assert min(right) > max(left), (name, t)


def test_scales_and_melodies_are_the_right_notes():
    rh = load_song("c_major_scale_rh")
    assert [n.pitch for n in rh] == [72, 74, 76, 77, 79, 81, 83, 84, 83, 81, 79, 77, 76, 74, 72]
    assert [n.finger for n in rh] == [1, 2, 3, 1, 2, 3, 4, 5, 4, 3, 2, 1, 3, 2, 1]
    twinkle = [n.pitch for n in load_song("twinkle").for_hand("right")]
    assert twinkle[:7] == [72, 72, 79, 79, 81, 81, 79] and len(twinkle) == 42
    ode = [n.pitch for n in load_song("ode_to_joy").for_hand("right")]
    assert ode[:4] == [76, 76, 77, 79]
    chords = load_song("chords")
    first = sorted(n.pitch for n in chords if n.onset == 0)
    assert first == [48, 55, 72, 76, 79]  # C3 G3 | C5 E5 G5


def test_demo_short_is_short():
    goals = prepare(load_song("demo_short"))
    assert 5.0 <= goals.duration <= 8.0
    assert {n.hand for n in goals.notes} == {"right", "left"}


def test_tempo_is_robot_friendly():
    """No built-in note is shorter than 0.25 s before the stretch (5 control steps)."""
    for name in NAMES:
        assert min(n.duration for n in load_song(name)) >= 0.25 - 1e-9, name
