"""MIDI files <-> ``NoteSequence`` (pretty_midi), with hands and the sustain pedal.

Which hand plays a note (MIDI has no notion of hands), in this order:

1. every pitched instrument's name says its hand ("Right hand", "RH", "left", "LH",
   "Piano left", ...): use the names (this is how ``write_midi`` saves a sequence, so a
   round trip keeps the hands);
2. exactly two pitched instruments: the first is the right hand, the second the left
   (the usual two-staff piano layout, and what pianoplayer expects);
3. anything else (one instrument, or three and more): notes at or above middle C (MIDI 60)
   go to the right hand, the rest to the left.

The sustain pedal is control change 64: value >= 64 is down, < 64 is up (the MIDI
convention); intervals from all instruments are merged. A pedal still down at the end
of the file is released at the end of the last note or pedal event.
Drum tracks are ignored. Fingering is not stored in MIDI files.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from fingering.notes import Hand, Note, NoteSequence
from handspec.errors import InputError
from handspec.atomic import atomic_output

if TYPE_CHECKING:  # pragma: no cover
    import pretty_midi

SUSTAIN_CC = 64
MIDDLE_C = 60
_RIGHT = re.compile(r"(^|[^a-z])(right|rh|r\.h\.|treble|upper)([^a-z]|$)", re.IGNORECASE)
_LEFT = re.compile(r"(^|[^a-z])(left|lh|l\.h\.|bass|lower)([^a-z]|$)", re.IGNORECASE)
HAND_INSTRUMENT_NAMES: dict[Hand, str] = {"right": "Right hand", "left": "Left hand"}


def _hand_from_name(name: str) -> Hand | None:
    right, left = bool(_RIGHT.search(name)), bool(_LEFT.search(name))
    if right == left:
        return None
    return "right" if right else "left"


def _parse(path: Path) -> "pretty_midi.PrettyMIDI":
    import pretty_midi

    if not path.is_file():
        raise InputError("no such file", file=path, field="file")
    try:
        with warnings.catch_warnings():  # pretty_midi warns about harmless meta events
            warnings.simplefilter("ignore")
            return pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # mido raises OSError/EOFError/KeyError/ValueError/... on junk
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"not a readable MIDI file ({reason})", file=path,
                         field="MIDI header") from None


def _sustain_intervals(midi: "pretty_midi.PrettyMIDI", end_time: float) -> list[tuple[float, float]]:
    events = sorted((cc.time, cc.value >= 64) for inst in midi.instruments
                    for cc in inst.control_changes if cc.number == SUSTAIN_CC)
    intervals: list[tuple[float, float]] = []
    down_since: float | None = None
    for time, down in events:
        if down and down_since is None:
            down_since = time
        elif not down and down_since is not None:
            if time > down_since:
                intervals.append((down_since, time))
            down_since = None
    if down_since is not None and end_time > down_since:
        intervals.append((down_since, end_time))
    return intervals


def read_midi(path: str | Path) -> NoteSequence:
    """Load a ``.mid``/``.midi`` file; hands as in the module docstring, no fingers.

    Raises ``InputError`` for a missing or unreadable file. Pitch range and emptiness are
    checked by ``load_song`` (so ``--transpose`` can be applied first).
    """
    path = Path(path)
    midi = _parse(path)
    instruments = [i for i in midi.instruments if not i.is_drum and i.notes]
    named = [_hand_from_name(i.name) for i in instruments]
    if instruments and all(named):
        hands = named
        rule = "instrument names"
    elif len(instruments) == 2:
        hands = ["right", "left"]
        rule = "two instruments: first = right"
    else:
        hands = [None] * len(instruments)
        rule = "split at middle C"
    notes = []
    for inst, hand in zip(instruments, hands):
        for n in inst.notes:
            h = hand or ("right" if n.pitch >= MIDDLE_C else "left")
            notes.append(Note(int(n.pitch), float(n.start), float(max(n.end, n.start)),
                              int(n.velocity), h))
    end = max([n.offset for n in notes]
              + [cc.time for i in midi.instruments for cc in i.control_changes], default=0.0)
    return NoteSequence.from_notes(notes, name=path.stem, sustain=_sustain_intervals(midi, end),
                                   source=str(path), hand_rule=rule)


def to_pretty_midi(seq: NoteSequence, *, program: int = 0) -> "pretty_midi.PrettyMIDI":
    """A two-track (right, left; unassigned notes go right) pretty_midi object; sustain as CC64."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    tracks = {hand: pretty_midi.Instrument(program=program, name=name)
              for hand, name in HAND_INSTRUMENT_NAMES.items()}
    for n in seq.notes:
        tracks[n.hand or "right"].notes.append(
            pretty_midi.Note(velocity=int(n.velocity), pitch=int(n.pitch), start=n.onset,
                             end=n.offset))
    used = [t for t in tracks.values() if t.notes]
    for start, end in seq.sustain:
        target = used[0] if used else tracks["right"]
        target.control_changes += [pretty_midi.ControlChange(SUSTAIN_CC, 127, start),
                                   pretty_midi.ControlChange(SUSTAIN_CC, 0, end)]
    midi.instruments.extend(used or [tracks["right"]])
    return midi


def write_midi(seq: NoteSequence, path: str | Path) -> Path:
    """Write ``seq`` to a MIDI file atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError("folder does not exist", file=path.parent, field="--out")
    midi = to_pretty_midi(seq)
    with atomic_output(path) as tmp:
        midi.write(str(tmp))
    return path
