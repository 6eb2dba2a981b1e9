"""fingering="annotator": RoboPianist-RL's fingering term and observation with the offline
annotator's labels, for songs that have none (the annotator arm of Fig. 2)."""

from __future__ import annotations

import numpy as np
import pytest

from fingering.annotate import suggest_fingering
from fingering.notes import Note, NoteSequence
from handspec.load import load_hand
from handspec.reach import finger_reach
from pianoenv import suite
from pianoenv.env import PianoEnv
from pianoenv.songs import prepare
from pianoenv.songs.goals import NO_FINGER, finger_code


def _unlabelled_song() -> NoteSequence:
    """A C major triad arpeggio then a chord, right hand, no fingers (like a MIDI file)."""
    notes = [Note(pitch=p, onset=0.3 * i, offset=0.3 * i + 0.25, hand="right")
             for i, p in enumerate((60, 64, 67, 72))]
    notes += [Note(pitch=p, onset=1.4, offset=1.9, hand="right") for p in (60, 64, 67)]
    return NoteSequence(tuple(notes), "unlabelled")


def test_annotator_mode_labels_every_note_with_the_annotators_finger():
    shadow_five_spec = load_hand("shadow_five")
    goals = prepare(_unlabelled_song())
    assert not goals.has_fingering
    with pytest.raises(Exception, match="human fingering"):
        PianoEnv(goals, shadow_five_spec, fingering="human")
    env = PianoEnv(goals, shadow_five_spec, fingering="annotator")
    labelled = env.song_goals
    assert labelled.has_fingering
    expected = suggest_fingering(goals.notes, finger_reach(shadow_five_spec))
    for note, (start, end) in zip(expected.notes, labelled.note_steps):
        assert note.finger is not None
        assert (labelled.fingers[start:end, note.key] == finger_code(note)).all()
    # inactive keys stay unlabelled, the goals themselves are unchanged
    assert (labelled.fingers[~labelled.keys] == NO_FINGER).all()
    np.testing.assert_array_equal(labelled.keys, goals.keys)


def test_annotator_mode_observes_and_rewards_like_human():
    env = suite.load("demo_short", "shadow_five", "annotator", max_steps=4)
    ts = env.reset()
    assert "fingering" in ts.observation
    # the first step's labels are in the window's first row, one-hot per labelled key
    first = ts.observation["fingering"].reshape(env.lookahead + 1, 10)[0]
    codes = env.song_goals.fingers[0][env.song_goals.keys[0]]
    assert first.sum() == len(set(codes.tolist())) > 0
    env.step(env.home_action())
    assert set(env.reward_terms) == {"fingering", "press", "sustain", "collision", "energy", "total"}


def test_with_fingering_refuses_other_notes():
    goals = prepare(_unlabelled_song())
    other = NoteSequence((Note(pitch=61, onset=0.0, offset=0.2, hand="right", fingers=(1,)),), "x")
    with pytest.raises(ValueError, match="own notes"):
        goals.with_fingering(other)
