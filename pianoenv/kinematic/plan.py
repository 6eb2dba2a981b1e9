"""Which fingertip presses which key at every control step: the annotator's plan, per step.

The offline annotator (``fingering.annotate.suggest_fingering``) gives every note of the
song a hand and a finger from the hand's reach. This module turns that into per-step arrays
indexed like the environment's fingertips (``env.finger_names`` order), which is all the
target builder needs: ``press[t, f]`` is the key fingertip ``f`` holds down during step
``t`` (or -1), ``onset[t, f]`` marks a new strike, and ``next_key`` / ``next_step`` say
which key the finger plays next and when, so it can hover over it early.

Notes the plan cannot give a finger are *reported*, never dropped silently: a chord with
more notes than the hand has fingers, a note held by a finger that the annotator also gave
to a later note (the held note is cut where the later one starts), a key that is down in
the goal but belongs to no note of this song or chunk (held over from the previous chunk),
or a finger the hand does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fingering.annotate import AnnotatorConfig, suggest_fingering
from handspec.reach import FingerReach
from handspec.spec import finger_number
from pianoenv.songs import SongGoals

NO_KEY = -1


@dataclass(frozen=True)
class Unreachable:
    """One goal key at one step that the kinematic pianist cannot press, and why."""

    step: int
    key: int
    reason: str


@dataclass
class FingerPlan:
    """Per-step finger->key assignment of one song for one pair of hands.

    press:     (T, F) int, key held down by fingertip f during step t, -1 for none
    onset:     (T, F) bool, fingertip f strikes its key at step t (a note starts)
    next_key:  (T, F) int, the key of fingertip f's next strike after step t (-1 if none)
    next_step: (T, F) int, the step of that strike (a large number if none)
    unreachable: goal keys no finger is planned for (see module docstring)
    fingered:  the annotator's output (hands and fingers per note), for inspection
    """

    press: np.ndarray
    onset: np.ndarray
    next_key: np.ndarray
    next_step: np.ndarray
    unreachable: list[Unreachable] = field(default_factory=list)
    fingered: object = None

    @property
    def num_steps(self) -> int:
        return self.press.shape[0]


def _tip_rows(finger_names: tuple[tuple[str, str], ...]) -> dict[tuple[str, int], int]:
    """(hand, finger number: 1..5 thumb..little, 6.. extra fingers) -> fingertip row."""
    names = tuple(dict.fromkeys(name for _, name in finger_names))
    return {(side, finger_number(name, names)): row
            for row, (side, name) in enumerate(finger_names)}


def plan_fingering(goals: SongGoals, finger_names: tuple[tuple[str, str], ...],
                   reach: FingerReach, config: AnnotatorConfig | None = None,
                   respect_hands: bool = True) -> FingerPlan:
    """Finger every note with the annotator and lay the result out per step and fingertip.

    ``respect_hands=False`` lets the annotator re-split the notes between the hands for this
    hand's reach instead of keeping the song's hands (a score's hands are a human's).
    """
    T, F = goals.num_steps, len(finger_names)
    press = np.full((T, F), NO_KEY, dtype=np.int64)
    onset = np.zeros((T, F), dtype=bool)
    owner = np.full((T, F), -1, dtype=np.int64)        # note index holding (t, f)
    unreachable: list[Unreachable] = []
    rows = _tip_rows(finger_names)
    fingered = None
    if goals.notes.notes:
        fingered = suggest_fingering(goals.notes, reach, config=config,
                                     respect_hands=respect_hands)
        order = np.argsort(goals.note_steps[:, 0], kind="stable")
        for i in order:
            note = fingered.notes[i]
            start, end = (int(v) for v in goals.note_steps[i])
            end = min(end, T)
            if end <= start:
                continue
            if note.finger is None:
                unreachable += [Unreachable(t, note.key, "more simultaneous keys than fingers")
                                for t in range(start, end)]
                continue
            row = rows.get((note.hand, note.finger))
            if row is None:
                unreachable += [Unreachable(t, note.key, f"the hand has no finger "
                                            f"{note.finger} ({note.hand})")
                                for t in range(start, end)]
                continue
            # a finger the annotator reuses while it still holds an earlier note: the
            # earlier note is cut where the new one starts (it cannot hold both keys)
            taken = np.flatnonzero(owner[start:end, row] >= 0) + start
            for t in taken:
                unreachable.append(Unreachable(int(t), int(press[t, row]),
                                               "finger needed for a later note"))
            press[start:end, row] = note.key
            owner[start:end, row] = i
            onset[start, row] = True
    # goal keys no note covers: held over from before a chunk's first step
    covered = np.zeros_like(goals.keys)
    t_idx, f_idx = np.nonzero(press >= 0)
    covered[t_idx, press[t_idx, f_idx]] = True
    for t, k in zip(*np.nonzero(goals.keys & ~covered)):
        if not any(u.step == t and u.key == k for u in unreachable):
            unreachable.append(Unreachable(int(t), int(k), "no note in this song or chunk "
                                           "starts it (held over from before)"))
    next_key, next_step = _next_strikes(press, onset)
    unreachable.sort(key=lambda u: (u.step, u.key))
    return FingerPlan(press, onset, next_key, next_step, unreachable, fingered)


def _next_strikes(press: np.ndarray, onset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every (t, f): the key and step of f's first strike strictly after t."""
    T, F = press.shape
    next_key = np.full((T, F), NO_KEY, dtype=np.int64)
    next_step = np.full((T, F), np.iinfo(np.int32).max, dtype=np.int64)
    key, step = np.full(F, NO_KEY), np.full(F, np.iinfo(np.int32).max)
    for t in range(T - 1, -1, -1):
        next_key[t], next_step[t] = key, step
        strikes = onset[t]
        key = np.where(strikes, press[t], key)
        step = np.where(strikes, t, step)
    return next_key, next_step
