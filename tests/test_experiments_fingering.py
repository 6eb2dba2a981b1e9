"""Learned vs human fingering: song resolution, annotators, reach conflicts, match summary.

Every PIG file here is a tiny fixture written into tmp_path (PIG data is never copied).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fingering import keyboard
from fingering.notes import Note, NoteSequence
from fingering.pig import read_pig, write_pig
from handspec.errors import InputError
from handspec.reach import FingerReach
from training.rl.config import TrainConfig
from training.experiments import common
from training.experiments import fingering_vs_human as fvh

C4, D4, E4, G4, C5 = 60, 62, 64, 67, 72


def piece(fingers_rh: tuple[int, int, int], fingers_lh: int = 5, chord: tuple[int, int] = (2, 4),
          name: str = "fixture") -> NoteSequence:
    """A right-hand C4+C5 chord (an octave: 14.2 cm between the key edges), two right-hand
    notes, and one left-hand note sounding with the chord."""
    notes = [Note(C4, 0.0, 0.5, 64, "right", (chord[0],)), Note(C5, 0.0, 0.5, 64, "right", (chord[1],)),
             Note(D4, 0.6, 0.8, 64, "right", (fingers_rh[1],)),
             Note(E4, 0.8, 1.0, 64, "right", (fingers_rh[2],)),
             Note(48, 0.0, 1.0, 64, "left", (fingers_lh,))]
    return NoteSequence.from_notes(notes, name=name)


def write_piece(folder: Path, piece_id: str = "042") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    one = write_pig(piece((1, 2, 3), chord=(2, 4)), folder / f"{piece_id}-1_fingering.txt")
    two = write_pig(piece((1, 1, 2), chord=(1, 5)), folder / f"{piece_id}-2_fingering.txt")
    return [one, two]


def four_finger_reach(index_ring: float = 0.12) -> FingerReach:
    span = np.full((4, 4), 0.2)
    np.fill_diagonal(span, 0.0)
    span[1, 3] = span[3, 1] = index_ring
    return FingerReach("test_four", ("thumb", "index", "middle", "ring"), np.zeros((4, 3)), span)


# ------------------------------------------------------------------------------ geometry
def test_key_gap_between_nearest_edges():
    c4, d4, c5 = C4 - 21, D4 - 21, C5 - 21
    assert fvh.key_gap(c4, d4) == pytest.approx(keyboard.KEY_GAP)
    assert fvh.key_gap(c4, c4) == 0.0
    pitch = keyboard.WHITE_WIDTH + keyboard.KEY_GAP
    assert fvh.key_gap(c4, c5) == pytest.approx(7 * pitch - keyboard.WHITE_WIDTH)
    # C#4 (black, 1 cm wide) sits half a white pitch right of C4
    assert fvh.key_gap(c4, c4 + 1) == pytest.approx(max(0.0, pitch / 2 - (keyboard.WHITE_WIDTH
                                                                          + keyboard.BLACK_WIDTH) / 2))


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 87), st.integers(0, 87))
def test_key_gap_is_a_symmetric_lower_bound_of_the_centre_distance(a, b):
    y = keyboard.key_press_points()[:, 1]
    gap = fvh.key_gap(a, b)
    assert gap == fvh.key_gap(b, a)
    assert 0.0 <= gap <= abs(y[a] - y[b]) + 1e-12


def test_simultaneous_pairs_are_same_hand_and_overlapping():
    seq = piece((1, 2, 3))
    pairs = fvh.simultaneous_pairs(seq)
    names = {(seq.notes[i].pitch, seq.notes[j].pitch) for i, j in pairs}
    assert names == {(C4, C5)}  # D4 follows E4 without overlap; the left note is another hand


# ------------------------------------------------------------------------------ reach
def test_reach_conflicts_beyond_reach_and_missing_finger():
    reach = four_finger_reach(index_ring=0.12)
    human = piece((1, 2, 3), chord=(2, 4))                    # index+ring over an octave
    robot = piece((1, 2, 3), chord=(1, 3), fingers_lh=1)      # thumb+middle
    conflicts, pairs = fvh.reach_conflicts(human, reach, robot, "annotator 1")
    beyond = [c for c in conflicts if c.kind == "beyond reach"]
    assert len(beyond) == 1 and len(pairs) == 1 and not pairs[0]["feasible"]
    c = beyond[0]
    assert c.human_fingers == ("index", "ring") and c.keys == ("C4", "C5")
    assert c.robot_max_span_m == pytest.approx(0.12) and c.key_gap_m > 0.12
    assert c.robot_fingers == ("right thumb", "right middle") and c.robot_pressed_all
    assert "index+ring" in c.describe()
    missing = [c for c in conflicts if c.kind == "missing finger"]
    assert [m.human_fingers for m in missing] == [("little",)]  # the left hand's 5
    # a wider hand can copy the chord: no conflict left but the missing finger
    wide, _ = fvh.reach_conflicts(human, four_finger_reach(index_ring=0.2), robot, "a")
    assert [c.kind for c in wide] == ["missing finger"]


def test_robot_pairs_come_from_the_contact_log():
    reach = four_finger_reach(index_ring=0.12)
    c4, d4, c5 = C4 - 21, D4 - 21, C5 - 21
    contacts = [(3, "right", "index", c4), (3, "right", "ring", c5),    # an octave at once
                (4, "right", "index", c4), (4, "right", "ring", c5),    # held: counted once
                (5, "right", "thumb", c4), (6, "right", "ring", d4),    # one after the other
                (5, "left", "ring", c5), (7, "right", "little", c4)]    # other hand, unknown finger
    own = fvh.robot_pairs(contacts, reach)
    assert len(own) == 1
    assert own[0]["fingers"] == ["index", "ring"] and own[0]["keys"] == ["C4", "C5"]
    assert own[0]["feasible"] is False and own[0]["span_m"] == pytest.approx(0.12)
    assert fvh.robot_pairs([(0, "right", "index", c4), (0, "right", "middle", d4)], reach)[0]["feasible"]


# ------------------------------------------------------------------------------ songs
def test_resolve_song_piece_id_path_and_builtin(tmp_path, monkeypatch):
    files = write_piece(tmp_path / "pig" / "FingeringFiles")
    src = fvh.resolve_song("42", tmp_path / "pig")
    assert src.files == tuple(files) and src.chunk == 0 and src.train_song == f"{files[0]}:0"
    assert [label for label, _ in src.specs()] == ["annotator 1", "annotator 2"]
    by_path = fvh.resolve_song(f"{files[1]}:0", None)  # siblings found next to the file
    assert set(by_path.files) == set(files) and by_path.train_song == f"{files[1]}:0"
    # relative or absolute, the same file is the same song (and the same experiment)
    monkeypatch.chdir(tmp_path / "pig")
    relative = fvh.resolve_song("FingeringFiles/042-2_fingering.txt", None)
    assert relative.train_song == by_path.train_song
    assert fvh.resolve_song("42", "../pig").train_song == src.train_song
    builtin = fvh.resolve_song("demo_short", None)
    assert builtin.files == () and builtin.specs() == [("demo_short (built-in)", "demo_short")]


@pytest.mark.parametrize("song, field", [("42", "--pig-dir"), ("nosuch_fingering.txt", "--song")])
def test_resolve_song_errors(tmp_path, song, field):
    with pytest.raises(InputError) as err:
        fvh.resolve_song(str(tmp_path / song) if song.endswith(".txt") else song, None)
    assert err.value.field == field


def test_resolve_song_without_fingering(tmp_path):
    from pianoenv.songs.midi import write_midi

    midi = write_midi(NoteSequence.from_notes([Note(C4, 0.0, 0.5), Note(E4, 0.5, 1.0)], "m"),
                      tmp_path / "plain.mid")
    with pytest.raises(InputError) as err:
        fvh.resolve_song(str(midi), None)
    assert err.value.field == "--song" and "plain.mid" in err.value.file


def test_human_fingerings_align_and_reject_other_versions(tmp_path):
    files = write_piece(tmp_path / "pig")
    src = fvh.resolve_song(str(files[0]), tmp_path / "pig")
    played = common.song_goals(src.train_song)
    labels, humans = fvh.human_fingerings(src, None, played.notes)
    assert labels == ["annotator 1", "annotator 2"]
    assert [n.pitch for n in humans[1].notes] == [n.pitch for n in played.notes]
    assert humans[0].notes[0].onset == played.notes.notes[0].onset   # stretched the same way
    assert {n.finger for n in humans[1].notes if n.pitch == C5} == {5}
    other = NoteSequence.from_notes([Note(C4, 0.0, 0.5, 64, "right", (1,))], "other")
    write_pig(other, tmp_path / "pig" / "042-3_fingering.txt")
    src3 = fvh.resolve_song(str(files[0]), tmp_path / "pig")
    with pytest.raises(InputError) as err:
        fvh.human_fingerings(src3, None, played.notes)
    assert err.value.field == "notes" and "042-3" in err.value.file


# ------------------------------------------------------------------------------ comparison
def test_compare_with_humans_rates_usage_plots_and_reach(tmp_path):
    files = write_piece(tmp_path / "pig")
    src = fvh.resolve_song(str(files[0]), tmp_path / "pig")
    played = common.song_goals(src.train_song).notes
    labels, humans = fvh.human_fingerings(src, None, played)
    # the "robot" plays annotator 1's fingering exactly, except thumb+middle on the chord
    learned = NoteSequence(tuple(
        (n if n.pitch not in (C4, C5) else Note(n.pitch, n.onset, n.offset, n.velocity, "right",
                                                ((1,) if n.pitch == C4 else (3,))))
        for n in humans[0].notes), "learned")
    run_dir = tmp_path / "run"
    contacts = run_dir / "final" / "contacts.json"
    contacts.parent.mkdir(parents=True)
    contacts.write_text(json.dumps([[0, "right", "thumb", C4 - 21], [0, "right", "middle", C5 - 21]]))
    final = {"f1": 0.9, "learned_fingering": str(write_pig(learned, run_dir / "final" / "lf.txt")),
             "contacts": str(contacts)}
    run = common.SeedRun("ot", 0, run_dir, "trained", {"steps": 10}, TrainConfig(), final)
    out = tmp_path / "out"
    result = fvh.compare_with_humans([run], labels, humans, four_finger_reach(0.12), out,
                                     title="042", hand="test_four")
    # annotator 1: 3 of 5 notes equal (only the chord differs)
    a1 = 3 / 5
    a2 = sum(1 for r, h in zip(learned.notes, humans[1].notes) if r.finger == h.finger
             and r.hand == h.hand) / 5
    assert result["match"]["general"]["mean"] == pytest.approx((a1 + a2) / 2)
    assert result["match"]["highest"]["mean"] == pytest.approx(max(a1, a2))
    assert result["match"]["general"]["n"] == 1 and result["match"]["general"]["ci_low"] is None
    assert result["human_agreement"] is not None
    reach = result["reach"]
    # annotator 1's index+ring octave is beyond the 12 cm reach; the little finger the
    # four-finger robot lacks: annotator 1's left note, annotator 2's C5 and left note
    assert reach["human_pairs_beyond_reach"] == 1
    assert reach["human_notes_with_missing_finger"] == 1 + 2
    assert list(reach["example"]["human_fingers"]) == ["index", "ring"]
    assert reach["example"]["robot_pressed_all"] is True
    assert reach["differing_explained_by_reach"] >= 2
    assert reach["robot_pairs"] == 1 and reach["robot_pairs_beyond_own_reach"] == 0  # 0.2 m span
    usage = np.asarray(result["finger_usage"]["robot_pooled_over_seeds"])
    assert usage.shape == (2, 5) and usage[0].sum() == pytest.approx(1.0)
    assert result["finger_usage"]["robot_pressed_notes"] == 5
    for name in ("finger_usage", "piano_roll", "confusion", "reach"):
        assert Path(result["plots"][name]).is_file()
    assert "general match" in (out / "table.md").read_text()
    # the annotator's plan for this hand, the same notes: what a residual policy starts from
    from fingering.annotate import suggest_fingering

    plan = fvh.in_order_of(suggest_fingering(humans[0], four_finger_reach(0.12)), humans[0])
    same = sum(1 for r, p in zip(learned.notes, plan.notes)
               if (r.hand, r.finger) == (p.hand, p.finger)) / 5
    assert result["annotator_plan"]["robot_same_finger_as_plan"]["mean"] == pytest.approx(same)
    assert 0.0 <= result["annotator_plan"]["vs_humans"]["general"] <= 1.0
    assert "annotator's plan" in (out / "table.md").read_text()
    json.dumps(common._jsonable(result))  # summary-ready


def test_learned_fingering_round_trips_through_pig(tmp_path):
    seq = piece((1, 2, 3))
    path = write_pig(seq, tmp_path / "x.txt")
    run = common.SeedRun("ot", 0, tmp_path, "trained", {}, TrainConfig(),
                         {"learned_fingering": str(path)})
    back = common.read_learned_fingering(run)
    assert [(n.pitch, n.onset, n.finger) for n in back.notes] == \
        [(n.pitch, n.onset, n.finger) for n in read_pig(path).notes]
    assert common.read_learned_fingering(common.SeedRun("ot", 0, tmp_path, "x", {}, TrainConfig())) is None


def test_cross_embodiment_usage_pools_notes_over_seeds(tmp_path):
    from training.experiments.cross_embodiment import pooled_usage

    def run(seed, notes):
        path = write_pig(NoteSequence.from_notes(notes, "x"), tmp_path / f"{seed}.txt")
        return common.SeedRun("h", seed, tmp_path, "trained", {}, TrainConfig(),
                              {"learned_fingering": str(path)})

    a = run(0, [Note(C4, 0.0, 0.1, 64, "right", (1,)), Note(D4, 0.1, 0.2, 64, "right", (1,)),
                Note(48, 0.0, 0.2, 64, "left", ())])              # left note never pressed
    b = run(1, [Note(C4, 0.0, 0.1, 64, "right", (2,)), Note(48, 0.0, 0.2, 64, "left", (5,))])
    usage = pooled_usage([a, b])
    assert usage.pressed == [3, 1] and usage.not_played.tolist() == [0, 1]
    assert usage.counts.tolist() == [[2, 1, 0, 0, 0], [0, 0, 0, 0, 1]]
    assert usage.shares[0][:2] == pytest.approx([2 / 3, 1 / 3]) and usage.shares[1][4] == 1.0
    assert usage.to_dict()["finger_counts_right_left"][0] == [2, 1, 0, 0, 0]
    empty = pooled_usage([])
    assert empty.counts is None and empty.pressed == [0, 0] and empty.shares is None


def _seed_run(tmp_path, seed, learned, f1):
    run_dir = tmp_path / f"run{seed}"
    (run_dir / "final").mkdir(parents=True)
    contacts = run_dir / "final" / "contacts.json"
    contacts.write_text(json.dumps([[0, "right", "thumb", C4 - 21]]))
    final = {"f1": f1, "learned_fingering": str(write_pig(learned, run_dir / "final" / "lf.txt")),
             "contacts": str(contacts)}
    return common.SeedRun("ot", seed, run_dir, "trained", {"steps": 10}, TrainConfig(), final)


def test_match_rates_are_over_the_notes_the_robot_pressed(tmp_path):
    """Seed 0 presses 2 of 5 notes (C4 with the thumb, the left note with the little
    finger), seed 1 plays annotator 1's fingering on every note."""
    files = write_piece(tmp_path / "pig")
    src = fvh.resolve_song(str(files[0]), tmp_path / "pig")
    labels, humans = fvh.human_fingerings(src, None, common.song_goals(src.train_song).notes)

    def sparse(n):
        if n.pitch == C4:
            return Note(n.pitch, n.onset, n.offset, n.velocity, "right", (1,))
        return n if n.hand == "left" else Note(n.pitch, n.onset, n.offset, n.velocity, n.hand, ())

    few = NoteSequence(tuple(sparse(n) for n in humans[0].notes), "few")
    runs = [_seed_run(tmp_path, 0, few, 0.9), _seed_run(tmp_path, 1, humans[0], 0.5)]
    out = tmp_path / "out"
    result = fvh.compare_with_humans(runs, labels, humans, four_finger_reach(0.2), out,
                                     title="042", hand="test_four")
    # seed 0 over its 2 pressed notes: annotator 1 agrees on the left note only (1/2),
    # annotator 2 on both (2/2); seed 1 is annotator 1: 1.0, and 1/5 against annotator 2
    seed0, seed1 = (1 / 2 + 2 / 2) / 2, (1.0 + 1 / 5) / 2
    assert [m["general"] for m in result["per_seed_match"]] == pytest.approx([seed0, seed1])
    assert [m["pressed_notes"] for m in result["per_seed_match"]] == [2, 5]
    assert result["match"]["general"]["mean"] == pytest.approx((seed0 + seed1) / 2)
    assert result["match"]["general"]["ci_low"] is None          # two seeds: no interval
    assert result["match"]["general"]["values"] == pytest.approx([seed0, seed1])
    # over all notes an unpressed note counts as a wrong finger: seed 0 gets (1/5 + 2/5) / 2
    assert result["match_all_notes"]["general"]["values"][0] == pytest.approx(0.3)
    assert result["pressed_notes"] == {"notes": 5, "per_seed": [2, 5], "per_hand": {
        "right": {"notes": 4, "per_seed": [1, 4]}, "left": {"notes": 1, "per_seed": [1, 1]}}}
    usage = result["finger_usage"]
    assert usage["robot_not_played_pooled_over_seeds"] == [3, 0]
    assert usage["robot_counts_pooled_over_seeds"][0] == [1, 2, 1, 1, 0]
    assert usage["robot_pressed_notes"] == 7
    assert usage["humans_counts"][1] == [0, 0, 0, 0, 2]
    # the confusion of the best seed (seed 0): 3 right-hand notes unplayed, x 2 annotators
    confusion = np.asarray(result["confusion_right_left"])
    assert result["confusion_seed"] == 0 and result["confusion_columns"][-1] == "unplayed"
    assert confusion[0, :, -1].sum() == 3 * 2 and confusion.sum() == 5 * 2
    # differing choices: only notes it pressed (C4 vs annotator 1's index)
    assert result["reach"]["differing_note_annotator_pairs"] == 1
    assert result["reach"]["robot_unpressed_notes"] == 3
    table = (out / "table.md").read_text()
    assert ("| robot (OT, seeds 0, 1) vs humans, over the notes it pressed "
            "| 2, 5 of 5 (right 1, 4 of 4; left 1 of 1) |") in table
    assert "| not played by the robot (OT, seeds 0, 1) | 3, 0 of 5 (right 3, 0 of 4; left 0 of 1) |" in table
    assert f"{100 * (seed0 + seed1) / 2:.1f}% (n=2: {100 * seed0:.1f}%, {100 * seed1:.1f}%)" in table
    assert "+-" not in table
    assert "| right | robot, 2 seeds pooled | 1 (20%) | 2 (40%) | 1 (20%) | 1 (20%) | 0 (0%) | 3 |" in table
