"""``fingering fit``: coordinate search on match rates, cross-validated by piece."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fingering.annotate import FITTED_WEIGHTS, AnnotatorConfig, cost_model, generic_reach
from fingering.fit import (START, coordinate_search, fit, load_pieces, load_weights,
                           piece_rates)
from fingering.notes import Note, NoteSequence
from fingering.pig import write_pig
from handspec.errors import InputError
from training.cli import main

SCALE = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77]
HUMAN = [1, 2, 3, 1, 2, 3, 4, 1, 2, 3, 4]   # thumb passing, as a pianist plays it


def make_pig(root: Path, pieces: int = 3) -> Path:
    folder = root / "pig" / "FingeringFiles"
    folder.mkdir(parents=True)
    for k in range(pieces):
        notes = [Note(p + k, 0.25 * i, 0.25 * i + 0.2, 64, "right", (f,))
                 for i, (p, f) in enumerate(zip(SCALE, HUMAN))]
        write_pig(NoteSequence.from_notes(notes), folder / f"{k + 1:03d}-1_fingering.txt")
    return root / "pig"


def test_search_never_lowers_the_training_rate_and_cv_holds_out_every_piece(tmp_path):
    pieces = load_pieces(make_pig(tmp_path))
    reach = generic_reach()
    start = cost_model("travel")
    before = piece_rates(start, reach, pieces).mean()
    config, rate = coordinate_search(reach, pieces, start, rounds=1)
    assert rate >= before and rate == pytest.approx(piece_rates(config, reach, pieces).mean())
    report = fit(reach, pieces, start, folds=3, rounds=1)
    assert set(report.heldout) == {"001", "002", "003"}
    assert [f["pieces"] for f in report.folds] == [["001"], ["002"], ["003"]]
    assert report.heldout_rate == pytest.approx(sum(report.heldout.values()) / 3)
    assert 0.0 <= report.heldout_rate <= 1.0 and report.train_rate >= report.start_rate
    data = json.loads(report.to_json())
    assert set(data["weights"]) == set(FITTED_WEIGHTS)


def test_weights_file_round_trip_and_errors(tmp_path):
    good = tmp_path / "w.json"
    good.write_text(json.dumps({"weights": {"span": 2.0, "weak": 0.5}}))
    config = load_weights(good, AnnotatorConfig())
    assert config == replace(AnnotatorConfig(), span=2.0, weak=0.5)
    for body, needle in ((("[1, 2]"), "weights"), ('{"weights": {"nope": 1}}', "nope"),
                         ('{"weights": {"span": -1}}', "span"), ("{", "JSON")):
        bad = tmp_path / "bad.json"
        bad.write_text(body)
        with pytest.raises(InputError, match=needle):
            load_weights(bad, AnnotatorConfig())
    with pytest.raises(InputError, match="not found"):
        load_weights(tmp_path / "missing.json", AnnotatorConfig())


def test_fit_command_writes_weights_that_suggest_and_compare_take(tmp_path, capsys):
    pig = make_pig(tmp_path)
    out = tmp_path / "fit" / "w.json"
    assert main(["fingering", "fit", "--pig-dir", str(pig), "--hand", "generic", "--folds",
                 "3", "--rounds", "1", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "fold 3/3" in stdout and "held-out (cross-validated by piece)" in stdout
    assert set(json.loads(out.read_text())["weights"]) == set(FITTED_WEIGHTS)
    song = pig / "FingeringFiles" / "001-1_fingering.txt"
    for model in ("travel", "biomech"):
        assert main(["fingering", "suggest", str(song), "--hand", "generic", "--model", model,
                     "--weights", str(out), "--out", str(tmp_path / f"{model}.txt")]) == 0
    assert main(["fingering", "compare", "--pig-dir", str(pig), "--hand", "generic",
                 "--weights", str(out), "--no-plots", "--out", str(tmp_path / "c")]) == 0
    stdout = capsys.readouterr().out
    assert "w.json" in stdout and "crossings without the thumb" in stdout
    assert main(["fingering", "suggest", str(song), "--hand", "generic", "--model", "nope",
                 "--out", str(tmp_path / "x.txt")]) == 2
    assert "--model" in capsys.readouterr().err


def test_start_is_the_unfitted_biomechanics():
    assert START.sequential and START != cost_model("biomech")
    assert {f for f in FITTED_WEIGHTS if not hasattr(START, f)} == set()


def test_shipped_weights_on_the_shared_pig_pieces(pig_dir):
    """The issue's bar on the 12 pieces (in-sample: the weights were fitted on them)."""
    pytest.importorskip("mujoco")
    from handspec import finger_reach, load_hand

    from fingering.annotate import suggest_fingering
    from fingering.match import crossings_without_thumb

    pieces = load_pieces(pig_dir)
    reach = finger_reach(load_hand("shadow_five"))
    rates = piece_rates(cost_model("biomech"), reach, pieces)
    assert rates.mean() >= 0.63
    crossings = [crossings_without_thumb(suggest_fingering(p.source, reach)) for p in pieces]
    assert sum(c for c, _ in crossings) < 0.01 * sum(n for _, n in crossings)
    travel = piece_rates(cost_model("travel"), reach, pieces).mean()
    assert travel == pytest.approx(0.5749, abs=5e-4)  # v1, as measured before v2
