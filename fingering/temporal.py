"""Per-note fingering from what a hand actually did over time.

Two sources, one output (a ``NoteSequence`` with a hand and a finger per note, ready for
``write_pig`` and ``match_rates``):

* ``fingering_from_contacts``: the environment's contact log, ``(step, hand, finger_name,
  key)`` for every control step a fingertip touches a pressed key (``pianoenv``'s
  ``contact_log``). A note gets the finger that touched its key for the most steps in the
  note's first ``window`` seconds (ties: the earliest), so a finger grazing the key at the
  release does not outvote the one that pressed it.
* ``fingering_from_trajectories``: fingertip positions (T, F, 3) at given times, e.g. a
  recorded rollout without contacts. At every step the keys sounding are assigned to
  fingertips by the OT solver (RP1M Eq. 1); each note takes the finger that OT picked most
  often during its first ``window`` seconds (or at the step nearest its onset when the
  note is shorter than a step).

A note nothing could be attributed to keeps its hand and gets no finger (``fingers=()``);
``metadata["unattributed"]`` counts them.

Without trajectories, ``fingering.annotate.suggest_fingering`` plans a fingering from the
rest pose and reach of a hand spec instead.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from typing import Iterable, Sequence

import numpy as np

from fingering import keyboard
from fingering.costs import cost_matrix
from fingering.notes import FINGER_NAMES, NoteSequence
from fingering.solvers import solve

Contact = tuple[int, str, str, int]  # (control step, hand, finger name, key index)


def _finger_number(name: str) -> int:
    if name in FINGER_NAMES:
        return FINGER_NAMES.index(name) + 1
    raise ValueError(f"unknown finger name {name!r}; expected one of {FINGER_NAMES}")


def _assign(seq: NoteSequence, votes: dict[int, Counter], first_seen: dict[int, dict]
            ) -> NoteSequence:
    notes = list(seq.notes)
    missing = 0
    for i, note in enumerate(notes):
        tally = votes.get(i)
        if not tally:
            notes[i] = replace(note, fingers=())
            missing += 1
            continue
        best = max(tally.items(), key=lambda kv: (kv[1], -first_seen[i][kv[0]]))[0]
        hand, finger = best
        notes[i] = replace(note, hand=hand, fingers=(finger,))
    out = NoteSequence(tuple(notes), seq.name, seq.sustain, dict(seq.metadata))
    out.metadata["unattributed"] = missing
    return out


def fingering_from_contacts(seq: NoteSequence, contacts: Iterable[Contact], *,
                            step_seconds: float = 0.05, time_offset: float = 0.0,
                            window: float = 0.15) -> NoteSequence:
    """Fingering of ``seq`` from a contact log.

    ``step_seconds`` is the control timestep; a contact at step ``s`` happened at
    ``time_offset + s * step_seconds`` in the song's time (``time_offset`` undoes an
    initial silence buffer or trimming the environment applied). A contact counts for a
    note when it is on the note's key within ``[onset - step_seconds, onset + window]``
    and before the note's offset.
    """
    by_key: dict[int, list[tuple[float, tuple[str, int]]]] = defaultdict(list)
    for step, hand, finger, key in contacts:
        if hand not in ("right", "left"):
            raise ValueError(f"contact hand must be 'right' or 'left', got {hand!r}")
        by_key[int(key)].append((time_offset + step * step_seconds,
                                 (hand, _finger_number(finger))))
    votes: dict[int, Counter] = {}
    first_seen: dict[int, dict] = {}
    for i, note in enumerate(seq.notes):
        lo = note.onset - step_seconds
        hi = min(note.onset + window, max(note.offset, note.onset + step_seconds))
        tally: Counter = Counter()
        seen: dict = {}
        for t, label in by_key.get(note.key, ()):
            if lo - 1e-9 <= t <= hi + 1e-9:
                tally[label] += 1
                seen.setdefault(label, t)
        if tally:
            votes[i], first_seen[i] = tally, seen
    return _assign(seq, votes, first_seen)


def fingering_from_trajectories(seq: NoteSequence, fingertips: np.ndarray, times: np.ndarray,
                                fingers: Sequence[tuple[str, str]], *, method: str = "jv",
                                respect_hands: bool = False, window: float = 0.15
                                ) -> NoteSequence:
    """Fingering of ``seq`` from fingertip positions over time, by OT at every step.

    fingertips: (T, F, 3) positions in the piano frame (m); times: (T,) seconds, increasing;
    fingers: F labels ``(hand, finger_name)``; ``respect_hands`` forbids a note's key to the
    other hand's fingers when the note has a hand.
    """
    tips = np.asarray(fingertips, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    if tips.ndim != 3 or tips.shape[2] != 3 or tips.shape[0] != t.shape[0]:
        raise ValueError(f"fingertips must be (T, F, 3) with T = len(times); got {tips.shape} "
                         f"and {t.shape}")
    if tips.shape[1] != len(fingers):
        raise ValueError(f"{tips.shape[1]} fingertips but {len(fingers)} finger labels")
    labels = [(hand, _finger_number(name)) for hand, name in fingers]
    finger_hand = [hand for hand, _ in labels]
    press = keyboard.key_press_points()
    notes = seq.notes
    onsets = np.array([n.onset for n in notes])
    offsets = np.array([n.offset for n in notes])
    votes: dict[int, Counter] = defaultdict(Counter)
    first_seen: dict[int, dict] = defaultdict(dict)
    nearest = {i: int(np.argmin(np.abs(t - n.onset))) for i, n in enumerate(notes)} if len(t) \
        else {}
    steps_for: dict[int, list[int]] = defaultdict(list)
    for i in range(len(notes)):
        hit = np.flatnonzero((t >= onsets[i]) & (t <= onsets[i] + window) & (t < offsets[i]))
        for s in (hit.tolist() or [nearest[i]] if len(t) else []):
            steps_for[s].append(i)
    for s in sorted(steps_for):
        sounding = np.flatnonzero((onsets <= t[s]) & (t[s] < offsets))
        active = sorted(set(sounding.tolist()) | set(steps_for[s]))
        key_hand = [notes[i].hand if respect_hands else None for i in active]
        cost = cost_matrix(tips[s], press[[notes[i].key for i in active]],
                           key_hand=key_hand, finger_hand=finger_hand)
        assignment = solve(cost, method=method)
        for row, col in zip(assignment.keys.tolist(), assignment.fingers.tolist()):
            i = active[row]
            if i in steps_for[s]:
                votes[i][labels[col]] += 1
                first_seen[i].setdefault(labels[col], t[s])
    return _assign(seq, dict(votes), dict(first_seen))


from_trajectories = fingering_from_trajectories  # the short name used in the design notes
from_contacts = fingering_from_contacts
