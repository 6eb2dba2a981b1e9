"""Numbers that describe a prepared song: what ``song info`` and ``song list`` print.

Besides size and range it reports how hard each hand's chords are (most keys down at once,
widest spread in semitones), which is how to judge whether a reduced score is playable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fingering.keyboard import key_name
from fingering.notes import NUM_KEYS
from pianoenv.songs.goals import SongGoals


@dataclass(frozen=True)
class HandLoad:
    notes: int
    max_keys_down: int
    max_span: int  # semitones between the lowest and highest key down at once


@dataclass(frozen=True)
class SongSummary:
    name: str
    source: str
    hand_rule: str
    notes: int
    steps: int
    seconds: float
    chunks: int
    lowest: str
    highest: str
    has_fingering: bool
    sustain_fraction: float
    hands: dict[str, HandLoad]
    crossing_steps: int  # steps where a right-hand key lies below a left-hand key
    stretch: float = 1.0          # time stretch applied by prepare (1.25 in RP1M)
    trimmed_seconds: float = 0.0  # leading silence cut off (seconds as written)
    chunk: int | None = None      # the chunk index, None for a whole song

    def timing_note(self) -> str:
        """How the duration relates to the file: it is stretched and trimmed, not as written."""
        parts = [f"stretched {self.stretch:g}x" + (f" (= {self.seconds / self.stretch:.2f} s "
                                                   "as written)" if self.stretch != 1 else "")]
        parts.append(f"{self.trimmed_seconds:.2f} s of leading silence trimmed"
                     if self.trimmed_seconds > 0 else "no leading silence trimmed")
        if self.chunk is not None:
            parts.append(f"chunk {self.chunk} only")
        return "; ".join(parts)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a two-column table."""
        rows = [("song", self.name), ("source", self.source or "-"),
                ("hands from", self.hand_rule or "the score"),
                ("notes", str(self.notes)),
                ("duration", f"{self.seconds:.2f} s ({self.steps} steps)"),
                ("timing", self.timing_note()),
                ("chunks", f"{self.chunks} of 550 steps"),
                ("key range", f"{self.lowest} .. {self.highest}"),
                ("human fingering", "yes" if self.has_fingering else "no"),
                ("sustain", f"{100 * self.sustain_fraction:.0f}% of steps")]
        for hand, load in self.hands.items():
            rows.append((f"{hand} hand", f"{load.notes} notes, up to {load.max_keys_down} keys "
                                         f"at once, widest chord {load.max_span} semitones"))
        rows.append(("hands cross", f"on {self.crossing_steps} steps"))
        return rows


def _keys_down(goals: SongGoals, hand: str | None) -> np.ndarray:
    """(T, 88) bool: keys this hand's notes hold down."""
    down = np.zeros((goals.num_steps, NUM_KEYS), dtype=bool)
    for note, (start, end) in zip(goals.notes.notes, goals.note_steps):
        if note.hand == hand:
            down[start:end, note.key] = True
    return down


def _lowest_highest(down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per step, the lowest and highest key down (88 / -1 where none)."""
    keys = np.arange(NUM_KEYS)
    return (np.where(down, keys, NUM_KEYS).min(axis=1, initial=NUM_KEYS),
            np.where(down, keys, -1).max(axis=1, initial=-1))


def _hand_load(goals: SongGoals, hand: str | None) -> HandLoad:
    down = _keys_down(goals, hand)
    low, high = _lowest_highest(down)
    used = high >= 0
    span = int((high - low)[used].max()) if used.any() else 0
    return HandLoad(sum(n.hand == hand for n in goals.notes.notes),
                    int(down.sum(axis=1).max(initial=0)), span)


def summarize(goals: SongGoals) -> SongSummary:
    keys_used = np.nonzero(goals.keys.any(axis=0))[0]
    hands = {}
    for hand in ("right", "left", None):
        if any(n.hand == hand for n in goals.notes.notes):
            hands[hand or "unassigned"] = _hand_load(goals, hand)
    right_low, _ = _lowest_highest(_keys_down(goals, "right"))
    _, left_high = _lowest_highest(_keys_down(goals, "left"))
    crossing = int((right_low < left_high).sum())
    return SongSummary(
        name=goals.name, source=str(goals.notes.metadata.get("source", "")),
        hand_rule=str(goals.notes.metadata.get("hand_rule", "")),
        notes=len(goals.notes), steps=goals.num_steps, seconds=goals.duration,
        chunks=goals.num_chunks,
        lowest=key_name(int(keys_used.min())) if keys_used.size else "-",
        highest=key_name(int(keys_used.max())) if keys_used.size else "-",
        has_fingering=goals.has_fingering,
        sustain_fraction=float(goals.sustain.mean()) if goals.num_steps else 0.0,
        hands=hands, crossing_steps=crossing,
        stretch=float(goals.metadata.get("stretch", goals.notes.metadata.get("stretch", 1.0))),
        trimmed_seconds=float(goals.notes.metadata.get("trimmed_seconds", 0.0)),
        chunk=goals.notes.metadata.get("chunk"))
