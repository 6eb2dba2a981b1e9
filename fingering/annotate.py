"""Offline fingering annotator: a fingering for every note of a song, without RL.

The model is the one behind RP1M's OT fingering, stretched over time: a hand is a rigid set
of fingertips (``FingerReach.rest_tips``) that slides along the keyboard; pressing key ``k``
with finger ``f`` puts the hand at ``h = y_k - rest_y[f]``. The best fingering is found
exactly by dynamic programming (Viterbi) over the note groups of each hand; a state is an
order-preserving choice of fingers for a group's keys. Two named cost models
(``COST_MODELS``):

``travel`` (v1): how far the hand travels between consecutive groups (what RP1M's d_OT
penalises at every step), plus

* **reach** (hard): inside a chord, two keys pressed by fingers ``a, b`` must be at most
  ``max_span[a, b]`` apart along the keyboard, and fingers keep their left-to-right order
  (a chord never crosses fingers). Keys held over from the previous group must stay within
  reach of the new ones (soft, ``held_span`` per metre of excess) and their fingers cannot
  be reused (``held_reuse``).
* **movement**: ``move`` x |delta h| (metres), discounted after rests (the hand has time
  to reposition: factor ``1 / (1 + free_time / rest_time)``).
* **stretch**: ``stretch`` x the deviation of a chord's fingertips from the rest shape.
* **finger repetition**: ``repeat`` when one finger plays two different keys in a row,
  scaled up for fast successions.
* **depth**: black keys sit further back; a finger whose rest tip is nearer the player
  (the thumb on most hands) pays ``black_depth`` x that extra depth on a black key.

``biomech`` (v2, default): the same plus sequential biomechanics between consecutive
groups (``_sequential``): each finger pair's interval against a comfortable band derived
from the hand's rest gaps and joint-limit spans, crossings allowed as thumb-under /
finger-over-thumb within the thumb's reach (``cross_thumb``) and expensive otherwise
(``cross_other``), weak fingers (``weak``), a thumb-like finger moving between black and
white keys (``black_thumb``), and a working thumb tucked toward its neighbour
(``thumb_tuck``). Its weights were fitted by ``fingering.fit`` (docs/fingering.md).

Hands: notes that carry a hand keep it (``respect_hands``); otherwise a second Viterbi
chooses, for every onset group, where to split it between the hands (``assign_hands``),
respecting each hand's finger count and span. The left hand uses ``reach.mirrored()``.

Fingers are reported on the canonical 1..5 scale (thumb..little) by finger *name*, so a
four-finger hand yields fingers from its names (e.g. 1..4 for thumb..ring).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from fingering import keyboard
from fingering.notes import CHORD_TOLERANCE_S, FINGER_NAMES, Hand, Note, NoteSequence
from handspec.reach import FingerReach
from handspec.spec import finger_number


@dataclass(frozen=True)
class AnnotatorConfig:
    """Weights of the annotator's cost (units: metres of hand travel).

    The first block is the rigid-hand travel model (v1); the second block, sequential
    biomechanics between consecutive onset groups, is zero in the ``travel`` model. Spans
    are never given in metres here: they are fractions of the hand's own rest gaps and
    joint-limit spans (``FingerReach``), so every hand gets its own.
    """

    move: float = 1.0
    rest_time: float = 0.5
    stretch: float = 0.5
    repeat: float = 0.02
    repeat_urgent_ioi: float = 0.25
    held_reuse: float = 1.0
    held_span: float = 10.0
    black_depth: float = 0.5
    infeasible: float = 10.0
    # sequential biomechanics (consecutive groups of one hand; 0 = off)
    span: float = 0.0            # per metre a finger pair's interval leaves its comfortable band
    comfort: float = 0.5         # band top: rest gap + comfort x (max span - rest gap)
    compress: float = 0.5        # band bottom: compress x rest gap
    cross_thumb: float = 0.0     # per thumb-under / finger-over-thumb crossing
    cross_other: float = 0.0     # per crossing of two non-thumb fingers
    cross_distance: float = 0.0  # per metre of crossing (how far the thumb passes under)
    weak: float = 0.0            # per note played by a weak finger (ring, little)
    black_thumb: float = 0.0     # thumb-like finger on a black key next to a white one
    thumb_tuck: float = 0.0      # share of its rest gap the thumb closes toward its neighbour
    # hand assignment
    hand_move: float = 0.05      # per semitone of a hand's mean pitch moving
    hand_side: float = 0.2       # per semitone a hand plays on the "wrong" side of middle C
    split_pitch: int = 60        # middle C: right hand at or above, by preference

    @property
    def sequential(self) -> bool:
        return any((self.span, self.cross_thumb, self.cross_other, self.cross_distance,
                    self.black_thumb, self.thumb_tuck))


FITTED_WEIGHTS = ("move", "stretch", "repeat", "black_depth", "span", "comfort",
                  "cross_thumb", "cross_other", "cross_distance", "weak", "black_thumb",
                  "thumb_tuck")
"""The handful of weights ``fingering.fit`` tunes (the rest are physical constants)."""

COST_MODELS: dict[str, AnnotatorConfig] = {
    # v1: rigid-hand travel plus chord shape, finger repetition and black-key depth.
    "travel": AnnotatorConfig(),
    # v2: travel plus crossings, spans, weak fingers and thumb on black in context. Weights
    # fitted by ``pianohands fingering fit`` (4 folds by piece, 3 rounds) on the 12 PIG
    # pieces of ../shared/data/pig with shadow_five, from ``fingering.fit.START``;
    # held-out (cross-validated) general match 64.6%, docs/fingering.md.
    "biomech": AnnotatorConfig(move=2.0, stretch=4.0, repeat=0.04, black_depth=0.25,
                               span=1.25, comfort=0.65, cross_thumb=0.04, cross_other=0.6,
                               cross_distance=0.0, weak=0.04, black_thumb=0.04,
                               thumb_tuck=0.35),
}
DEFAULT_MODEL = "biomech"


def cost_model(name: str) -> AnnotatorConfig:
    """The named cost model (``travel`` | ``biomech``); ValueError for another name."""
    if name not in COST_MODELS:
        raise ValueError(f"unknown cost model {name!r}; choose one of {', '.join(COST_MODELS)}")
    return COST_MODELS[name]


@dataclass(frozen=True)
class _Group:
    onset: float
    end: float                     # latest offset in the group
    notes: tuple[int, ...]         # indices into the hand's note list, sorted by key y


def finger_numbers(reach: FingerReach) -> tuple[int, ...]:
    """Finger number of each finger of ``reach``, by name: 1..5 for thumb..little, 6, 7, ...
    for a hand's extra fingers in their order (``handspec.spec.finger_number``)."""
    return tuple(finger_number(name, tuple(reach.fingers)) for name in reach.fingers)


def generic_reach(spacing: float = 0.023, thumb_gap: float = 0.04,
                  max_span: float = 0.20) -> FingerReach:
    """A human-sized five-finger right hand (tests, examples, hands without a spec).

    Adjacent fingertips ``spacing`` apart (about one white key), the thumb ``thumb_gap``
    left of the index and 4 cm nearer the player; thumb-little span ``max_span``.
    """
    y = np.array([-thumb_gap, 0.0, spacing, 2 * spacing, 3 * spacing])
    tips = np.column_stack([[0.04, 0.0, 0.0, 0.005, 0.015], y, np.zeros(5)])
    order_gap = np.abs(np.arange(5)[:, None] - np.arange(5)[None, :])
    span = np.minimum(max_span, 0.06 + 0.035 * order_gap) * (order_gap > 0)
    span[0, 1:] = span[1:, 0] = np.minimum(max_span, 0.09 + 0.03 * np.arange(1, 5))
    return FingerReach("generic", FINGER_NAMES, tips, span)


def _groups(onsets: np.ndarray, offsets: np.ndarray, ys: np.ndarray,
            tolerance: float = CHORD_TOLERANCE_S) -> list[_Group]:
    order = np.lexsort((ys, onsets))
    groups: list[list[int]] = []
    start = -np.inf
    for i in order:
        if groups and onsets[i] - start <= tolerance:
            groups[-1].append(int(i))
        else:
            groups.append([int(i)])
            start = onsets[i]
    out = []
    for g in groups:
        g = sorted(g, key=lambda i: (ys[i], i))
        out.append(_Group(float(onsets[g].min()), float(offsets[g].max()), tuple(g)))
    return out


@dataclass
class _States:
    fingers: np.ndarray   # (S, c) finger index per group note (sorted by y)
    h: np.ndarray         # (S,) hand position along the keyboard
    unary: np.ndarray     # (S,)


_CROSS_EPS = 1e-3  # metres: keys closer than this along the keyboard are the same key
WEAK_FINGERS = ("ring", "little")


@dataclass(frozen=True)
class _Geometry:
    """Everything the cost needs from one hand's ``FingerReach`` (left: mirrored).

    ``sign[a, b]`` is the direction from finger a to finger b at rest (+1 toward higher y).
    A pair's interval ``u`` (key distance measured in that direction) is comfortable in
    ``[band_lo, band_hi]``: from ``compress`` x the rest gap to the rest gap plus ``comfort``
    x what the joint limits allow beyond it (``max_span``). ``u < 0`` is a crossing; one
    with the thumb may reach ``cross_reach`` (the span left beyond the rest gap, less for
    fingers further from the thumb), others always pay ``cross_other``.
    """

    numbers: tuple[int, ...]
    order: np.ndarray        # finger indices left to right
    rest_y: np.ndarray
    depth: np.ndarray        # (F,) how much nearer the player than the farthest tip (m)
    depth_share: np.ndarray  # (F,) depth / largest depth (thumb-like fingers > 0)
    sign: np.ndarray         # (F, F)
    band_lo: np.ndarray      # (F, F)
    band_hi: np.ndarray      # (F, F)
    cross_reach: np.ndarray  # (F, F), 0 for pairs without a thumb
    thumb_pair: np.ndarray   # (F, F) bool
    weak: np.ndarray         # (F,) 1.0 for weak fingers

    @staticmethod
    def of(reach: FingerReach, cfg: AnnotatorConfig) -> "_Geometry":
        rest_y = reach.rest_tips[:, 1].copy()
        num = len(rest_y)
        thumb = np.array([name == "thumb" for name in reach.fingers])
        if cfg.thumb_tuck and thumb.any() and num > 1:
            # The working thumb sits adducted, nearer its neighbour than at the spec's rest.
            t = int(np.flatnonzero(thumb)[0])
            others = np.flatnonzero(~thumb)
            nb = others[np.argmin(np.abs(rest_y[others] - rest_y[t]))]
            rest_y[t] += cfg.thumb_tuck * (rest_y[nb] - rest_y[t])
        gap = rest_y[None, :] - rest_y[:, None]
        rest = np.abs(gap)
        spare = np.maximum(reach.max_span - rest, 0.0)
        order = np.argsort(rest_y, kind="stable")
        rank = np.empty(num, dtype=int)
        rank[order] = np.arange(num)
        rank_gap = np.abs(rank[:, None] - rank[None, :])
        thumb_pair = (thumb[:, None] ^ thumb[None, :])
        # The thumb passes furthest under its neighbour, less under fingers further out
        # and not under the outermost finger (the hand would have to turn over).
        decay = np.where(rank_gap >= num - 1, 0.0, 1.0 - (rank_gap - 1) / max(num - 1, 1))
        depth = reach.rest_tips[:, 0] - reach.rest_tips[:, 0].min()
        return _Geometry(
            numbers=finger_numbers(reach), order=order, rest_y=rest_y, depth=depth,
            depth_share=depth / depth.max() if depth.max() > 0 else depth,
            sign=np.sign(gap), band_lo=cfg.compress * rest,
            band_hi=rest + cfg.comfort * spare,
            cross_reach=np.where(thumb_pair, spare * decay, 0.0), thumb_pair=thumb_pair,
            weak=np.array([name in WEAK_FINGERS for name in reach.fingers], dtype=float))


def _states(ys: np.ndarray, black: np.ndarray, geo: _Geometry, reach: FingerReach,
            cfg: AnnotatorConfig) -> _States:
    """All order-preserving finger choices for one group (keys sorted by y)."""
    c = len(ys)
    combos = np.array(list(itertools.combinations(geo.order, c)), dtype=np.int64)  # (S, c)
    offsets = ys[None, :] - geo.rest_y[combos]                                   # (S, c)
    h = offsets.mean(axis=1)
    unary = cfg.stretch * np.abs(offsets - h[:, None]).sum(axis=1)
    unary += cfg.black_depth * (geo.depth[combos] * black[None, :]).sum(axis=1)
    if cfg.weak:
        unary += cfg.weak * geo.weak[combos].sum(axis=1)
    if c > 1:
        excess = np.zeros(len(combos))
        for i, j in itertools.combinations(range(c), 2):
            gap = abs(ys[j] - ys[i])
            excess += np.maximum(0.0, gap - reach.max_span[combos[:, i], combos[:, j]] - 1e-9)
        unary += cfg.infeasible * (excess > 0) + cfg.held_span * excess
    return _States(combos, h, unary)


def _sequential(prev: _States, cur: _States, yp: np.ndarray, yc: np.ndarray,
                bp: np.ndarray, bc: np.ndarray, geo: _Geometry,
                cfg: AnnotatorConfig) -> np.ndarray:
    """(Sp, Sc) biomechanical cost of every finger pair between two consecutive groups.

    Each (previous note, next note) pair played by two different fingers is scored by
    where its interval falls for that finger pair: inside the comfortable band it is free,
    outside it costs ``span`` per metre; against the fingers' order it is a crossing
    (thumb-under / finger-over-thumb within ``cross_reach``, anything else ``cross_other``).
    A thumb-like finger moving onto a black key from a white one (or back) pays
    ``black_thumb`` x its depth share. Pairs are averaged, so chords weigh like notes.
    """
    a = prev.fingers[:, None, :, None]                     # (Sp, 1, cp, 1)
    b = cur.fingers[None, :, None, :]                      # (1, Sc, 1, cc)
    d = (yc[None, :] - yp[:, None])[None, None]            # (1, 1, cp, cc)
    u = d * geo.sign[a, b]
    other = a != b
    moved = np.abs(d) > _CROSS_EPS
    cross = other & moved & (u < 0)
    thumb = geo.thumb_pair[a, b]
    depth = -np.minimum(u, 0.0)
    cost = np.where(cross & thumb, cfg.cross_thumb
                    + cfg.infeasible * (depth > geo.cross_reach[a, b]), 0.0)
    cost = cost + cfg.cross_other * (cross & ~thumb) + cfg.cross_distance * cross * depth
    outside = (np.maximum(0.0, u - geo.band_hi[a, b])
               + np.maximum(0.0, geo.band_lo[a, b] - u))
    cost = cost + cfg.span * (other & moved & ~cross) * outside
    if cfg.black_thumb:
        switch = (bc[None, :] != bp[:, None])[None, None]  # white <-> black
        cost = cost + cfg.black_thumb * switch * other * (
            geo.depth_share[b] * bc[None, None, None, :] + geo.depth_share[a]
            * bp[None, None, :, None])
    return cost.mean(axis=(2, 3))


def _finger_hand(notes: Sequence[Note], reach: FingerReach, cfg: AnnotatorConfig,
                 pinned: bool = False) -> tuple[list[tuple[int, ...]], float]:
    """Viterbi over the onset groups of one hand. Returns (finger numbers per note, cost).

    ``pinned``: keep only the states that use each note's own finger, so the optimum is
    the cost of that fingering (``inf`` if a chord's fingers break the finger order).
    """
    if not notes:
        return [], 0.0
    press = keyboard.key_press_points()
    keys = np.array([n.key for n in notes])
    ys = press[keys, 1]
    black = keyboard.black_mask()[keys].astype(float)
    onsets = np.array([n.onset for n in notes])
    offsets = np.array([n.offset for n in notes])
    geo = _Geometry.of(reach, cfg)
    num_fingers = len(geo.numbers)
    groups = _groups(onsets, offsets, ys)

    result: list[tuple[int, ...]] = [()] * len(notes)
    played: list[list[int]] = []     # per group: note indices that get a finger
    states: list[_States] = []
    for g in groups:
        idx = g.notes
        if len(idx) > num_fingers:  # more notes than fingers: keep an evenly spread subset
            keep = np.linspace(0, len(idx) - 1, num_fingers).round().astype(int)
            idx = tuple(idx[i] for i in keep)
        played.append(list(idx))
        found = _states(ys[list(idx)], black[list(idx)], geo, reach, cfg)
        if pinned:
            want = np.array([geo.numbers.index(notes[i].finger) for i in idx])
            keep = (found.fingers == want[None, :]).all(axis=1)
            if not keep.any():
                return [notes[i].fingers for i in range(len(notes))], float("inf")
            found = _States(found.fingers[keep], found.h[keep], found.unary[keep])
        states.append(found)

    cost = states[0].unary.copy()
    back: list[np.ndarray] = []
    sequential = cfg.sequential
    for t in range(1, len(groups)):
        prev, cur = states[t - 1], states[t]
        prev_idx, cur_idx = played[t - 1], played[t]
        free = groups[t].onset - groups[t - 1].end
        factor = 1.0 / (1.0 + max(free, 0.0) / cfg.rest_time)
        trans = cfg.move * factor * np.abs(cur.h[None, :] - prev.h[:, None])
        if sequential:
            trans += factor * _sequential(prev, cur, ys[prev_idx], ys[cur_idx],
                                          black[prev_idx], black[cur_idx], geo, cfg)
        ioi = groups[t].onset - groups[t - 1].onset
        urgency = 1.0 + cfg.repeat_urgent_ioi / max(ioi, 1e-3)
        prev_key = np.full((len(prev.h), num_fingers), -1)
        cur_key = np.full((len(cur.h), num_fingers), -1)
        rows = np.arange(len(prev.h))[:, None]
        prev_key[rows, prev.fingers] = keys[prev_idx][None, :]
        rows = np.arange(len(cur.h))[:, None]
        cur_key[rows, cur.fingers] = keys[cur_idx][None, :]
        both = (prev_key[:, None, :] >= 0) & (cur_key[None, :, :] >= 0)
        moved = both & (prev_key[:, None, :] != cur_key[None, :, :])
        trans += cfg.repeat * urgency * moved.any(axis=2)
        held = [j for j, i in enumerate(prev_idx) if offsets[i] > groups[t].onset + 1e-6]
        for j in held:
            i = prev_idx[j]
            f_held = prev.fingers[:, j]                  # (Sp,) finger holding key i
            same = cur_key[:, f_held].T                  # (Sp, Sc) key it must play now
            trans += cfg.held_reuse * ((same >= 0) & (same != keys[i]))
            gaps = np.abs(ys[cur_idx] - ys[i])                              # (c,)
            spans = reach.max_span[f_held[:, None, None], cur.fingers[None, :, :]]
            excess = np.maximum(0.0, gaps[None, None, :] - spans).sum(axis=2)
            trans += cfg.held_span * excess
        total = cost[:, None] + trans
        best = np.argmin(total, axis=0)
        back.append(best)
        cost = total[best, np.arange(len(cur.h))] + cur.unary

    s = int(np.argmin(cost))
    final = float(cost[s])
    for t in range(len(groups) - 1, -1, -1):
        for j, i in enumerate(played[t]):
            result[i] = (geo.numbers[states[t].fingers[s, j]],)
        if t:
            s = int(back[t - 1][s])
    return result, final


def assign_hands(seq: NoteSequence, reach: FingerReach,
                 config: AnnotatorConfig | None = None) -> list[Hand]:
    """A hand for every note: Viterbi over onset groups choosing where each group splits.

    Within a group (pitch-sorted) the lowest ``s`` notes go to the left hand. Costs: a hand
    given more notes than it has fingers, or a wider chord than its widest span, is
    penalised heavily, counting the notes it still holds from the previous group; hands
    prefer their side of ``split_pitch``; each hand's mean pitch should move little from
    one group to the next.
    """
    cfg = config or AnnotatorConfig()
    notes = seq.notes
    if not notes:
        return []
    pitches = np.array([n.pitch for n in notes], dtype=float)
    ys = keyboard.key_press_points()[[n.key for n in notes], 1]
    groups = _groups(np.array([n.onset for n in notes]), np.array([n.offset for n in notes]), ys)
    num_fingers = len(reach.fingers)
    widest = float(reach.max_span.max())

    def split_costs(g: _Group) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = list(g.notes)
        p, y = pitches[idx], ys[idx]
        n = len(idx)
        unary = np.zeros(n + 1)
        left_mean = np.full(n + 1, np.nan)
        right_mean = np.full(n + 1, np.nan)
        for s in range(n + 1):
            for part, name in ((slice(0, s), "left"), (slice(s, n), "right")):
                pp, yy = p[part], y[part]
                if pp.size == 0:
                    continue
                extra = max(0, pp.size - num_fingers)
                wide = max(0.0, float(yy.max() - yy.min()) - widest)
                unary[s] += cfg.infeasible * (extra + (wide > 0)) + cfg.held_span * wide
                if name == "left":
                    unary[s] += cfg.hand_side * np.maximum(0, pp - cfg.split_pitch).sum()
                    left_mean[s] = pp.mean()
                else:
                    unary[s] += cfg.hand_side * np.maximum(0, cfg.split_pitch - 1 - pp).sum()
                    right_mean[s] = pp.mean()
        return unary, left_mean, right_mean

    def extents(g: _Group, only_held_at: float | None = None) -> np.ndarray:
        """(n+1, 2 hands, 3) per split: note count, min y, max y (held notes only if asked)."""
        idx = list(g.notes)
        n = len(idx)
        held = np.array([only_held_at is None or notes[i].offset > only_held_at + 1e-6
                         for i in idx])
        out = np.zeros((n + 1, 2, 3))
        out[:, :, 1], out[:, :, 2] = np.inf, -np.inf
        for s in range(n + 1):
            for hand, part in ((0, range(0, s)), (1, range(s, n))):
                yy = [ys[idx[k]] for k in part if held[k]]
                if yy:
                    out[s, hand] = (len(yy), min(yy), max(yy))
        return out

    first = split_costs(groups[0])
    cost = first[0].copy()
    back: list[np.ndarray] = []
    # track each state's last known hand positions along the best path into it
    last_left, last_right = first[1].copy(), first[2].copy()
    for prev_group, g in zip(groups, groups[1:]):
        unary, lm, rm = split_costs(g)
        move_l = np.abs(lm[None, :] - last_left[:, None])
        move_r = np.abs(rm[None, :] - last_right[:, None])
        trans = cfg.hand_move * (np.nan_to_num(move_l) + np.nan_to_num(move_r))
        # Notes still held from the previous group occupy fingers of their hand: the new
        # notes given to that hand must fit in its remaining fingers and its span.
        held = extents(prev_group, only_held_at=g.onset)[:, None]        # (Sp, 1, 2, 3)
        now = extents(g)[None]                                          # (1, Sc, 2, 3)
        both = (held[..., 0] > 0) & (now[..., 0] > 0)
        extra = np.maximum(0, held[..., 0] + now[..., 0] - num_fingers)
        width = np.maximum(held[..., 2], now[..., 2]) - np.minimum(held[..., 1], now[..., 1])
        wide = np.where(both, np.maximum(0.0, width - widest), 0.0)
        trans += (cfg.infeasible * (extra + (wide > 0)) + cfg.held_span * wide).sum(axis=2)
        total = cost[:, None] + trans
        best = np.argmin(total, axis=0)
        back.append(best)
        cost = total[best, np.arange(len(unary))] + unary
        last_left = np.where(np.isnan(lm), last_left[best], lm)
        last_right = np.where(np.isnan(rm), last_right[best], rm)

    hands: list[Hand] = ["right"] * len(notes)
    s = int(np.argmin(cost))
    for t in range(len(groups) - 1, -1, -1):
        for k, i in enumerate(groups[t].notes):
            hands[i] = "left" if k < s else "right"
        if t:
            s = int(back[t - 1][s])
    return hands


def _lend_overflow(notes: Sequence[Note], hands: list[Hand],
                   fingers: list[tuple[int, ...]]) -> list[int]:
    """Give each note left without a finger to the other hand when that hand is free.

    Free: none of the other hand's notes sounds at any time during the note (its onset
    to its offset). Returns the indices of the notes moved (``hands`` is updated).
    """
    moved = []
    for i, n in enumerate(notes):
        if fingers[i]:
            continue
        other: Hand = "left" if hands[i] == "right" else "right"
        busy = any(hands[j] == other and notes[j].onset < n.offset + 1e-6
                   and notes[j].offset > n.onset - 1e-6 for j in range(len(notes)) if j != i)
        if not busy:
            hands[i] = other
            moved.append(i)
    return moved


def suggest_fingering(seq: NoteSequence, reach: FingerReach, *,
                      model: str = DEFAULT_MODEL, config: AnnotatorConfig | None = None,
                      respect_hands: bool = True,
                      lend_overflow: bool | None = None) -> NoteSequence:
    """Propose a hand and a finger for every note of ``seq`` for the hand ``reach``.

    ``reach`` describes the right hand; the left is ``reach.mirrored()``. Notes keep their
    hand when they have one and ``respect_hands`` (e.g. PIG channels); the others get one
    from ``assign_hands``. The cost is the named ``model`` (``COST_MODELS``) unless a
    ``config`` is given. Returns a new sequence in the order of ``seq`` (same notes, hands
    and single fingers filled in); ``metadata["fingering_cost"]`` holds the optimum per
    hand.

    A group with more notes than the hand has fingers (a 5-note chord for a four-finger
    hand) keeps an evenly spread subset; with ``lend_overflow`` (default: when hands are
    re-assigned, ``respect_hands=False``) each note left over goes to the other hand if
    that hand plays nothing while it sounds (``metadata["lent"]`` counts them). Notes still
    without a finger have ``fingers=()`` (written as finger 0 in PIG files) and are counted
    in ``metadata["unfingered"]``.
    """
    cfg = config or cost_model(model)
    notes = list(seq.notes)
    if respect_hands and all(n.hand for n in notes):
        hands = [n.hand for n in notes]
    else:
        guess = assign_hands(seq, reach, cfg)
        hands = [n.hand if (respect_hands and n.hand) else g for n, g in zip(notes, guess)]
    lend = (not respect_hands) if lend_overflow is None else lend_overflow
    fingers, costs = _finger_both(notes, hands, reach, cfg)
    lent = _lend_overflow(notes, hands, fingers) if lend else []
    if lent:
        fingers, costs = _finger_both(notes, hands, reach, cfg)
    out = [replace(n, hand=h, fingers=f) for n, h, f in zip(notes, hands, fingers)]
    result = NoteSequence(tuple(out), seq.name, seq.sustain, dict(seq.metadata))
    result.metadata.update(fingering_method="suggest", fingering_cost=costs,
                           unfingered=sum(1 for n in out if not n.fingers), lent=len(lent))
    return result


def fingering_cost(seq: NoteSequence, reach: FingerReach, config: AnnotatorConfig | None = None,
                   *, model: str = DEFAULT_MODEL) -> float:
    """The annotator's cost of a given fingering (e.g. a human's), both hands summed.

    Every note needs a hand and a finger the hand has; a chord whose fingers break the
    finger order costs ``inf``. ``suggest_fingering``'s result has the least cost of all.
    """
    cfg = config or cost_model(model)
    numbers = finger_numbers(reach)
    for n in seq.notes:
        if n.hand not in ("right", "left") or n.finger not in numbers:
            raise ValueError(f"note (pitch {n.pitch}, onset {n.onset}) needs a hand and one "
                             f"of the hand's fingers {numbers}, has {n.hand} {n.fingers}")
    total = 0.0
    for hand, hand_reach in (("right", reach), ("left", reach.mirrored())):
        total += _finger_hand([n for n in seq.notes if n.hand == hand], hand_reach, cfg,
                              pinned=True)[1]
    return total


def _finger_both(notes: Sequence[Note], hands: Sequence[Hand], reach: FingerReach,
                 cfg: AnnotatorConfig) -> tuple[list[tuple[int, ...]], dict[str, float]]:
    """Fingers of every note (each hand planned on its own) and the optimum per hand."""
    fingers: list[tuple[int, ...]] = [()] * len(notes)
    costs = {}
    for hand, hand_reach in (("right", reach), ("left", reach.mirrored())):
        idx = [i for i, h in enumerate(hands) if h == hand]
        found, costs[hand] = _finger_hand([notes[i] for i in idx], hand_reach, cfg)
        for i, f in zip(idx, found):
            fingers[i] = f
    return fingers, costs
