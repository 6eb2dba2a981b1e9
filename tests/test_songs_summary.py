"""``summarize``: the numbers ``song info`` prints, checked on hand-made sequences."""

from __future__ import annotations

from fingering.notes import Note, NoteSequence
from pianoenv.songs import prepare
from pianoenv.songs.summary import summarize


def test_summary_counts_chords_spans_crossings_and_pedal():
    notes = [Note(60, 0, 1, hand="right", fingers=(1,)), Note(67, 0, 1, hand="right", fingers=(5,)),
             Note(64, 0, 0.5, hand="right", fingers=(3,)),
             Note(48, 0, 2, hand="left", fingers=(5,)),
             Note(62, 1, 2, hand="left", fingers=(1,)),   # left hand above ...
             Note(61, 1, 2, hand="right", fingers=(1,))]  # ... the right hand for 1 s
    seq = NoteSequence.from_notes(notes, name="s", sustain=[(0, 1)], source="here")
    summary = summarize(prepare(seq, stretch=1.0))
    assert summary.steps == 40 and summary.seconds == 2.0 and summary.chunks == 1
    assert summary.lowest == "C3" and summary.highest == "G4" and summary.has_fingering
    assert summary.hands["right"].notes == 4 and summary.hands["right"].max_keys_down == 3
    assert summary.hands["right"].max_span == 7 and summary.hands["left"].max_span == 14
    assert summary.crossing_steps == 20 and summary.sustain_fraction == 0.5
    labels = [label for label, _ in summary.rows()]
    assert labels[:3] == ["song", "source", "hands from"] and "hands cross" in labels


def test_summary_of_unassigned_notes():
    seq = NoteSequence.from_notes([Note(60, 0, 1)], name="u")
    summary = summarize(prepare(seq))
    assert list(summary.hands) == ["unassigned"] and summary.crossing_steps == 0
    assert not summary.has_fingering
