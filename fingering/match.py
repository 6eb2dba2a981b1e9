"""Agreement of a fingering with human annotators (Nakamura et al. 2020, Sec. 5.1).

For one piece with annotators n = 1..N and an estimated fingering:

* **general** match rate: the fraction of notes whose finger equals annotator n's,
  averaged over the N annotators;
* **highest**: the best of those N rates;
* **soft**: the fraction of notes whose finger equals *any* annotator's.

A note matches when the hand and the first finger (the one that presses the key) are equal;
a note without a finger never matches. Rates are given overall and per hand. Per hand,
annotator n's rate is over the notes *n* gives to that hand; for the soft rate a note
belongs to the hand most annotators give it (ties: the lowest-numbered annotator).

An estimate may leave notes without a finger (a policy that never pressed them). Besides the
rates over all notes (where such a note is a miss, as above), ``PieceMatch.played`` gives
the rates over the notes the estimate fingered, with their number: "which finger" and
"whether it played at all" are two questions, and one number over all notes hides which
one went wrong. The confusion matrix keeps both: its two last columns count the notes the
estimate gave to the other hand and those it left unplayed.

Files of one piece share their note list; notes are aligned by (pitch, onset) with
duplicates taken in order, so an estimate may come from any source that kept the notes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from fingering.notes import CHORD_TOLERANCE_S, FINGER_NAMES, NoteSequence

HANDS = ("right", "left")
# columns of ``PieceMatch.confusion``: the estimate's finger, then the other hand, then no finger
CONFUSION_COLUMNS = tuple(FINGER_NAMES) + ("other hand", "unplayed")
OTHER_HAND, UNPLAYED = 5, 6


@dataclass(frozen=True)
class MatchRates:
    general: float
    highest: float
    soft: float
    notes: int
    annotators: int


@dataclass(frozen=True)
class PieceMatch:
    """Match rates of one estimate against all annotators of one piece."""

    piece: str
    overall: MatchRates
    per_hand: dict[str, MatchRates]
    per_annotator: tuple[float, ...]
    # (2, 5, 7) counts of (note, annotator) pairs [human hand, human finger, estimate]; the
    # estimate's column is its finger on the same hand, or OTHER_HAND, or UNPLAYED
    confusion: np.ndarray = field(repr=False)
    hand_mismatch: int = 0                      # (note, annotator) pairs with other hand
    unfingered: int = 0                         # estimate notes without a finger
    played: MatchRates | None = None            # rates over the notes the estimate fingered
    played_per_hand: dict[str, MatchRates] | None = None

    @property
    def notes(self) -> int:
        return self.overall.notes

    @property
    def fingered(self) -> int:
        """Notes the estimate gave a finger (for a policy: the notes it pressed)."""
        return self.notes - self.unfingered


def _note_key(pitch: int, onset: float) -> tuple[int, int]:
    return pitch, int(round(onset * 1e4))


def align(estimate: NoteSequence, reference: NoteSequence) -> np.ndarray:
    """For each reference note, the index of the same note in ``estimate`` (-1 if absent)."""
    slots: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, n in enumerate(estimate.notes):
        slots[_note_key(n.pitch, n.onset)].append(i)
    taken: dict[tuple[int, int], int] = defaultdict(int)
    out = np.full(len(reference), -1, dtype=np.int64)
    for j, n in enumerate(reference.notes):
        key = _note_key(n.pitch, n.onset)
        k = taken[key]
        if k < len(slots[key]):
            out[j] = slots[key][k]
            taken[key] += 1
    return out


def _labels(seq: NoteSequence, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(hand code 0 right / 1 left / -1 none, finger 1..5 or 0) per note."""
    notes = seq.notes
    hands = np.array([HANDS.index(n.hand) if n.hand in HANDS else -1 for n in notes], dtype=int)
    fingers = np.array([n.finger or 0 for n in notes], dtype=int)
    if index is None:
        return hands, fingers
    ok = index >= 0
    h = np.full(len(index), -1)
    f = np.zeros(len(index), dtype=int)
    h[ok], f[ok] = hands[index[ok]], fingers[index[ok]]
    return h, f


def _rates(matches: np.ndarray, masks: np.ndarray, soft_mask: np.ndarray) -> MatchRates:
    """matches/masks: (N, M) bool per annotator and note; soft_mask: (M,) notes counted."""
    per = [m[k].mean() if k.any() else np.nan for m, k in zip(matches, masks)]
    valid = [p for p in per if not np.isnan(p)]
    soft_hits = (matches & masks).any(axis=0)[soft_mask]
    return MatchRates(float(np.mean(valid)) if valid else float("nan"),
                      float(np.max(valid)) if valid else float("nan"),
                      float(soft_hits.mean()) if soft_hits.size else float("nan"),
                      int(soft_mask.sum()), len(matches))


def match_rates(estimate: NoteSequence, annotators: Sequence[NoteSequence],
                piece: str = "") -> PieceMatch:
    """Match rates of ``estimate`` against every fingering in ``annotators``."""
    if not annotators:
        raise ValueError("need at least one annotator fingering")
    reference = annotators[0]
    est_h, est_f = _labels(estimate, align(estimate, reference))
    human = []
    for ann in annotators:
        index = align(ann, reference)
        if (index < 0).any():
            raise ValueError(f"annotator fingering {ann.name!r} does not share the note list "
                             f"of {reference.name!r}")
        human.append(_labels(ann, index))
    hh = np.array([h for h, _ in human])          # (N, M)
    hf = np.array([f for _, f in human])
    matches = (hh == est_h[None]) & (hf == est_f[None]) & (est_f[None] > 0)
    everything = np.ones_like(matches)
    votes = np.stack([(hh == k).sum(axis=0) for k in range(2)])  # (2, M)
    consensus = np.where(votes[0] > votes[1], 0, np.where(votes[1] > votes[0], 1, hh[0]))
    overall = _rates(matches, everything, np.ones(matches.shape[1], bool))
    per_hand = {name: _rates(matches, hh == k, consensus == k) for k, name in enumerate(HANDS)}
    played = est_f > 0
    played_overall = _rates(matches, everything & played[None], played)
    played_per_hand = {name: _rates(matches, (hh == k) & played[None], (consensus == k) & played)
                       for k, name in enumerate(HANDS)}
    # every (note, annotator) pair with a human hand and finger lands in one cell of its row
    column = np.where(~played[None], UNPLAYED,
                      np.where(hh == est_h[None], est_f[None] - 1, OTHER_HAND))
    confusion = np.zeros((2, 5, len(CONFUSION_COLUMNS)), dtype=np.int64)
    for n in range(len(annotators)):
        sel = (hh[n] >= 0) & (hf[n] > 0)
        np.add.at(confusion, (hh[n][sel], hf[n][sel] - 1, column[n][sel]), 1)
    return PieceMatch(piece or reference.name, overall, per_hand,
                      tuple(float(m.mean()) for m in matches), confusion,
                      int(((hh != est_h[None]) & (est_h[None] >= 0) & played[None]).sum()),
                      int((~played).sum()), played_overall, played_per_hand)


def human_agreement(annotators: Sequence[NoteSequence], piece: str = "") -> PieceMatch | None:
    """Leave-one-out human baseline: each annotator scored against the others, averaged.

    Returns None for a piece with a single annotator. Rates are means over the held-out
    annotator; the confusion matrices are summed.
    """
    if len(annotators) < 2:
        return None
    parts = [match_rates(annotators[i], [a for j, a in enumerate(annotators) if j != i], piece)
             for i in range(len(annotators))]

    def mean_rates(items: list[MatchRates]) -> MatchRates:
        return MatchRates(*(float(np.nanmean([getattr(r, f) for r in items]))
                            for f in ("general", "highest", "soft")),
                          items[0].notes, len(annotators))

    return PieceMatch(piece or annotators[0].name, mean_rates([p.overall for p in parts]),
                      {h: mean_rates([p.per_hand[h] for p in parts]) for h in HANDS},
                      tuple(p.overall.general for p in parts),
                      sum(p.confusion for p in parts),
                      sum(p.hand_mismatch for p in parts),
                      int(round(np.mean([p.unfingered for p in parts]))),
                      mean_rates([p.played for p in parts]),
                      {h: mean_rates([p.played_per_hand[h] for p in parts]) for h in HANDS})


def summarize(results: Sequence[PieceMatch]) -> dict[str, float]:
    """Mean over pieces (each piece weighs the same) of every rate, plus the note count."""
    out: dict[str, float] = {"pieces": float(len(results)),
                             "notes": float(sum(r.overall.notes for r in results))}
    for kind in ("general", "highest", "soft"):
        out[kind] = float(np.nanmean([getattr(r.overall, kind) for r in results]))
        for hand in HANDS:
            out[f"{kind}_{hand}"] = float(np.nanmean([getattr(r.per_hand[hand], kind)
                                                      for r in results]))
    return out


def finger_counts(seqs: Sequence[NoteSequence]) -> tuple[np.ndarray, np.ndarray]:
    """((2, 5) notes of each hand played by each finger, (2,) notes of each hand with no
    finger), summed over ``seqs``; rows right, left."""
    counts = np.zeros((2, 5), dtype=np.int64)
    unplayed = np.zeros(2, dtype=np.int64)
    for seq in seqs:
        for n in seq.notes:
            if n.hand not in HANDS:
                continue
            if n.finger:
                counts[HANDS.index(n.hand), n.finger - 1] += 1
            else:
                unplayed[HANDS.index(n.hand)] += 1
    return counts, unplayed


def usage_shares(counts: np.ndarray) -> np.ndarray:
    """Each row of ``counts`` as shares of its total (a row without notes stays zero)."""
    counts = np.asarray(counts, dtype=float)
    totals = counts.sum(axis=-1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def finger_usage(seqs: Sequence[NoteSequence]) -> np.ndarray:
    """(2, 5) fraction of each hand's *fingered* notes played by each finger, pooled over
    ``seqs`` (a share, so show it with ``finger_counts``: one note can make a 1.0)."""
    return usage_shares(finger_counts(seqs)[0])


def crossings_without_thumb(seq: NoteSequence, tolerance: float = CHORD_TOLERANCE_S
                            ) -> tuple[int, int]:
    """(crossings, pairs): how often consecutive single notes cross two non-thumb fingers.

    For each hand, notes are grouped by onset (within ``tolerance`` of a group's first
    onset, as the annotator does); a *pair* is two consecutive groups of one fingered note
    each. It is a crossing without the thumb when both fingers are non-thumb, differ, the
    keys differ and the pitch moves against the finger order (right hand: a higher finger
    on a lower key; left hand mirrored), e.g. 5-4 ascending or 3-4 descending in the right
    hand. Thumb-under and finger-over-thumb passages are not counted: they are technique.
    """
    crossings = pairs = 0
    for hand, sign in (("right", 1), ("left", -1)):
        notes = sorted((n for n in seq.notes if n.hand == hand), key=lambda n: (n.onset, n.pitch))
        groups: list[list] = []
        for n in notes:
            if groups and n.onset - groups[-1][0].onset <= tolerance:
                groups[-1].append(n)
            else:
                groups.append([n])
        for first, second in zip(groups, groups[1:]):
            if len(first) != 1 or len(second) != 1:
                continue
            a, b = first[0], second[0]
            if not a.finger or not b.finger:
                continue
            pairs += 1
            if (a.finger != 1 and b.finger != 1 and a.finger != b.finger
                    and (b.finger - a.finger) * (b.pitch - a.pitch) * sign < 0):
                crossings += 1
    return crossings, pairs
