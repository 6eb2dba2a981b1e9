"""A tiny two-annotator piece (3 right-hand notes, 2 left-hand notes) for the fingering
match and plot tests: ``fingering([f1, ..., f5])`` labels its notes (0: unplayed)."""

from __future__ import annotations

from fingering.notes import Note, NoteSequence

PITCHES = [60, 62, 64, 48, 50]
HANDS = ["right", "right", "right", "left", "left"]


def fingering(fingers, hands=HANDS, name="x") -> NoteSequence:
    notes = [Note(p, i * 0.5, i * 0.5 + 0.4, 64, h, (f,) if f else ())
             for i, (p, h, f) in enumerate(zip(PITCHES, hands, fingers))]
    return NoteSequence.from_notes(notes, name=name)


A = fingering([1, 2, 3, 5, 4], name="a")   # two human annotators
B = fingering([1, 3, 4, 5, 3], name="b")
