"""Scores from music21's offline corpus, reduced to two piano hands.

music21 ships ~3,200 public-domain scores (no download). The playable ones listed here are

* the Bach chorale harmonizations (every ``bach/bwv*`` vocal score), four voices reduced the way a pianist
  plays from open score: soprano + alto in the right hand, tenor + bass in the left, an
  inner-voice note changing hands when the hands would otherwise cross or its own hand
  would have to stretch past an octave and the other would not (``reduce_satb``). Not every chorale fits in an octave per hand:
  ``song list --library music21 --check --max-span 12`` parses them all and keeps the
  ones that do;
* a handful of keyboard pieces (two staves: the higher staff is the right hand).

Tempo comes from the score's metronome marks (chorales carry a playback mark, usually
96 per quarter); a score without any mark plays at ``DEFAULT_QPM``. Ties are merged,
grace notes dropped, repeats not expanded, fermatas not held. No fingering.
music21 is imported inside the functions: importing it costs ~0.5 s.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from fingering.notes import Hand, Note, NoteSequence
from handspec.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from music21 import stream

PREFIX = "music21:"
DEFAULT_QPM = 80.0
MAX_HAND_SPAN = 12  # semitones a hand may cover at once in the chorale reduction

KEYBOARD_PIECES: dict[str, str] = {
    "bach/bwv846": "J. S. Bach, Prelude in C major BWV 846 (Well-Tempered Clavier I)",
    "mozart/k545/movement1_exposition": "Mozart, Piano Sonata K. 545, i (exposition)",
    "joplin/maple_leaf_rag": "Joplin, Maple Leaf Rag",
    "chopin/mazurka06-2": "Chopin, Mazurka op. 6 no. 2",
    "cpebach/h186": "C. P. E. Bach, keyboard piece H. 186",
    "schoenberg/opus19/movement2": "Schoenberg, Sechs kleine Klavierstuecke op. 19 no. 2",
    "schoenberg/opus19/movement6": "Schoenberg, Sechs kleine Klavierstuecke op. 19 no. 6",
    "schumann_clara/polonaise_op1n1": "Clara Schumann, Polonaise op. 1 no. 1",
    "schumann_clara/polonaise_op1n2": "Clara Schumann, Polonaise op. 1 no. 2",
    "schumann_clara/polonaise_op1n3": "Clara Schumann, Polonaise op. 1 no. 3",
    "schumann_clara/polonaise_op1n4": "Clara Schumann, Polonaise op. 1 no. 4",
}
_VOICE = {"soprano": "S", "alto": "A", "tenor": "T", "bass": "B"}


def chorale_paths() -> list[str]:
    """Corpus paths of the Bach chorale harmonizations (``bach/bwv*`` vocal scores), found by
    file name without parsing any. The Riemenschneider iterator of music21 misses ~60 of
    the files (e.g. bwv66.6), so the corpus listing is used instead."""
    from music21 import corpus

    paths = set()
    for path in corpus.getPaths():
        parts = Path(path).parts
        if len(parts) >= 2 and parts[-2] == "bach" and parts[-1].startswith("bwv"):
            paths.add(f"bach/{Path(parts[-1]).stem}")
    keyboard = {p for p in KEYBOARD_PIECES if p.startswith("bach/")}
    return sorted(paths - keyboard, key=_bwv_order)


def _bwv_order(path: str) -> tuple:
    """bwv1.6 < bwv2.6 < bwv10.7: numeric parts compared as numbers."""
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"(\d+)", path))


def music21_library() -> list[tuple[str, str]]:
    """``(song name, description)`` for every playable score; names load with ``load_song``."""
    items = [(f"{PREFIX}{p}", f"Bach chorale {p.split('/')[-1].upper()}, voices reduced to two "
                              "hands") for p in chorale_paths()]
    items += [(f"{PREFIX}{p}", d) for p, d in KEYBOARD_PIECES.items()]
    return items


def _seconds_map(score: "stream.Score"):
    """Quarter-length offset -> seconds, piecewise linear over the score's tempo marks."""
    from music21 import tempo

    marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
    qls, secs = [0.0], [0.0]
    last_bpm = DEFAULT_QPM
    if marks:
        for start, end, mark in score.metronomeMarkBoundaries():
            bpm = mark.getQuarterBPM() or DEFAULT_QPM
            if end > start:
                if start > qls[-1]:  # a gap: keep the previous tempo
                    secs.append(secs[-1] + (start - qls[-1]) * 60.0 / last_bpm)
                    qls.append(start)
                qls.append(end)
                secs.append(secs[-1] + (end - start) * 60.0 / bpm)
            last_bpm = bpm
    qls_a, secs_a = np.array(qls), np.array(secs)

    def to_seconds(ql: float) -> float:
        if ql <= qls_a[-1]:
            return float(np.interp(ql, qls_a, secs_a))
        return float(secs_a[-1] + (ql - qls_a[-1]) * 60.0 / last_bpm)

    return to_seconds


def _part_notes(part, to_seconds) -> list[Note]:
    notes = []
    for element in part.stripTies().flatten().notes:
        if element.duration.isGrace or element.quarterLength <= 0:
            continue
        start = float(element.offset)
        onset, offset = to_seconds(start), to_seconds(start + float(element.quarterLength))
        for p in element.pitches:  # a Note has one pitch, a Chord several
            notes.append(Note(int(p.midi), onset, offset, 64))
    return notes


def _voice(part) -> str | None:
    name = f"{part.partName or ''} {part.id or ''}".lower()
    found = {v for k, v in _VOICE.items() if re.search(rf"\b{k}", name)}
    return found.pop() if len(found) == 1 else None


def _overlapping(note: Note, others: Sequence[Note]) -> list[Note]:
    return [o for o in others if o.onset < note.offset and note.onset < o.offset]


def reduce_satb(s: list[Note], a: list[Note], t: list[Note], b: list[Note],
                max_span: int = MAX_HAND_SPAN) -> list[Note]:
    """Four voices -> two hands, the way a pianist plays a chorale from open score.

    The soprano is always the right hand and the bass always the left. Alto and tenor notes,
    in time order (higher first at the same onset), go to the hand that, with the notes it
    already holds at that time, is best by these criteria in order: the hands do not cross
    (right-hand notes stay above left-hand ones); the hand spans at most ``max_span``
    semitones; it is the voice's usual hand (alto right, tenor left); it stretches less.
    """
    hands: dict[Hand, list[Note]] = {"right": [replace(n, hand="right") for n in s],
                                     "left": [replace(n, hand="left") for n in b]}
    inner = sorted([(n, "right") for n in a] + [(n, "left") for n in t],
                   key=lambda item: (item[0].onset, -item[0].pitch))

    def cost(note: Note, hand: Hand, usual: Hand) -> tuple[bool, bool, bool, int]:
        same = [o.pitch for o in _overlapping(note, hands[hand])]
        other = [o.pitch for o in _overlapping(note, hands["left" if hand == "right" else
                                                             "right"])]
        crosses = (hand == "right" and any(p > note.pitch for p in other)) or \
                  (hand == "left" and any(p < note.pitch for p in other))
        span = max((abs(note.pitch - p) for p in same), default=0)
        return crosses, span > max_span, hand != usual, span

    for note, usual in inner:
        hand = min(("right", "left"), key=lambda h: cost(note, h, usual))
        hands[hand].append(replace(note, hand=hand))
    return hands["right"] + hands["left"]


def reduce_parts(parts: list[list[Note]], voices: list[str | None]) -> tuple[list[Note], str]:
    """Assign hands to the notes of each part; returns the notes and the rule used.

    Named SATB voices (other parts, e.g. doubling instruments, are dropped) or exactly four
    unnamed parts (voices by mean pitch) use ``reduce_satb``; one part is the right hand;
    otherwise the higher half of the parts by mean pitch is the right hand (two staves:
    the higher staff).
    """
    by_voice = {v: p for v, p in zip(voices, parts) if v}
    parts = [p for p in parts if p]
    ordered = sorted(parts, key=lambda p: -np.mean([n.pitch for n in p]))
    if set(by_voice) != set("SATB") and len(ordered) == 4 and not any(voices):
        by_voice = dict(zip("SATB", ordered))
    if set(by_voice) == set("SATB"):
        return reduce_satb(by_voice["S"], by_voice["A"], by_voice["T"], by_voice["B"]), "SATB"
    if len(ordered) == 1:
        return [replace(n, hand="right") for n in ordered[0]], "one part: right hand"
    upper = (len(ordered) + 1) // 2
    hands: list[Hand] = ["right"] * upper + ["left"] * (len(ordered) - upper)
    notes = [replace(n, hand=h) for part, h in zip(ordered, hands) for n in part]
    return notes, "higher parts right, lower parts left"


def load_music21(spec: str) -> NoteSequence:
    """Parse ``music21:<corpus path>`` (e.g. ``music21:bach/bwv66.6``) into two hands."""
    from music21 import corpus, stream

    path = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    try:
        score = corpus.parse(path)
    except Exception as exc:  # music21 raises CorpusException and others for bad paths
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputError(f"cannot load from the music21 corpus ({reason}); "
                         "see 'pianohands song list --library music21'",
                         file=spec, field="corpus path") from None
    if not isinstance(score, stream.Score) or not score.parts:
        raise InputError(f"is a {type(score).__name__}, not a single score with parts",
                         file=spec, field="corpus path")
    to_seconds = _seconds_map(score)
    parts = [_part_notes(p, to_seconds) for p in score.parts]
    voices = [_voice(p) for p in score.parts]
    notes, rule = reduce_parts(parts, voices)
    name = path.replace("/", "_")
    return NoteSequence.from_notes(notes, name=name, source=f"{PREFIX}{path}", hand_rule=rule)
