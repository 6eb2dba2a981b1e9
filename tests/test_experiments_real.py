"""End to end with the real piano environment and tiny budgets (tens of steps, no updates).

What the numbers are is not the point here (a policy this young presses keys at random);
what is checked is that every stage runs on MuJoCo and writes what it promises.
"""

from __future__ import annotations

import json

import pytest

from fingering.notes import Note, NoteSequence
from fingering.pig import write_pig

pytestmark = pytest.mark.slow

TINY = ["--seeds", "1", "--steps", "30", "--warmup-steps", "30", "--eval-interval", "30",
        "--hidden-dims", "16,16", "--batch-size", "16", "--no-progress"]


def pig_piece(folder, piece_id="077"):
    """Two annotators of a small two-hand piece (an octave chord the four-finger hand's
    index and ring cannot span, and a little finger it does not have)."""
    def notes(chord, lh):
        return NoteSequence.from_notes([
            Note(60, 0.0, 0.6, 64, "right", (chord[0],)), Note(72, 0.0, 0.6, 64, "right", (chord[1],)),
            Note(64, 0.6, 0.9, 64, "right", (3,)), Note(48, 0.0, 1.0, 64, "left", (lh,))], "p")

    folder.mkdir(parents=True)
    write_pig(notes((2, 4), 5), folder / f"{piece_id}-1_fingering.txt")
    write_pig(notes((1, 5), 1), folder / f"{piece_id}-2_fingering.txt")
    return folder


def test_fingering_experiment_on_a_pig_fixture(tmp_path, capsys):
    from training.cli import main

    pig_piece(tmp_path / "pig" / "FingeringFiles")
    out = tmp_path / "fing"
    args = ["experiment", "fingering", "--song", "77:0", "--pig-dir", str(tmp_path / "pig"),
            "--hand", "shadow_four", "--max-episode-steps", "30", "--out", str(out), *TINY]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "general match" in printed and "beyond the robot's reach" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["annotators"] == ["annotator 1", "annotator 2"]
    assert summary["annotator_files"] == ["077-1_fingering.txt", "077-2_fingering.txt"]
    assert summary["notes"] == 4 and summary["episode_steps"] == 25  # 1 s x 1.25 stretch
    # rates over the notes the policy pressed (none pressed: no rate, not 0%); over all notes
    # an unpressed note is a miss
    pressed = summary["pressed_notes"]["per_seed"]
    assert summary["pressed_notes"]["notes"] == 4 and len(pressed) == 1 and 0 <= pressed[0] <= 4
    assert summary["match"]["general"]["n"] == (1 if pressed[0] else 0)
    assert pressed[0] == 0 or 0.0 <= summary["match"]["soft"]["mean"] <= 1.0
    assert summary["match_all_notes"]["general"]["n"] == 1
    assert 0.0 <= summary["match_all_notes"]["soft"]["mean"] <= 1.0
    assert f"{pressed[0]} of 4" in summary["table_markdown"]
    assert summary["human_agreement"]["general"] == pytest.approx(0.25)  # 1 of 4 notes agree
    reach = summary["reach"]
    assert reach["robot_fingers"] == ["thumb", "index", "middle", "ring"]
    assert reach["human_pairs_beyond_reach"] == 1              # annotator 1: index + ring octave
    assert reach["human_notes_with_missing_finger"] == 2       # 1's left 5, 2's C5 on 5
    for name in ("finger_usage", "piano_roll", "confusion", "reach"):
        assert (out / f"{name}.png").is_file()
    learned = out / "ot" / "seed_0" / "final" / "learned_fingering.txt"
    from fingering.pig import read_pig

    assert [n.pitch for n in read_pig(learned).notes] == [48, 60, 72, 64]
    contacts = json.loads((learned.parent / "contacts.json").read_text())
    assert all(len(c) == 4 and c[1] in ("left", "right") for c in contacts)
    # a second invocation resumes: nothing is trained again
    assert main(args) == 0
    again = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in again["runs"]] == ["done"]
    assert again["match"] == summary["match"]


def test_fig2_and_cross_embodiment_commands(tmp_path, capsys):
    from training.cli import main

    out = tmp_path / "fig2"
    assert main(["experiment", "fig2", "--song", "demo_short", "--max-episode-steps", "20",
                 "--arms", "human", "--out", str(out), *TINY]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["arms"] == ["human"] and summary["results"]["human"]["final_f1"]["n"] == 1
    assert summary["runs"][0]["steps"] == 30
    assert "human fingering" in capsys.readouterr().out
    # the cut is recorded in the run's own config: evaluating the run later plays 20 steps too
    import numpy as np

    from training.rl.config import TrainConfig
    from training.rl.loop import default_env_factory

    config = TrainConfig.load(out / "human" / "seed_0" / "config.json")
    # ... and so is the default residual base (the kinematic pianist)
    assert config.env_kwargs == {"max_steps": 20, "base_policy": "ik"}
    assert default_env_factory(config, np.random.default_rng(0)).env.num_steps == 20
    out = tmp_path / "cross"
    assert main(["experiment", "cross-embodiment", "--song", "demo_short", "--max-episode-steps", "20",
                 "--hands", "shadow_five", "allegro_like", "--out", str(out), *TINY]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hands"] == ["shadow_five", "allegro_like"]
    assert summary["results"]["allegro_like"]["fingers"] == ["thumb", "index", "middle", "ring"]
    assert (out / "final_f1.png").is_file() and (out / "f1_curves.png").is_file()


def test_fingering_experiment_loads_a_trained_run(tmp_path, capsys):
    """``--run``: the agent of a 'pianohands train' run is evaluated, not retrained."""
    from training.cli import main

    pig_piece(tmp_path / "pig")
    song = f"{tmp_path / 'pig' / '077-1_fingering.txt'}:0"
    run = tmp_path / "run"
    assert main(["train", "--song", song, "--hand", "shadow_five", "--steps", "30",
                 "--warmup-steps", "30", "--eval-interval", "30", "--hidden-dims", "16,16",
                 "--batch-size", "16", "--buffer-size", "64", "--out", str(run),
                 "--no-progress", "--no-tensorboard"]) == 0
    out = tmp_path / "loaded"
    assert main(["experiment", "fingering", "--run", str(run), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["loaded_run"] == str(run) and summary["hand"] == "shadow_five"
    assert [r["status"] for r in summary["runs"]] == ["loaded"]
    assert summary["annotators"] == ["annotator 1", "annotator 2"]  # the sibling file too
    assert (out / "loaded" / "seed_0" / "final" / "learned_fingering.txt").is_file()
    assert not (run / "final").exists()  # the user's run directory is left as it was
    capsys.readouterr()
    assert main(["experiment", "fingering", "--run", str(run), "--song", "twinkle",
                 "--out", str(tmp_path / "other")]) == 2
    assert "--song: the run played" in capsys.readouterr().err
