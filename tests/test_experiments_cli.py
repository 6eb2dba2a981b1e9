"""``pianohands experiment ...``: help, and every kind of bad input -> one line, exit 2."""

from __future__ import annotations

import json

import pytest

from fingering.notes import Note, NoteSequence


@pytest.fixture
def main():
    from training.cli import main

    return main


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def test_help_lists_the_three_experiments(main, capsys):
    assert main(["experiment", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("fingering", "cross-embodiment", "fig2"):
        assert name in out
    assert main(["experiment", "cross-embodiment", "--help"]) == 0
    assert "--max-episode-steps" in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (["cross-embodiment", "--song", "demo_short", "--hands", "shadow_five", "no_such_hand"],
     "--hands: unknown hand 'no_such_hand'"),
    (["cross-embodiment", "--song", "demo_short", "--hands", "shadow_five,shadow_five"],
     "--hands: hand 'shadow_five' is listed twice"),
    (["cross-embodiment", "--song", "demo_short", "shadow_four"], "--hands: unexpected argument"),
    (["cross-embodiment", "--song", "no_such_song", "--hands", "shadow_five"], "no_such_song: song:"),
    (["cross-embodiment", "--song", "demo_short", "--seeds", "0"], "--seeds: must be >= 1"),
    (["fig2", "--song", "demo_short", "--steps", "0"], "--steps: must be >= 1"),
    (["fig2", "--song", "demo_short", "--steps", "lots"], "Invalid value for '--steps'"),
    (["fig2", "--song", "demo_short", "--arms", "ot,bogus"], "--arms: unknown arm 'bogus'"),
    (["fig2", "--song", "demo_short", "--hand", "no_such_hand"], "--hand: unknown hand"),
    (["fig2", "--song", "demo_short:3"], "demo_short: chunk: chunk 3 is out of range"),
    (["fig2", "--song", "demo_short", "--time-budget", "0"], "--time-budget: must be > 0"),
    (["fig2", "--song", "demo_short", "--max-episode-steps", "0"], "--max-episode-steps: must be >= 1"),
    (["fig2", "--song", "demo_short", "--buffer-size", "1"], "--buffer-size: must be >= 2"),
    (["fig2", "--song", "demo_short", "--hidden-dims", "wide"], "--hidden-dims: expected comma-separated"),
    (["fig2", "--song", "demo_short", "--batch-size", "0"], "--batch-size: must be >= 1"),
    (["fingering", "--song", "008"], "--pig-dir: piece '008' needs the PIG data folder"),
    (["fingering"], "--song: name the piece"),
    (["fingering", "--song", "twinkle", "--hand", "no_such_hand"], "--hand: unknown hand"),
])
def test_bad_arguments_one_line_exit_2(main, capsys, tmp_path, args, needle):
    out = tmp_path / "exp"
    assert main(["experiment", *args, "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert needle in line, line
    assert not out.exists()


def test_missing_files_name_the_file(main, capsys, tmp_path):
    missing = tmp_path / "nope" / "001-1_fingering.txt"
    assert main(["experiment", "fingering", "--song", str(missing), "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys)
    assert str(missing) in line and "--song" in line
    assert main(["experiment", "fingering", "--song", "8", "--pig-dir", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys)
    assert "nope" in line and "--pig-dir" in line
    assert main(["experiment", "fingering", "--run", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--run: not a run directory" in one_error_line(capsys)
    bad_config = tmp_path / "config.json"
    bad_config.write_text("{broken")
    assert main(["experiment", "fig2", "--song", "demo_short", "--config", str(bad_config),
                 "--out", str(tmp_path / "o")]) == 2
    assert "config.json: config: not valid JSON" in one_error_line(capsys)


def test_human_arm_needs_a_fingered_song(main, capsys, tmp_path):
    from pianoenv.songs.midi import write_midi

    midi = write_midi(NoteSequence.from_notes([Note(60, 0.0, 0.5), Note(64, 0.5, 1.0)], "m"),
                      tmp_path / "plain.mid")
    assert main(["experiment", "fig2", "--song", str(midi), "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys)
    assert "plain.mid: --song: the human arm needs a fingering" in line
    assert main(["experiment", "fingering", "--song", str(midi), "--out", str(tmp_path / "o")]) == 2
    assert "plain.mid: --song: this song has no human fingering" in one_error_line(capsys)


def test_out_dir_of_another_experiment_or_foreign_files(main, capsys, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "experiment.json").write_text(json.dumps({"experiment": "fig2", "identity": {},
                                                       "steps": 1, "seeds": [0]}))
    assert main(["experiment", "cross-embodiment", "--song", "demo_short", "--hands", "shadow_five",
                 "--out", str(other)]) == 2
    line = one_error_line(capsys)
    assert "experiment.json: experiment: holds a fig2 experiment" in line
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    assert main(["experiment", "fig2", "--song", "demo_short", "--out", str(foreign)]) == 2
    assert "--out: exists and holds no experiment.json" in one_error_line(capsys)
    assert sorted(p.name for p in foreign.iterdir()) == ["keep.txt"]
