"""``pianohands song ...``: each command works, each kind of bad input is one line + exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import pretty_midi
import pytest

from pianoenv.songs import load_song
from pianoenv.songs.midi import read_midi
from training.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["song", *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def midi_file(path: Path, pitches: list[int]) -> Path:
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0, name="Piano")
    inst.notes = [pretty_midi.Note(80, p, i * 0.5, i * 0.5 + 0.5) for i, p in enumerate(pitches)]
    midi.instruments.append(inst)
    midi.write(str(path))
    return path


def test_list_builtin(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name in ("twinkle", "c_major_scale", "demo_short", "minuet_in_g"):
        assert name in out


def test_list_names_only_is_loadable(capsys):
    code, out, _ = run(capsys, "list", "--names-only")
    assert code == 0
    names = out.split()
    assert all(len(load_song(n)) for n in names)
    code, out, err = run(capsys, "list", "--library", "music21", "--names-only")
    assert code == 0 and len(out.split()) >= 400 and "music21:bach/bwv66.6" in out.split()


def test_list_music21_check_with_span_filter(capsys, monkeypatch):
    from pianoenv.songs import music21_library

    two = [("music21:bach/bwv66.6", "chorale"), ("music21:bach/no_such", "broken")]
    monkeypatch.setattr(music21_library, "music21_library", lambda: two)
    code, out, err = run(capsys, "list", "--library", "music21", "--check", "--max-span", "12")
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0][0] == "name" and rows[1][0] == "music21:bach/bwv66.6" and len(rows) == 2
    assert int(rows[1][3]) <= 12 and rows[1][-1] == "SATB"
    assert "skipped: music21:bach/no_such: corpus path" in err and "# 1 of 2 scores" in err


def test_list_unknown_library(capsys):
    code, _, err = run(capsys, "list", "--library", "spotify")
    assert code == 2 and "--library" in one_error_line(err)


def test_info_song_and_chunk(capsys):
    code, out, _ = run(capsys, "info", "twinkle")
    assert code == 0
    assert "30.00 s (600 steps)" in out and "2 of 550" in out and "C3 .. A5" in out
    assert re.search(r"human fingering\s+yes", out) and re.search(r"right hand\s+42 notes", out)
    code, out, _ = run(capsys, "info", "twinkle:1")
    assert code == 0 and "twinkle:1" in out and "(50 steps)" in out


def test_info_with_transpose_and_stretch(capsys):
    code, out, _ = run(capsys, "info", "demo_short", "--transpose", "12", "--stretch", "1.0")
    assert code == 0 and "C4 .. G6" in out and "4.00 s (80 steps)" in out


def test_plot_writes_an_image(capsys, tmp_path):
    out_file = tmp_path / "roll.png"
    code, out, _ = run(capsys, "plot", "twinkle:0", "--out", str(out_file))
    assert code == 0 and out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [out_file]  # no temp file left


def test_export_round_trip(capsys, tmp_path):
    out_file = tmp_path / "ode.mid"
    code, out, _ = run(capsys, "export", "ode_to_joy", "--out", str(out_file))
    assert code == 0 and "40 notes" in out
    original, again = load_song("ode_to_joy"), read_midi(out_file)
    assert [(n.pitch, n.hand) for n in again] == [(n.pitch, n.hand) for n in original]


# --- bad input: one line naming the file and the field, exit code 2 ----------------------

def test_not_a_midi(capsys, tmp_path):
    bad = tmp_path / "song.mid"
    bad.write_bytes(b"RIFF....WAVEfmt ")
    code, _, err = run(capsys, "info", str(bad))
    line = one_error_line(err)
    assert code == 2 and f"{bad}: MIDI header: not a readable MIDI file" in line


def test_empty_song(capsys, tmp_path):
    path = midi_file(tmp_path / "empty.mid", [])
    code, _, err = run(capsys, "info", str(path))
    assert code == 2 and f"{path}: notes: the song has no notes" in one_error_line(err)


def test_out_of_range_then_transpose_fixes_it(capsys, tmp_path):
    path = midi_file(tmp_path / "high.mid", [100, 110, 115])
    code, _, err = run(capsys, "info", str(path))
    line = one_error_line(err)
    assert code == 2 and f"{path}: pitch:" in line and "--transpose -12" in line
    code, out, _ = run(capsys, "info", str(path), "--transpose", "-12")
    assert code == 0 and "E6 .. G7" in out


def test_chunk_out_of_range(capsys):
    code, _, err = run(capsys, "info", "twinkle:7")
    line = one_error_line(err)
    assert code == 2 and line.startswith("error: twinkle: chunk: chunk 7 is out of range")


def test_negative_chunk(capsys):
    code, _, err = run(capsys, "plot", "twinkle:-1", "--out", "x.png")
    assert code == 2 and "twinkle: chunk: chunk must be >= 0" in one_error_line(err)


def test_unknown_song(capsys):
    code, _, err = run(capsys, "info", "stairway")
    assert code == 2 and "stairway: song: unknown song" in one_error_line(err)


def test_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "info", str(tmp_path / "gone.midi"))
    assert code == 2 and "gone.midi: file: no such file" in one_error_line(err)


def test_bad_corpus_path(capsys):
    code, _, err = run(capsys, "info", "music21:nobody/nothing")
    assert code == 2 and "music21:nobody/nothing: corpus path:" in one_error_line(err)


@pytest.mark.parametrize("args, expected", [
    (["plot", "twinkle", "--out", "roll.gif"], "roll.gif: --out: unsupported image type"),
    (["plot", "twinkle", "--out", "/no/such/dir/roll.png"], "/no/such/dir: --out: folder"),
    (["export", "twinkle", "--out", "song.wav"], "song.wav: --out: unsupported file type"),
    (["export", "twinkle", "--out", "/no/such/dir/x.mid"], "/no/such/dir: --out: folder"),
    (["export", "twinkle:1", "--out", "x.mid"], "twinkle:1: chunk: export writes whole songs"),
    (["info", "twinkle", "--stretch", "0"], "twinkle: stretch: must be a number in [0.05, 20]"),
    (["info", "twinkle", "--transpose", "x"], "Invalid value for '--transpose'"),
    (["plot", "twinkle"], "Missing option '--out'"),
])
def test_bad_arguments(capsys, tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *args)
    assert code == 2 and expected in one_error_line(err)
    assert not list(tmp_path.iterdir())  # nothing half-written
