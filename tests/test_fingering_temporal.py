"""Per-note fingering from contact logs and fingertip trajectories."""

from __future__ import annotations

import numpy as np
import pytest

from fingering import keyboard
from fingering.notes import Note, NoteSequence
from fingering.temporal import fingering_from_contacts, fingering_from_trajectories

SONG = NoteSequence.from_notes([
    Note(60, 0.0, 0.4, 64, "right"), Note(64, 0.5, 0.9, 64, "right"),
    Note(48, 0.5, 1.4, 64, "left"), Note(67, 1.0, 1.4, 64, "right")])


def test_contacts_majority_in_the_press_window():
    k = lambda pitch: pitch - 21  # noqa: E731
    contacts = [(0, "right", "thumb", k(60)), (1, "right", "thumb", k(60)),
                (2, "right", "index", k(60)),                           # late graze
                (10, "right", "middle", k(64)), (11, "right", "middle", k(64)),
                (10, "left", "little", k(48)), (20, "right", "little", k(67)),
                (21, "right", "ring", k(67)), (30, "right", "index", k(72))]  # no such note
    out = fingering_from_contacts(SONG, contacts, step_seconds=0.05)
    got = {n.pitch: (n.hand, n.finger) for n in out.notes}
    assert got == {60: ("right", 1), 64: ("right", 3), 48: ("left", 5), 67: ("right", 5)}
    assert out.metadata["unattributed"] == 0


def test_contacts_time_offset_and_missing_notes():
    contacts = [(10, "right", "index", 60 - 21)]  # step 10 = 0.5 s, minus a 0.5 s buffer
    out = fingering_from_contacts(SONG, contacts, step_seconds=0.05, time_offset=-0.5)
    assert [n.finger for n in out.notes if n.pitch == 60] == [2]
    assert out.metadata["unattributed"] == 3
    assert all(n.hand for n in out.notes)  # hands kept where nothing was seen
    with pytest.raises(ValueError, match="finger name"):
        fingering_from_contacts(SONG, [(0, "right", "pinky", 39)])


def test_trajectories_follow_the_fingertips():
    press = keyboard.key_press_points()
    labels = [("right", "thumb"), ("right", "middle"), ("right", "little"), ("left", "little")]
    times = np.arange(0.0, 1.5, 0.05)
    tips = np.zeros((len(times), 4, 3))
    tips[:, :, 2] = 0.2  # hovering well above the keys...
    on = lambda lo, hi: (times >= lo) & (times < hi)  # noqa: E731
    tips[on(0.0, 0.4), 0] = press[60 - 21]       # ...except when pressing
    tips[on(0.5, 0.9), 1] = press[64 - 21]
    tips[on(0.5, 1.4), 3] = press[48 - 21]
    tips[on(1.0, 1.4), 2] = press[67 - 21]
    out = fingering_from_trajectories(SONG, tips, times, labels)
    got = {n.pitch: (n.hand, n.finger) for n in out.notes}
    assert got == {60: ("right", 1), 64: ("right", 3), 48: ("left", 5), 67: ("right", 5)}


def test_trajectories_respect_hands_and_validate_shapes():
    press = keyboard.key_press_points()
    song = NoteSequence.from_notes([Note(60, 0.0, 0.5, 64, "left")])
    times = np.array([0.0, 0.1])
    tips = np.stack([np.stack([press[39], press[39] + [0, 0.3, 0]])] * 2)
    labels = [("right", "index"), ("left", "thumb")]
    free = fingering_from_trajectories(song, tips, times, labels)
    assert free.notes[0].hand == "right"
    forced = fingering_from_trajectories(song, tips, times, labels, respect_hands=True)
    assert (forced.notes[0].hand, forced.notes[0].finger) == ("left", 1)
    with pytest.raises(ValueError, match=r"\(T, F, 3\)"):
        fingering_from_trajectories(song, tips[:1], times, labels)
    with pytest.raises(ValueError, match="labels"):
        fingering_from_trajectories(song, tips, times, labels[:1])
