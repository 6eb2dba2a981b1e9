"""``prepare``: per-step goals, re-strike rule, trimming, stretch, chunks and windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fingering.notes import Note, NoteSequence
from handspec.errors import InputError
from pianoenv.songs import CHUNK_LENGTH, SongGoals, load_goals, parse_song_spec, prepare
from pianoenv.songs.goals import time_to_step

DT = 0.05


def seq_of(*notes: Note, sustain=()) -> NoteSequence:
    return NoteSequence.from_notes(notes, name="test", sustain=sustain)


def raw(goals: SongGoals, key: int) -> list[int]:
    return goals.keys[:, key].astype(int).tolist()


# --- explicit cases -----------------------------------------------------------------------

def test_note_active_from_round_onset_to_round_offset_minus_one():
    goals = prepare(seq_of(Note(60, 0.0, 0.2), Note(64, 0.1, 0.3)), stretch=1.0)
    assert goals.num_steps == 6
    assert raw(goals, 60 - 21) == [1, 1, 1, 1, 0, 0]
    assert raw(goals, 64 - 21) == [0, 0, 1, 1, 1, 1]
    assert goals.onsets[0, 39] and goals.onsets[2, 43] and goals.onsets.sum() == 2


def test_stretch_and_trim_leading_silence():
    goals = prepare(seq_of(Note(60, 2.0, 2.4)), stretch=1.25)
    assert goals.num_steps == 10  # 0.4 s * 1.25 = 0.5 s = 10 steps, silence gone
    assert goals.notes.notes[0].onset == 0.0 and goals.notes.notes[0].offset == pytest.approx(0.5)
    untrimmed = prepare(seq_of(Note(60, 2.0, 2.4)), stretch=1.0, trim_silence=False)
    assert untrimmed.num_steps == 48 and not untrimmed.keys[:40].any()


def test_very_short_note_gets_one_step():
    goals = prepare(seq_of(Note(60, 0.0, 0.001)), stretch=1.0)
    assert goals.num_steps == 1 and goals.keys[0, 39]


def test_restruck_key_releases_for_one_step_before_the_next_onset():
    # legato repeated notes: C4 C4 C4, each 0.25 s -> 5 steps each
    notes = [Note(60, i * 0.25, (i + 1) * 0.25) for i in range(3)]
    goals = prepare(seq_of(*notes), stretch=1.0)
    assert raw(goals, 39) == [1, 1, 1, 1, 0] * 2 + [1, 1, 1, 1, 1]
    assert goals.onsets[:, 39].nonzero()[0].tolist() == [0, 5, 10]
    assert goals.note_steps.tolist() == [[0, 4], [5, 9], [10, 15]]


def test_restrike_after_one_step_note_delays_the_longer_next_note():
    goals = prepare(seq_of(Note(60, 0.0, 0.05), Note(60, 0.05, 0.25)), stretch=1.0)
    assert raw(goals, 39) == [1, 0, 1, 1, 1]
    assert goals.note_steps.tolist() == [[0, 1], [2, 5]]


def test_two_back_to_back_one_step_notes_stay_contiguous_but_onsets_show_both():
    goals = prepare(seq_of(Note(60, 0.0, 0.05), Note(60, 0.05, 0.1)), stretch=1.0)
    assert raw(goals, 39) == [1, 1]
    assert goals.onsets[:, 39].tolist() == [True, True]


def test_duplicate_notes_merge_and_overlaps_cut_the_earlier_note():
    dup = prepare(seq_of(Note(60, 0.0, 0.1), Note(60, 0.0, 0.3)), stretch=1.0)
    assert len(dup.notes) == 1 and raw(dup, 39) == [1] * 6
    inner = prepare(seq_of(Note(60, 0.0, 1.0), Note(60, 0.3, 0.4)), stretch=1.0)
    assert inner.note_steps.tolist() == [[0, 5], [6, 8]]
    assert inner.num_steps == 8  # the rest of the long note is gone: the key was re-struck


def test_fingers_follow_robopianist_numbering():
    goals = prepare(seq_of(Note(60, 0, 0.1, hand="right", fingers=(1,)),
                           Note(48, 0, 0.1, hand="left", fingers=(5,)),
                           Note(72, 0, 0.1, hand="right", fingers=(5, 4)),
                           Note(76, 0, 0.1, hand="right")), stretch=1.0)
    assert goals.fingers[0, 60 - 21] == 0 and goals.fingers[0, 48 - 21] == 9
    assert goals.fingers[0, 72 - 21] == 4  # first finger of a substitution presses
    assert goals.fingers[0, 76 - 21] == -1 and not goals.has_fingering
    assert (goals.fingers[~goals.keys] == -1).all()


def test_sustain_steps_and_trim_after_last_note():
    seq = seq_of(Note(60, 1.0, 2.0), sustain=[(0.5, 1.5), (1.8, 5.0)])
    goals = prepare(seq, stretch=1.0)
    assert goals.num_steps == 20
    assert goals.sustain.nonzero()[0].tolist() == list(range(0, 10)) + list(range(16, 20))
    assert goals.notes.sustain == ((0.0, 0.5), (pytest.approx(0.8), 1.0))


def test_bad_arguments_raise_input_error():
    with pytest.raises(InputError, match="no notes") as exc:
        prepare(seq_of())
    assert exc.value.field == "notes"
    with pytest.raises(InputError) as exc:
        prepare(seq_of(Note(60, 0, 1)), stretch=0)
    assert exc.value.field == "stretch"
    with pytest.raises(InputError) as exc:
        prepare(seq_of(Note(20, 0, 1)))
    assert exc.value.field == "pitch"


def test_arrays_are_read_only():
    goals = prepare(seq_of(Note(60, 0, 1)))
    for array in (goals.keys, goals.onsets, goals.fingers, goals.sustain, goals.note_steps):
        with pytest.raises(ValueError):
            array[0] = 0


def test_chunks_of_a_long_song_and_spec_round_trip():
    notes = [Note(60 + (i % 5), i * 0.2, i * 0.2 + 0.15, hand="right", fingers=(1 + i % 5,))
             for i in range(200)]  # last offset 39.95 s * 1.25 / 0.05 = 998.75 -> 999
    goals = prepare(seq_of(*notes))
    assert goals.num_steps == 999 and goals.num_chunks == 2
    first, second = goals.chunk(0), goals.chunk(1)
    assert len(first) == CHUNK_LENGTH and len(second) == goals.num_steps - CHUNK_LENGTH
    assert second.start_step == CHUNK_LENGTH and second.name == "test:1"
    assert second.notes.notes[0].onset >= 0
    assert len(first.notes) + len(second.notes) == len(goals.notes)
    np.testing.assert_array_equal(np.concatenate([first.keys, second.keys]), goals.keys)
    with pytest.raises(InputError, match="out of range") as exc:
        goals.chunk(2)
    assert exc.value.field == "chunk" and exc.value.file == "test"


def test_load_goals_names_the_song_as_typed_in_chunk_errors():
    assert load_goals("twinkle:1").name == "twinkle:1"
    with pytest.raises(InputError) as exc:
        load_goals("twinkle:9")
    assert exc.value.file == "twinkle" and "2 chunks" in exc.value.message


def test_window_pads_with_zeros_past_the_end():
    goals = prepare(seq_of(Note(60, 0, 0.2), sustain=[(0, 0.2)]), stretch=1.0)
    keys, sustain = goals.window(0)
    assert keys.shape == (11, 88) and sustain.shape == (11,)
    assert keys[:4, 39].all() and not keys[4:].any() and sustain[:4].all()
    keys, sustain = goals.window(100)
    assert not keys.any() and not sustain.any()


@pytest.mark.parametrize("spec, expected", [
    ("twinkle", ("twinkle", None)), ("twinkle:3", ("twinkle", 3)),
    ("music21:bach/bwv66.6", ("music21:bach/bwv66.6", None)),
    ("music21:bach/bwv66.6:2", ("music21:bach/bwv66.6", 2)),
    ("dir/song.mid:0", ("dir/song.mid", 0)),
])
def test_parse_song_spec(spec, expected):
    assert parse_song_spec(spec) == expected


def test_parse_song_spec_errors():
    with pytest.raises(InputError) as exc:
        parse_song_spec("twinkle:-1")
    assert exc.value.field == "chunk"
    with pytest.raises(InputError):
        parse_song_spec("  ")


@given(st.text(alphabet=st.characters(blacklist_characters=":", blacklist_categories=("Cs",)),
               min_size=1).filter(lambda s: s.strip() == s), st.integers(0, 10_000))
def test_parse_song_spec_round_trips(name, chunk):
    assert parse_song_spec(f"{name}:{chunk}") == (name, chunk)
    assert parse_song_spec(name) == (name, None)


# --- properties ---------------------------------------------------------------------------

@st.composite
def note_sequences(draw, max_notes: int = 40) -> NoteSequence:
    n = draw(st.integers(1, max_notes))
    notes = []
    for _ in range(n):
        onset = draw(st.floats(0, 20, allow_nan=False, allow_infinity=False))
        duration = draw(st.floats(0, 3, allow_nan=False, allow_infinity=False))
        pitch = draw(st.integers(21, 108)) if draw(st.booleans()) else draw(st.integers(58, 62))
        hand = draw(st.sampled_from(["right", "left", None]))
        fingers = (draw(st.integers(1, 5)),) if hand and draw(st.booleans()) else ()
        notes.append(Note(pitch, onset, onset + duration, 64, hand, fingers))
    pedal = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.floats(0, 20, allow_nan=False))
        pedal.append((start, start + draw(st.floats(0.01, 5, allow_nan=False))))
    return NoteSequence.from_notes(notes, name="prop", sustain=pedal)


settings_ = settings(max_examples=80, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


@settings_
@given(note_sequences(), st.sampled_from([0.02, 0.05, 0.1]), st.sampled_from([1.0, 1.25, 2.0]))
def test_prepare_properties(seq, dt, stretch):
    goals = prepare(seq, control_timestep=dt, stretch=stretch)
    first = min(n.onset for n in seq.notes)
    last = max(n.offset for n in seq.notes)
    # T is where the last note (or pedal) ends; it matches the stretched, trimmed duration to
    # within rounding (half a step) plus the one-step minimum note length, unless a
    # re-strike cut a long note's tail
    steps = (last - first) * stretch / dt
    pedal_end = max((int(time_to_step(e, dt)) for _, e in goals.notes.sustain), default=0)
    assert goals.num_steps == max(int(goals.note_steps[:, 1].max()), pedal_end)
    assert goals.num_steps <= steps + 1.5 + 1e-6
    by_key = {}
    for n in seq.notes:
        by_key.setdefault(n.key, []).append(n)
    if all(a.offset <= b.onset or b.offset <= a.onset
           for notes in by_key.values() for i, a in enumerate(notes) for b in notes[i + 1:]):
        assert steps - 0.5 - 1e-6 <= goals.num_steps <= steps + 1.5 + 1e-6
    assert goals.keys.shape == goals.onsets.shape == goals.fingers.shape == (goals.num_steps, 88)
    assert goals.sustain.shape == (goals.num_steps,)
    # every kept note: its onset step is active and flagged, within one step of round(onset/dt)
    for note, (start, end) in zip(goals.notes.notes, goals.note_steps):
        assert end > start and goals.keys[start:end, note.key].all()
        assert goals.onsets[start, note.key]
        assert abs(start - int(time_to_step(note.onset, dt))) <= 1
    # keys are exactly the union of the note spans; onsets exactly their starts
    rebuilt = np.zeros_like(goals.keys)
    starts = np.zeros_like(goals.onsets)
    for note, (start, end) in zip(goals.notes.notes, goals.note_steps):
        rebuilt[start:end, note.key] = True
        starts[start, note.key] = True
    np.testing.assert_array_equal(rebuilt, goals.keys)
    np.testing.assert_array_equal(starts, goals.onsets)
    # a re-struck key is released in between, unless both notes are single steps
    spans_by_key = {}
    for n, span in zip(goals.notes.notes, goals.note_steps):
        spans_by_key.setdefault(n.key, []).append(tuple(span))
    for spans in spans_by_key.values():
        spans.sort()
        for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
            assert e0 <= s1
            assert e0 < s1 or (e0 - s0 == 1 and e1 - s1 == 1)
    # notes only disappear when they merge with a same-key note struck on the same step
    assert len(goals.notes) <= len(seq.notes)
    assert (goals.fingers[~goals.keys] == -1).all()


@settings_
@given(note_sequences(), st.integers(1, 700))
def test_chunks_cover_the_song_exactly(seq, length):
    goals = prepare(seq)
    count = goals.chunk_count(length)
    assert count == max(1, math.ceil(goals.num_steps / length))
    chunks = [goals.chunk(i, length) for i in range(count)]
    assert sum(len(c) for c in chunks) == goals.num_steps
    for name in ("keys", "onsets", "fingers", "sustain"):
        np.testing.assert_array_equal(np.concatenate([getattr(c, name) for c in chunks]),
                                      getattr(goals, name))
    assert sum(len(c.notes) for c in chunks) == len(goals.notes)
    assert [c.start_step for c in chunks] == [i * length for i in range(count)]
    for c in chunks:
        assert len(c) <= length
        for note, (start, end) in zip(c.notes.notes, c.note_steps):
            assert c.onsets[start, note.key] and 0 <= note.onset < len(c) * c.control_timestep


@settings_
@given(note_sequences(max_notes=10), st.integers(0, 400), st.integers(0, 15))
def test_window_equals_padded_slice(seq, t, lookahead):
    goals = prepare(seq)
    keys, sustain = goals.window(t, lookahead)
    assert keys.shape == (lookahead + 1, 88) and sustain.shape == (lookahead + 1,)
    padded = np.concatenate([goals.keys, np.zeros((t + lookahead + 1, 88), bool)])
    padded_sustain = np.concatenate([goals.sustain, np.zeros(t + lookahead + 1, bool)])
    np.testing.assert_array_equal(keys, padded[t:t + lookahead + 1])
    np.testing.assert_array_equal(sustain, padded_sustain[t:t + lookahead + 1])
