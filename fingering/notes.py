"""The project's note-sequence type: what every song source (MIDI, PIG, built-in) becomes.

It lives in ``fingering/`` (the lowest layer that needs it) so PIG I/O and the offline
annotator can use it without a simulator; ``pianoenv.songs`` builds on it.
Pitches are MIDI numbers (A0 = 21 .. C8 = 108); hands are ``"right"``/``"left"`` or None;
fingers use the canonical 1..5 (thumb..little) numbering, unsigned, per hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Literal, Sequence

Hand = Literal["right", "left"]
FINGER_NAMES: tuple[str, ...] = ("thumb", "index", "middle", "ring", "little")
LOWEST_PITCH = 21   # A0
HIGHEST_PITCH = 108  # C8
NUM_KEYS = 88
CHORD_TOLERANCE_S = 0.03  # onsets of one hand closer than this form one group (a chord)


@dataclass(frozen=True)
class Note:
    """One note. ``fingers`` holds every finger of a substitution (first one presses)."""

    pitch: int
    onset: float
    offset: float
    velocity: int = 64
    hand: Hand | None = None
    fingers: tuple[int, ...] = ()

    @property
    def finger(self) -> int | None:
        """The finger that presses the key (first of a substitution), or None if unknown."""
        return self.fingers[0] if self.fingers else None

    @property
    def key(self) -> int:
        """Piano key index 0..87 (A0 = 0)."""
        return self.pitch - LOWEST_PITCH

    @property
    def duration(self) -> float:
        return self.offset - self.onset


@dataclass(frozen=True)
class NoteSequence:
    """An ordered, immutable list of notes plus the sustain pedal intervals of a piece."""

    notes: tuple[Note, ...]
    name: str = "untitled"
    sustain: tuple[tuple[float, float], ...] = ()
    metadata: dict = field(default_factory=dict, compare=False)

    @staticmethod
    def from_notes(notes: Iterable[Note], name: str = "untitled",
                   sustain: Sequence[tuple[float, float]] = (), **metadata) -> "NoteSequence":
        ordered = tuple(sorted(notes, key=lambda n: (n.onset, n.pitch, n.offset)))
        return NoteSequence(ordered, name, tuple(sustain), dict(metadata))

    def __len__(self) -> int:
        return len(self.notes)

    def __iter__(self):
        return iter(self.notes)

    @property
    def duration(self) -> float:
        ends = [n.offset for n in self.notes] + [end for _, end in self.sustain]
        return max(ends, default=0.0)

    @property
    def pitch_range(self) -> tuple[int, int]:
        pitches = [n.pitch for n in self.notes]
        return (min(pitches), max(pitches)) if pitches else (0, 0)

    @property
    def has_fingering(self) -> bool:
        return bool(self.notes) and all(n.finger is not None and n.hand for n in self.notes)

    def for_hand(self, hand: Hand) -> "NoteSequence":
        return replace(self, notes=tuple(n for n in self.notes if n.hand == hand))

    def with_notes(self, notes: Iterable[Note]) -> "NoteSequence":
        return NoteSequence.from_notes(notes, self.name, self.sustain, **self.metadata)
