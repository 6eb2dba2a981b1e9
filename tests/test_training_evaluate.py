"""Learned fingering from the contact log, its alignment with a human PIG fingering, and
``pianohands eval --policy NAME`` for any registered policy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fingering.notes import Note, NoteSequence
from fingering.pig import read_pig, write_pig
from handspec.errors import InputError
from pianoenv import suite
from pianoenv.episode import run_episode
from pianoenv.policy import make_policy
from training.cli import main
from training.evaluate import learned_fingering, transfer_to


def song() -> tuple[NoteSequence, np.ndarray]:
    notes = NoteSequence.from_notes([
        Note(60, 0.0, 0.5, hand="right", fingers=(1,)),
        Note(64, 0.5, 1.0, hand="right", fingers=(3,)),
        Note(48, 0.0, 1.0, hand="left", fingers=(5,)),
        Note(60, 1.0, 1.5, hand="right", fingers=(1,)),
    ], name="toy")
    # sorted by (onset, pitch): 48@0, 60@0, 64@0.5, 60@1.0
    steps = np.array([[0, 20], [0, 10], [10, 20], [20, 30]])
    return notes, steps


def test_each_note_gets_the_finger_that_struck_its_key():
    notes, steps = song()
    contacts = [
        (2, "right", "index", 39),            # key 39 = C4 (60): first contact -> index
        (3, "right", "thumb", 39), (4, "right", "thumb", 39), (5, "right", "thumb", 39),
        (11, "right", "middle", 43),          # E4 (64)
        (0, "left", "little", 27),            # C3 (48)
        (25, "right", "ring", 39),            # the second C4
        (40, "right", "ring", 43),            # outside every span of E4: ignored
    ]
    learned = learned_fingering(notes, steps, contacts)
    assert [(n.pitch, n.hand, n.fingers) for n in learned.notes] == [
        (48, "left", (5,)), (60, "right", (2,)), (64, "right", (3,)), (60, "right", (4,))]


def test_unpressed_notes_have_no_finger_and_ties_go_to_the_most_frequent():
    notes, steps = song()
    contacts = [(1, "right", "thumb", 39), (1, "right", "index", 39), (2, "right", "index", 39)]
    learned = learned_fingering(notes, steps, contacts)
    assert learned.notes[1].fingers == (2,)                       # index: seen twice
    assert [n.fingers for n in learned.notes if n.pitch != 60 or n.onset > 0] == [(), (), ()]


def test_learned_fingering_writes_a_readable_pig_file(tmp_path):
    notes, steps = song()
    learned = learned_fingering(notes, steps, [(0, "left", "little", 27)])
    back = read_pig(write_pig(learned, tmp_path / "learned_fingering.txt"))
    first = back.notes[0]
    assert (first.pitch, first.hand, first.fingers) == (48, "left", (5,))
    assert all(n.fingers == () for n in back.notes[1:])  # PIG "0": no finger


def test_transfer_maps_by_pitch_order_across_time_stretch():
    human, _ = song()
    stretched = NoteSequence.from_notes(
        [Note(n.pitch, 1.25 * n.onset + 0.3, 1.25 * n.offset + 0.3, hand=n.hand,
              fingers=(2,)) for n in human.notes], name="played")
    moved = transfer_to(human, stretched, "human.txt")
    assert [n.onset for n in moved.notes] == [n.onset for n in human.notes]
    assert all(n.fingers == (2,) for n in moved.notes)


def test_transfer_rejects_another_piece():
    human, _ = song()
    other = NoteSequence.from_notes([Note(70 + i, i, i + 1, hand="right") for i in range(4)])
    with pytest.raises(InputError) as err:
        transfer_to(human, other, "other.txt")
    assert err.value.field == "--pig" and err.value.file == "other.txt"


# ----------------------------------------------------------------------------- eval --policy
@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setenv("PIANOHANDS_JAX_CACHE", "off")
    return main


def test_eval_any_registered_policy_over_seeded_episodes(cli, tmp_path, capsys):
    argv = ["eval", "--policy", "random", "--song", "demo_short", "--hand", "shadow_four",
            "--episodes", "2", "--seed", "5", "--no-video"]
    assert cli([*argv, "--out", str(tmp_path / "a")]) == 0
    assert cli([*argv, "--out", str(tmp_path / "b")]) == 0
    assert "F1 " in capsys.readouterr().out
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert a["per_episode"] == b["per_episode"]  # deterministic from --seed
    assert len(a["per_episode"]) == 2 and a["per_episode"][0] != a["per_episode"][1]
    assert a["f1"] == pytest.approx(np.mean([r["f1"] for r in a["per_episode"]]))
    assert a["policy"] == "random" and a["hand"] == "shadow_four" and a["steps"] == 100
    assert (tmp_path / "a" / "learned_fingering.txt").is_file()


def test_eval_zero_policy_matches_the_episode_loop(cli, tmp_path):
    assert cli(["eval", "--policy", "zero", "--song", "demo_short", "--no-video",
                "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "metrics.json").read_text())
    env = suite.load("demo_short", "shadow_five")
    direct = run_episode(env, make_policy("zero", env))
    assert report["f1"] == pytest.approx(direct.metrics["f1"])
    assert report["return"] == pytest.approx(direct.episode_return)
    assert report["notes_pressed"] == 0


@pytest.mark.parametrize("argv, needle", [
    (["eval"], "give a RUN directory or --policy"),
    (["eval", "--policy", "random"], "--song: --policy needs --song"),
    (["eval", "--policy", "clever", "--song", "demo_short"], "--policy: unknown policy 'clever'"),
    (["eval", "somewhere", "--policy", "zero", "--song", "demo_short"], "not both"),
    (["eval", "--policy", "zero", "--song", "demo_short", "--seed", "-1"], "--seed"),
])
def test_eval_policy_bad_input(cli, capsys, tmp_path, argv, needle):
    assert cli([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_eval_with_another_pieces_pig_is_one_error_and_writes_nothing(cli, capsys, tmp_path):
    other = tmp_path / "other_fingering.txt"
    other.write_text("//Version: PianoFingering_v170101\n"
                     "0\t0.0\t0.5\tC2\t36\t80\t1\t-5\n1\t0.5\t1.0\tD2\t38\t80\t1\t-4\n")
    out = tmp_path / "o"
    assert cli(["eval", "--policy", "zero", "--song", "demo_short", "--no-video",
                "--pig", str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--pig" in err[0], err
    assert not (out / "learned_fingering.txt").exists()
