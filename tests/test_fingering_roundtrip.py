"""``fingering suggest`` keeps the user's notes: every column but the finger, in order.

Hypothesis writes PIG files the way the dataset does and worse (ids skipped and out of
order, times in any decimal spelling, unknown velocities, substitutions, comments, CRLF,
a BOM) and MIDI files with two hands; ``suggest`` must give back the same lines with only
the finger column (and the channel with ``--infer-hands``) changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fingering.keyboard import PITCH_NAMES
from fingering.pig import parse_pig_line, read_pig
from training.cli import main

FLATS = {"C#": "Db", "Eb": "Eb", "F#": "Gb", "G#": "Ab", "Bb": "Bb"}


@st.composite
def pig_rows(draw) -> list[list[str]]:
    count = draw(st.integers(1, 30))
    rows = []
    ids = draw(st.lists(st.integers(0, 500), min_size=count, max_size=count, unique=True))
    for note_id in ids:
        onset_ms = draw(st.integers(0, 20000))
        onset = draw(st.sampled_from([f"{onset_ms / 1000:.5f}", f"{onset_ms / 1000}",
                                      str(onset_ms // 1000)]))
        offset = f"{float(onset) + draw(st.integers(0, 3000)) / 1000:.6f}"
        pitch = draw(st.integers(21, 108))
        name = PITCH_NAMES[pitch % 12]
        if name in FLATS and draw(st.booleans()):
            name = FLATS[name]
        velocity = draw(st.sampled_from(["64", "-1", "1", "127", "80"]))
        off_velocity = draw(st.sampled_from(["80", "-1", "0", "64"]))
        channel = draw(st.sampled_from(["0", "1"]))
        sign = "-" if channel == "1" else ""
        finger = draw(st.sampled_from([f"{sign}1", f"{sign}3", f"{sign}5_{sign}2", "0",
                                       f"{sign}4_"]))
        rows.append([str(note_id), onset, offset, f"{name}{pitch // 12 - 1}", velocity,
                     off_velocity, channel, finger])
    return rows


@st.composite
def pig_texts(draw) -> str:
    rows = draw(pig_rows())
    sep = draw(st.sampled_from(["\t", " \t", "\t "]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = ["//Version: PianoFingering_v170101"]
    for row in rows:
        if draw(st.integers(0, 9)) == 0:
            lines.append("// a comment")
        lines.append(sep.join(row))
    return ("\ufeff" if draw(st.booleans()) else "") + end.join(lines) + end


def suggest(song: Path, out: Path, *extra: str) -> None:
    assert main(["fingering", "suggest", str(song), "--hand", "generic", "--out", str(out),
                 *extra]) == 0


def note_lines(text: str) -> list[str]:
    return [l for l in text.lstrip("\ufeff").splitlines() if l.strip() and
            not l.strip().startswith("//")]


def fields(line: str) -> list[str]:
    return [f.strip() for f in line.strip().split("\t")]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=pig_texts(), infer=st.booleans())
def test_pig_in_pig_out_changes_only_the_finger_column(tmp_path_factory, text, infer):
    folder = tmp_path_factory.mktemp("pig")
    song, out = folder / "001-1_fingering.txt", folder / "out.txt"
    song.write_bytes(text.encode("utf-8"))
    suggest(song, out, *(["--infer-hands"] if infer else []))
    written = out.read_bytes().decode("utf-8")
    # every byte outside note lines is kept: header, comments, BOM, line ends
    assert written.startswith("\ufeff") == text.startswith("\ufeff")
    assert written.count("\r\n") == text.count("\r\n")
    before = text.lstrip("\ufeff").splitlines()
    after = written.lstrip("\ufeff").splitlines()
    assert len(before) == len(after)
    for old, new in zip(before, after):
        if not old.strip() or old.strip().startswith("//"):
            assert new == old
            continue
        a, b = fields(old), fields(new)
        kept = range(6) if infer else range(7)
        assert [a[i] for i in kept] == [b[i] for i in kept]
        note = parse_pig_line(new.strip())
        if note.fingers:
            assert len(note.fingers) == 1 and 1 <= note.finger <= 5
            assert b[7].startswith("-") == (b[6] == "1")  # sign follows the hand
        if not infer:  # byte for byte up to the finger column
            assert new.rsplit("\t", 1)[0] == old.rsplit("\t", 1)[0]
    if not infer:
        assert [n.hand for n in read_pig(out, sort=False).notes] == \
               [n.hand for n in read_pig(song, sort=False).notes]


@st.composite
def midi_notes(draw) -> list[tuple[int, float, float, int, int]]:
    count = draw(st.integers(1, 25))
    notes = []
    for _ in range(count):
        onset = draw(st.integers(0, 400)) / 40
        notes.append((draw(st.integers(21, 108)), onset,
                      onset + draw(st.integers(1, 80)) / 40, draw(st.integers(1, 127)),
                      draw(st.integers(0, 1))))
    return notes


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(notes=midi_notes())
def test_midi_in_pig_out_keeps_the_songs_notes_and_order(tmp_path_factory, notes):
    pretty_midi = pytest.importorskip("pretty_midi")
    from pianoenv.songs import load_song

    folder = tmp_path_factory.mktemp("midi")
    midi = pretty_midi.PrettyMIDI()
    hands = [pretty_midi.Instrument(0, name="Right hand"),
             pretty_midi.Instrument(0, name="Left hand")]
    for pitch, onset, offset, velocity, hand in notes:
        hands[hand].notes.append(pretty_midi.Note(velocity, pitch, onset, offset))
    midi.instruments.extend(h for h in hands if h.notes)
    song, out = folder / "song.mid", folder / "out.txt"
    midi.write(str(song))
    suggest(song, out)
    loaded = load_song(str(song)).notes
    written = read_pig(out, sort=False).notes
    assert [(n.pitch, n.onset, n.offset, n.velocity, n.hand) for n in written] == \
           [(n.pitch, n.onset, n.offset, n.velocity, n.hand) for n in loaded]
    ids = [fields(line)[0] for line in note_lines(out.read_text())]
    assert ids == [str(i) for i in range(len(loaded))]
