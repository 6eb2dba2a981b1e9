"""``pianohands fingering suggest|compare|solvers``: outputs and one-line errors (exit 2)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fingering.notes import Note, NoteSequence
from fingering.pig import read_pig, write_pig
from training.cli import main

PIECE = [(60, 1), (62, 2), (64, 3), (65, 4), (67, 5), (48, 5), (52, 3), (55, 1)]


def make_pig_dir(root: Path, annotators=((1, 0), (2, 1))) -> Path:
    """A tiny PIG folder: piece 001 by two annotators (the second shifts fingers)."""
    folder = root / "pig" / "FingeringFiles"
    folder.mkdir(parents=True)
    for number, shift in annotators:
        notes = [Note(p, 0.25 * i, 0.25 * i + 0.2, 64, "right" if p >= 60 else "left",
                      ((f - 1 + shift) % 5 + 1,)) for i, (p, f) in enumerate(PIECE)]
        write_pig(NoteSequence.from_notes(notes), folder / f"001-{number}_fingering.txt")
    return root / "pig"


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = [l for l in err.strip().splitlines() if l.startswith("error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_suggest_writes_a_pig_file(tmp_path, capsys):
    pig = make_pig_dir(tmp_path)
    out = tmp_path / "out" / "001_suggest.txt"
    code, stdout, err = run(["fingering", "suggest", str(pig / "FingeringFiles" /
                                                        "001-1_fingering.txt"),
                             "--hand", "generic", "--out", str(out)], capsys)
    assert code == 0, err
    seq = read_pig(out)
    assert len(seq) == len(PIECE) and seq.has_fingering
    assert "8 notes" in stdout


def test_suggest_with_a_shipped_hand(tmp_path, capsys):
    pytest.importorskip("mujoco")
    pig = make_pig_dir(tmp_path)
    out = tmp_path / "s.txt"
    code, _, err = run(["fingering", "suggest", str(pig / "FingeringFiles" /
                                                    "001-1_fingering.txt"),
                        "--hand", "shadow_four", "--infer-hands", "--out", str(out)], capsys)
    assert code == 0, err
    assert all(n.finger in (1, 2, 3, 4) for n in read_pig(out).notes)


def test_suggest_bad_inputs(tmp_path, capsys):
    pig = make_pig_dir(tmp_path)
    song = str(pig / "FingeringFiles" / "001-1_fingering.txt")
    code, _, err = run(["fingering", "suggest", str(tmp_path / "none.txt"), "--out",
                        str(tmp_path / "o.txt")], capsys)
    assert_one_line_error(code, err, "none.txt")
    code, _, err = run(["fingering", "suggest", song, "--hand", "no_such_hand", "--out",
                        str(tmp_path / "o.txt")], capsys)
    assert_one_line_error(code, err, "no_such_hand")
    broken = tmp_path / "002-1_fingering.txt"
    broken.write_text("//Version: x\n0\t0.0\t0.5\tC4\t64\t80\t7\t1\n")
    code, _, err = run(["fingering", "suggest", str(broken), "--out", str(tmp_path / "o.txt")],
                       capsys)
    assert_one_line_error(code, err, str(broken), "line 2: channel")
    assert not (tmp_path / "o.txt").exists()


def test_compare_prints_table_and_writes_outputs(tmp_path, capsys):
    pig = make_pig_dir(tmp_path)
    out = tmp_path / "cmp"
    code, stdout, err = run(["fingering", "compare", "--pig-dir", str(pig), "--hand", "generic",
                             "--out", str(out)], capsys)
    assert code == 0, err
    assert "| suggest (generic, biomech) | 1 | 8 |" in stdout
    assert "human (leave-one-out)" in stdout
    rows = list(csv.DictReader((out / "compare.csv").open()))
    human = [r for r in rows if r["method"].startswith("human")]
    assert float(human[0]["general"]) == pytest.approx(0.0)  # every finger shifted
    assert (out / "suggest_confusion.png").exists() and (out / "suggest_001_roll.png").exists()
    assert (out / "summary.json").exists()


def test_compare_a_fingering_file(tmp_path, capsys):
    pig = make_pig_dir(tmp_path)
    mine = pig / "FingeringFiles" / "001-1_fingering.txt"
    code, stdout, err = run(["fingering", "compare", "--pig-dir", str(pig), "--piece", "1",
                             "--method", str(mine), "--no-plots", "--out",
                             str(tmp_path / "c")], capsys)
    assert code == 0, err
    # identical to annotator 1, shifted against annotator 2: general 50, highest 100
    assert f"| {mine} | 1 | 8 | 50.0 | 100.0 | 100.0 |" in stdout


@pytest.mark.parametrize("args,needles", [
    (["--pig-dir", "{tmp}/missing"], ["missing", "--pig-dir"]),
    (["--pig-dir", "{pig}", "--piece", "007"], ["--piece", "007"]),
    (["--pig-dir", "{pig}", "--piece", "abc"], ["piece", "abc"]),
    (["--pig-dir", "{pig}", "--method", "{tmp}/nope"], ["nope", "--method"]),
    (["--pig-dir", "{pig}", "--hands", "both"], ["--hands", "both"]),
    (["--pig-dir", "{pig}", "--hand", "no_such_hand"], ["no_such_hand"]),
])
def test_compare_bad_inputs(tmp_path, capsys, args, needles):
    pig = make_pig_dir(tmp_path)
    args = [a.format(tmp=tmp_path, pig=pig) for a in args]
    code, _, err = run(["fingering", "compare", "--no-plots", "--out", str(tmp_path / "c"),
                        *args], capsys)
    assert_one_line_error(code, err, *[n.format(tmp=tmp_path) for n in needles])


def test_compare_reports_broken_annotator_file(tmp_path, capsys):
    pig = make_pig_dir(tmp_path)
    bad = pig / "FingeringFiles" / "001-2_fingering.txt"
    bad.write_text(bad.read_text().replace("\tC4\t", "\tQ4\t"))
    code, _, err = run(["fingering", "compare", "--pig-dir", str(pig), "--hand", "generic",
                        "--no-plots", "--out", str(tmp_path / "c")], capsys)
    assert_one_line_error(code, err, str(bad), "pitch")


def test_solvers_lists_registry(capsys):
    code, out, _ = run(["fingering", "solvers"], capsys)
    assert code == 0
    assert "jv" in out and "pot-sinkhorn   approx" in out


def test_compare_without_pianoplayer_is_a_clean_error(tmp_path, capsys, monkeypatch):
    import fingering.peers

    monkeypatch.setattr(fingering.peers, "pianoplayer_version", lambda: None)
    pig = make_pig_dir(tmp_path)
    code, _, err = run(["fingering", "compare", "--pig-dir", str(pig), "--method",
                        "pianoplayer", "--no-plots", "--out", str(tmp_path / "c")], capsys)
    assert_one_line_error(code, err, "--method", "pianoplayer is not installed")


def test_compare_with_pianoplayer_when_installed(tmp_path, capsys):
    pytest.importorskip("pianoplayer")
    pig = make_pig_dir(tmp_path)
    code, stdout, err = run(["fingering", "compare", "--pig-dir", str(pig), "--method",
                             "pianoplayer", "--no-plots", "--out", str(tmp_path / "c")], capsys)
    assert code == 0, err
    assert "| pianoplayer 3." in stdout


def test_fingering_app_without_a_song_loader_reads_pig_only(tmp_path):
    """fingering never imports the songs layer: without an injected loader only PIG works."""
    from typer.testing import CliRunner

    from fingering.cli import make_app
    from handspec.errors import InputError

    pig = make_pig_dir(tmp_path)
    song = pig / "FingeringFiles" / "001-1_fingering.txt"
    runner = CliRunner()
    ok = runner.invoke(make_app(), ["suggest", str(song), "--hand", "generic", "--out",
                                    str(tmp_path / "a.txt")])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(make_app(), ["suggest", "twinkle", "--hand", "generic", "--out",
                                     str(tmp_path / "b.txt")])
    assert isinstance(bad.exception, InputError) and "only PIG" in str(bad.exception)
    seen = []
    loaded = runner.invoke(make_app(load_song=lambda name: seen.append(name) or read_pig(song)),
                           ["suggest", "twinkle", "--hand", "generic", "--out",
                            str(tmp_path / "c.txt")])
    assert loaded.exit_code == 0 and seen == ["twinkle"]
    assert len(read_pig(tmp_path / "c.txt")) == len(PIECE)
