"""MIDI loading and writing: round trips, hands, sustain pedal, bad files, pitch range."""

from __future__ import annotations

from pathlib import Path

import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fingering.notes import Note, NoteSequence
from handspec.errors import InputError
from pianoenv.songs import load_song, prepare
from pianoenv.songs.midi import read_midi, write_midi

TICK = 1 / 440  # pretty_midi default resolution: 220 ticks per beat at 120 qpm
_HYP = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def write_pm(path: Path, tracks: list[tuple[str, list[tuple[int, float, float]]]],
             pedal: list[tuple[float, int]] = ()) -> Path:
    """A MIDI file with one instrument per (name, [(pitch, start, end)]) track."""
    midi = pretty_midi.PrettyMIDI()
    for name, notes in tracks:
        inst = pretty_midi.Instrument(program=0, name=name)
        inst.notes = [pretty_midi.Note(velocity=90, pitch=p, start=s, end=e) for p, s, e in notes]
        midi.instruments.append(inst)
    for time, value in pedal:
        midi.instruments[0].control_changes.append(pretty_midi.ControlChange(64, value, time))
    midi.write(str(path))
    return path


def key_of(seq: NoteSequence) -> list[tuple]:
    return sorted((n.pitch, round(n.onset / TICK), round(n.offset / TICK), n.hand) for n in seq)


def test_two_instruments_first_is_right_hand(tmp_path):
    path = write_pm(tmp_path / "two.mid", [("Piano", [(40, 0, 1), (72, 1, 2)]),
                                            ("Piano", [(80, 0, 0.5)])])
    seq = read_midi(path)
    assert [(n.pitch, n.hand) for n in seq] == [(40, "right"), (80, "left"), (72, "right")]
    assert seq.metadata["hand_rule"].startswith("two instruments")
    assert seq.name == "two" and all(n.velocity == 90 and n.fingers == () for n in seq)


def test_one_instrument_splits_at_middle_c(tmp_path):
    path = write_pm(tmp_path / "one.mid", [("Piano", [(59, 0, 1), (60, 0, 1), (84, 1, 2)])])
    assert [(n.pitch, n.hand) for n in read_midi(path)] == [(59, "left"), (60, "right"),
                                                            (84, "right")]


def test_instrument_names_decide_hands(tmp_path):
    path = write_pm(tmp_path / "named.mid", [("LH", [(70, 0, 1)]), ("Right Hand", [(30, 0, 1)]),
                                              ("piano left", [(50, 1, 2)])])
    assert {(n.pitch, n.hand) for n in read_midi(path)} == {(70, "left"), (30, "right"),
                                                            (50, "left")}


def test_sustain_pedal_intervals_from_cc64(tmp_path):
    path = write_pm(tmp_path / "pedal.mid", [("Piano", [(60, 0, 3)])],
                    pedal=[(0.5, 127), (1.0, 100), (1.5, 0), (2.0, 64), (2.5, 63), (2.8, 90)])
    seq = read_midi(path)
    assert [(round(a, 3), round(b, 3)) for a, b in seq.sustain] == [(0.5, 1.5), (2.0, 2.5),
                                                                    (2.8, 3.0)]


def test_round_trip_keeps_notes_hands_and_pedal(tmp_path):
    original = load_song("twinkle")
    original = NoteSequence.from_notes(original.notes, name="twinkle", sustain=[(1.0, 2.5)])
    path = write_midi(original, tmp_path / "twinkle.mid")
    again = read_midi(path)
    assert key_of(again) == key_of(original)
    assert [(round(a, 3), round(b, 3)) for a, b in again.sustain] == [(1.0, 2.5)]
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


def test_one_hand_round_trip_stays_in_that_hand(tmp_path):
    left = load_song("c_major_scale_lh")
    again = read_midi(write_midi(left, tmp_path / "lh.mid"))
    assert {n.hand for n in again} == {"left"} and key_of(again) == key_of(left)


@_HYP
@given(st.lists(st.tuples(st.integers(21, 108), st.integers(0, 4000), st.integers(1, 800),
                          st.booleans()), min_size=1, max_size=30))
def test_midi_loader_round_trip_property(tmp_path, notes):
    """Any notes written with pretty_midi come back with the same pitch, tick-exact times
    and (with named tracks) the same hand. (Overlapping notes of one pitch in one track are
    ambiguous in MIDI itself, so the strategy keeps only the first of those.)"""
    kept = []
    for note in notes:
        pitch, start, length, right = note
        if not any(p == pitch and r == right and s < start + length and start < s + n
                   for p, s, n, r in kept):
            kept.append(note)
    notes = kept
    tracks = {"Right hand": [], "Left hand": []}
    for pitch, start, length, right in notes:
        tracks["Right hand" if right else "Left hand"].append(
            (pitch, start * TICK, (start + length) * TICK))
    path = write_pm(tmp_path / "prop.mid", [(k, v) for k, v in tracks.items() if v])
    seq = read_midi(path)
    expected = sorted((p, s, s + n, "right" if r else "left") for p, s, n, r in notes)
    assert key_of(seq) == expected


def test_not_a_midi_file(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_text("this is not MIDI\n")
    with pytest.raises(InputError) as exc:
        load_song(str(bad))
    assert exc.value.file == str(bad) and exc.value.field == "MIDI header"
    assert "\n" not in exc.value.one_line()


def test_truncated_midi_file(tmp_path):
    good = write_pm(tmp_path / "good.mid", [("Piano", [(60, 0, 1)] * 20)])
    cut = tmp_path / "cut.mid"
    cut.write_bytes(good.read_bytes()[:30])
    with pytest.raises(InputError) as exc:
        load_song(str(cut))
    assert exc.value.field == "MIDI header"


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as exc:
        load_song(str(tmp_path / "nope.mid"))
    assert exc.value.field == "file" and "no such file" in exc.value.message


def test_empty_midi(tmp_path):
    path = write_pm(tmp_path / "empty.mid", [("Piano", [])])
    with pytest.raises(InputError) as exc:
        load_song(str(path))
    assert exc.value.field == "notes" and exc.value.file == str(path)


def test_out_of_range_notes_suggest_a_transpose_that_works(tmp_path):
    path = write_pm(tmp_path / "low.mid", [("Piano", [(12, 0, 1), (50, 1, 2)])])
    with pytest.raises(InputError) as exc:
        load_song(str(path))
    assert exc.value.field == "pitch" and exc.value.file == str(path)
    assert "C0 (MIDI 12)" in exc.value.message and "--transpose +12" in exc.value.message
    seq = load_song(str(path), transpose=12)
    assert [n.pitch for n in seq] == [24, 62] and seq.metadata["transpose"] == 12


def test_range_error_when_no_transpose_fits(tmp_path):
    path = write_pm(tmp_path / "wide.mid", [("Piano", [(10, 0, 1), (120, 1, 2)])])
    with pytest.raises(InputError, match="more than the 88 keys"):
        load_song(str(path))


def test_transpose_out_of_range_of_a_builtin():
    with pytest.raises(InputError) as exc:
        load_song("twinkle", transpose=40)
    assert exc.value.field == "pitch" and "--transpose" in exc.value.message


def test_write_midi_into_missing_folder(tmp_path):
    with pytest.raises(InputError) as exc:
        write_midi(load_song("demo_short"), tmp_path / "no" / "x.mid")
    assert exc.value.field == "--out"


def test_pig_files_dispatch_to_fingering_pig(tmp_path, monkeypatch):
    import sys
    import types

    calls = []
    fake = types.ModuleType("fingering.pig")

    def read_pig(path):
        calls.append(Path(path))
        return NoteSequence.from_notes([Note(60, 0, 1, hand="right", fingers=(1,))], name="pig")

    fake.read_pig = read_pig
    monkeypatch.setitem(sys.modules, "fingering.pig", fake)
    path = tmp_path / "001-1_fingering.txt"
    path.write_text("")
    seq = load_song(str(path))
    assert calls == [path] and seq.has_fingering
    with pytest.raises(InputError) as exc:
        load_song(str(tmp_path / "missing_fingering.txt"))
    assert exc.value.field == "file"


def test_pig_fixture_loads_with_hands_and_fingers(tmp_path):
    """A tiny hand-written PIG file (not from the dataset) through the real reader."""
    path = tmp_path / "901-1_fingering.txt"
    path.write_text("//Version: PianoFingering_v170101\n"
                    "0\t0.0\t0.5\tC4\t80\t80\t0\t1\n"
                    "1\t0.0\t1.0\tC3\t80\t80\t1\t-5\n"
                    "2\t0.5\t1.0\tE4\t80\t80\t0\t3_1\n")
    goals = prepare(load_song(str(path)), stretch=1.0)
    assert goals.has_fingering
    assert goals.fingers[0, 60 - 21] == 0 and goals.fingers[0, 48 - 21] == 9
    assert goals.fingers[10, 64 - 21] == 2  # first finger of the substitution 3_1


def test_real_pig_piece_prepares(pig_dir):
    path = sorted((pig_dir / "FingeringFiles").glob("*_fingering.txt"))[0]
    goals = prepare(load_song(str(path)))
    assert goals.has_fingering and goals.num_chunks >= 1
    assert {n.hand for n in goals.notes} <= {"right", "left"}
