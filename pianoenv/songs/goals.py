"""Preprocess a note sequence into per-control-step goals, as RP1M does.

``prepare`` stretches the piece (1.25 = 25% slower), trims the leading silence and
discretises it at the control timestep (0.05 s): ``keys[t, k]`` says key ``k`` should be
down during step ``t``. The environment shows the agent ``window(t)``, the goals of steps
``t .. t+10`` (lookahead 10, L = 11), and RP1M cuts every piece into chunks of 550 steps
(27.5 s) so each episode has the same length; ``"song:3"`` names chunk 3.

Note-to-step conventions (RoboPianist's note trajectory):

* a note with onset ``on`` and offset ``off`` (seconds, after stretching) is active on steps
  ``round(on/dt) .. round(off/dt) - 1``, at least one step (round = half up);
* a key struck again must be released in between, or the goal could never be met by
  re-pressing it. When two notes on the same key would touch or overlap, the *earlier* note
  ends one step before the later one starts, so the later onset stays on time (RoboPianist
  instead drops the first step of the later note). If the earlier note has only one step to
  give, the later note's start moves one step later instead (if it is longer than one step);
  only two back-to-back one-step notes stay contiguous, and then ``onsets`` still marks
  the second strike. Two notes on the same key and the same step merge into one (the
  longer); a note fully inside an earlier one on the same key cuts that one short.
  ``note_steps`` records the step span each note finally got;
* the sustain pedal is down on ``round(start/dt) .. round(end/dt) - 1`` for each interval;
  with trimming on, pedal time after the last note ends is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from fingering.notes import HIGHEST_PITCH, LOWEST_PITCH, NUM_KEYS, Note, NoteSequence
from handspec.errors import InputError

CONTROL_TIMESTEP = 0.05
STRETCH = 1.25
LOOKAHEAD = 10
CHUNK_LENGTH = 550
NO_FINGER = -1
_EPS = 1e-9  # so 0.15 / 0.05 = 2.9999999999999996 still rounds to 3
# Size limits, checked before anything is allocated: a prepared song is a few (T, 88)
# arrays, so a note at 1e6 s or a 1e-9 s control step would ask for gigabytes.
MAX_STEPS = 200_000                      # 2.8 hours at 0.05 s; ~18 MB per (T, 88) array
CONTROL_TIMESTEP_RANGE = (1e-3, 1.0)     # seconds
STRETCH_RANGE = (0.05, 20.0)


def time_to_step(seconds: float | np.ndarray, dt: float) -> np.ndarray:
    """Round half up: the step a time falls closest to."""
    return np.floor(np.asarray(seconds) / dt + 0.5 + _EPS).astype(np.int64)


def finger_code(note: Note) -> int:
    """RoboPianist's finger numbering: 0..4 right thumb..little, 5..9 left, -1 unknown."""
    if note.finger is None or note.hand is None:
        return NO_FINGER
    return note.finger - 1 + (0 if note.hand == "right" else 5)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class SongGoals:
    """What the agent must play, step by step (arrays are read-only).

    keys:     (T, 88) bool, key k should be down during step t
    onsets:   (T, 88) bool, a note on key k starts at step t (shows re-strikes)
    fingers:  (T, 88) int8, the human finger for an active key (0..4 right thumb..little,
              5..9 left thumb..little) or -1 when unknown or the key is inactive
    sustain:  (T,) bool, sustain pedal down
    notes:    the preprocessed (stretched, trimmed) NoteSequence, times in seconds
    note_steps: (N, 2) int, [start, end) step span of each note of ``notes``
    start_step: index of step 0 in the whole song (non-zero for a chunk)
    """

    name: str
    keys: np.ndarray
    onsets: np.ndarray
    fingers: np.ndarray
    sustain: np.ndarray
    notes: NoteSequence
    note_steps: np.ndarray
    control_timestep: float = CONTROL_TIMESTEP
    start_step: int = 0
    metadata: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.keys.shape[0]

    @property
    def num_steps(self) -> int:
        return self.keys.shape[0]

    @property
    def duration(self) -> float:
        return self.num_steps * self.control_timestep

    @property
    def num_chunks(self) -> int:
        """Number of ``CHUNK_LENGTH`` (550-step) chunks; the last one may be shorter."""
        return self.chunk_count(CHUNK_LENGTH)

    def chunk_count(self, length: int = CHUNK_LENGTH) -> int:
        if length <= 0:
            raise ValueError(f"chunk length must be positive, got {length}")
        return max(1, math.ceil(self.num_steps / length))

    def head(self, max_steps: int | None) -> "SongGoals":
        """The first ``max_steps`` steps (all of them when ``None`` or the song is shorter):
        a short opening for a training budget of minutes, RP1M's chunk cut shorter."""
        if max_steps is None:
            return self
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise InputError(f"must be a positive number of steps, got {max_steps!r}",
                             file=self.name, field="max_steps")
        return self if self.num_steps <= max_steps else self.chunk(0, length=max_steps)

    def chunk(self, index: int, length: int = CHUNK_LENGTH) -> "SongGoals":
        """Steps ``index*length .. (index+1)*length - 1`` as their own ``SongGoals``.

        Its notes are those whose (final) start step lies in the chunk, shifted to the
        chunk's start and clipped to it; a note held over from the previous chunk
        stays in ``keys`` (the key must stay down) but not in ``notes`` or ``onsets``.
        """
        count = self.chunk_count(length)
        if not 0 <= index < count:
            raise InputError(f"chunk {index} is out of range: this song has {count} "
                             f"chunk{'s' if count > 1 else ''} of {length} steps "
                             f"(0..{count - 1})", file=self.name, field="chunk")
        lo, hi = index * length, min((index + 1) * length, self.num_steps)
        inside = (self.note_steps[:, 0] >= lo) & (self.note_steps[:, 0] < hi)
        shift, end = lo * self.control_timestep, hi * self.control_timestep
        # clipped at 0 too: a note rounded onto the chunk's first step may start a bit earlier
        notes = [replace(n, onset=max(n.onset - shift, 0.0),
                         offset=max(min(n.offset, end) - shift, 0.0))
                 for n, keep in zip(self.notes.notes, inside) if keep]
        chunk_notes = NoteSequence(tuple(notes), f"{self.notes.name}:{index}",
                                   _clip_intervals(self.notes.sustain, shift, end),
                                   dict(self.notes.metadata, chunk=index, chunk_length=length))
        steps = np.minimum(self.note_steps[inside], hi) - lo
        return SongGoals(
            name=f"{self.name}:{index}", keys=_readonly(self.keys[lo:hi].copy()),
            onsets=_readonly(self.onsets[lo:hi].copy()),
            fingers=_readonly(self.fingers[lo:hi].copy()),
            sustain=_readonly(self.sustain[lo:hi].copy()), notes=chunk_notes,
            note_steps=_readonly(steps), control_timestep=self.control_timestep,
            start_step=self.start_step + lo,
            metadata=dict(self.metadata, chunk=index, chunk_length=length))

    def window(self, t: int, lookahead: int = LOOKAHEAD) -> tuple[np.ndarray, np.ndarray]:
        """Goals of steps ``t .. t+lookahead``: keys ``(L, 88)`` and sustain ``(L,)``, L =
        lookahead + 1, zero (nothing to press) past the end of the song."""
        if t < 0 or lookahead < 0:
            raise ValueError(f"window needs t >= 0 and lookahead >= 0, got {t}, {lookahead}")
        size = lookahead + 1
        keys = np.zeros((size, NUM_KEYS), dtype=bool)
        sustain = np.zeros(size, dtype=bool)
        n = max(0, min(size, self.num_steps - t))
        keys[:n] = self.keys[t:t + n]
        sustain[:n] = self.sustain[t:t + n]
        return keys, sustain

    def with_fingering(self, notes: NoteSequence) -> "SongGoals":
        """These goals with the hands and fingers of ``notes``: the same notes in the same
        order (e.g. ``fingering.annotate.suggest_fingering(goals.notes, reach)``), so a
        song without human labels can be played with a machine fingering as the labels.
        Keys no note of ``notes`` starts (held over into a chunk) stay unlabelled."""
        if len(notes.notes) != len(self.notes.notes) or any(
                (a.pitch, a.onset) != (b.pitch, b.onset) for a, b in zip(notes.notes, self.notes.notes)):
            raise ValueError("with_fingering needs the goals' own notes, in their order")
        fingers = np.full(self.keys.shape, NO_FINGER, dtype=np.int8)
        for note, (start, end) in zip(notes.notes, self.note_steps):
            fingers[start:min(end, self.num_steps), note.key] = finger_code(note)
        return replace(self, fingers=_readonly(fingers), notes=notes)

    @property
    def has_fingering(self) -> bool:
        return bool((self.fingers[self.keys] >= 0).all()) and bool(self.keys.any())


def _clip_intervals(intervals, lo: float, hi: float) -> tuple[tuple[float, float], ...]:
    """Intervals intersected with ``[lo, hi]`` and shifted so ``lo`` becomes 0."""
    out = []
    for start, end in intervals:
        s, e = max(start, lo), min(end, hi)
        if e > s:
            out.append((s - lo, e - lo))
    return tuple(out)


def _resolve_same_key(spans: list[list[int]]) -> list[bool]:
    """Make same-key notes release in between (rules in the module docstring).

    ``spans``: [start, end) per note of one key, sorted by start; edited in place.
    Returns which notes survive (False = merged into the previous one).
    """
    keep = [True] * len(spans)
    prev: list[int] | None = None
    for i, span in enumerate(spans):
        if prev is None:
            prev = span
            continue
        if span[0] <= prev[0]:  # same start (after earlier fixes): one strike, keep the longer
            prev[1] = max(prev[1], span[1])
            keep[i] = False
            continue
        if prev[1] >= span[0]:  # touching or overlapping: release before the next strike
            if span[0] - 1 > prev[0]:
                prev[1] = span[0] - 1
            else:  # the earlier note has a single step before the next starts
                prev[1] = span[0]
                if span[1] - span[0] >= 2:
                    span[0] += 1
        prev = span
    return keep


def _check_arguments(seq: NoteSequence, control_timestep: float, stretch: float) -> None:
    for name, value, (lo, hi) in (("control_timestep", control_timestep, CONTROL_TIMESTEP_RANGE),
                                  ("stretch", stretch, STRETCH_RANGE)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value) or not lo <= value <= hi:
            raise InputError(f"must be a number in [{lo:g}, {hi:g}], got {value!r}",
                             file=seq.name, field=name)


def _check_size(seq: NoteSequence, dt: float, stretch: float, trim_silence: bool) -> None:
    """Finite times and at most ``MAX_STEPS`` steps, decided before allocating them."""
    for i, note in enumerate(seq.notes):
        if not (math.isfinite(note.onset) and math.isfinite(note.offset)) or note.onset < 0:
            raise InputError(f"note {i} has onset {note.onset!r} and offset {note.offset!r}; "
                             "times must be finite and >= 0", file=seq.name, field="onset")
    first = min(n.onset for n in seq.notes) if trim_silence else 0.0
    last = max(n.offset for n in seq.notes)
    end = last
    if not trim_silence:
        ends = [e for _, e in seq.sustain if math.isfinite(e)]
        if len(ends) != len(seq.sustain):
            raise InputError("sustain interval with a non-finite end", file=seq.name,
                             field="sustain")
        end = max([last, *ends])
    steps = (end - first) * stretch / dt
    if steps > MAX_STEPS:
        latest = max(seq.notes, key=lambda n: n.offset)
        raise InputError(f"{steps:.3g} steps of {dt:g} s (stretch {stretch:g}) is more than "
                         f"{MAX_STEPS}; the last note ends at {latest.offset:.6g} s "
                         "(a wrong time in the file?)", file=seq.name, field="duration")


def prepare(seq: NoteSequence, *, control_timestep: float = CONTROL_TIMESTEP,
            stretch: float = STRETCH, trim_silence: bool = True) -> SongGoals:
    """Turn a note sequence into per-step goals (see the module docstring for the rules)."""
    _check_arguments(seq, control_timestep, stretch)
    if not seq.notes:
        raise InputError("the song has no notes", file=seq.name, field="notes")
    outside = [n for n in seq.notes if not LOWEST_PITCH <= n.pitch <= HIGHEST_PITCH]
    if outside:
        raise InputError(f"pitch {outside[0].pitch} is outside the piano (21..108)",
                         file=seq.name, field="pitch")
    _check_size(seq, control_timestep, stretch, trim_silence)
    dt = control_timestep
    first = min(n.onset for n in seq.notes) if trim_silence else 0.0
    last = max(n.offset for n in seq.notes)
    notes = [replace(n, onset=(n.onset - first) * stretch, offset=(n.offset - first) * stretch)
             for n in seq.notes]
    sustain_src = _clip_intervals(seq.sustain, first, last if trim_silence else math.inf)
    sustain_iv = tuple((s * stretch, e * stretch) for s, e in sustain_src)

    starts = time_to_step([n.onset for n in notes], dt)
    ends = np.maximum(time_to_step([n.offset for n in notes], dt), starts + 1)
    spans = [[int(s), int(e)] for s, e in zip(starts, ends)]
    keep = [True] * len(notes)
    by_key: dict[int, list[int]] = {}
    for i in sorted(range(len(notes)), key=lambda i: (spans[i][0], -spans[i][1])):
        by_key.setdefault(notes[i].key, []).append(i)
    for indices in by_key.values():
        for i, kept in zip(indices, _resolve_same_key([spans[i] for i in indices])):
            keep[i] = kept

    sustain_steps = [(int(time_to_step(s, dt)), int(time_to_step(e, dt))) for s, e in sustain_iv]
    num_steps = max([spans[i][1] for i in range(len(notes)) if keep[i]]
                    + [e for _, e in sustain_steps])
    keys = np.zeros((num_steps, NUM_KEYS), dtype=bool)
    onsets = np.zeros_like(keys)
    fingers = np.full((num_steps, NUM_KEYS), NO_FINGER, dtype=np.int8)
    sustain = np.zeros(num_steps, dtype=bool)
    for s, e in sustain_steps:
        sustain[s:e] = True
    kept_notes, kept_spans = [], []
    for i in sorted((i for i in range(len(notes)) if keep[i]), key=lambda i: spans[i]):
        (s, e), note = spans[i], notes[i]
        keys[s:e, note.key] = True
        onsets[s, note.key] = True
        fingers[s:e, note.key] = finger_code(note)
        kept_notes.append(note)
        kept_spans.append(spans[i])
    meta = dict(seq.metadata, stretch=stretch, trimmed_seconds=first,
                control_timestep=dt)
    prepared = NoteSequence(tuple(kept_notes), seq.name, sustain_iv, meta)
    return SongGoals(
        name=seq.name, keys=_readonly(keys), onsets=_readonly(onsets),
        fingers=_readonly(fingers), sustain=_readonly(sustain), notes=prepared,
        note_steps=_readonly(np.array(kept_spans, dtype=np.int64).reshape(-1, 2)),
        control_timestep=dt, metadata={"source": seq.metadata.get("source", ""),
                                       "stretch": stretch, "trim_silence": trim_silence})
