"""Built-in pieces, generated in code (no data files), each with a human fingering.

Every note carries its hand and finger (1 = thumb .. 5 = little), so ``fingering="human"``
works on built-ins as it does on PIG pieces. Tempi are moderate (a quarter note is 0.5-0.6 s
before the 1.25 stretch) so that a robot trained for a few million steps can keep up;
RoboPianist's own etudes use 0.5 s notes. The right hand plays around C5 and the left
around C3, the octaves RoboPianist's etudes use, which sit under the default forearm
positions (y = +-0.15 m).

All melodies are public domain (traditional tunes, Beethoven's Ode to Joy, the Minuet in G
from the Anna Magdalena Bach notebook attributed to Petzold); the arrangements are ours.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Sequence

from fingering.notes import Hand, Note, NoteSequence

_NAME = re.compile(r"^([A-Ga-g])([#b]?)(-?\d)$")
_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def pitch(name: str) -> int:
    """MIDI number of a scientific pitch name: ``"C4"`` -> 60, ``"F#5"`` -> 78, ``"Bb2"`` -> 46."""
    match = _NAME.match(name)
    if not match:
        raise ValueError(f"not a pitch name: {name!r}")
    letter, accidental, octave = match.groups()
    return 12 * (int(octave) + 1) + _STEP[letter.upper()] + {"#": 1, "b": -1, "": 0}[accidental]


Event = tuple[str | Sequence[str], float, int | Sequence[int]]
"""(pitch name or chord of names, duration in beats, finger or one finger per chord note)."""


def line(hand: Hand, events: Iterable[Event], *, beat: float, start: float = 0.0,
         velocity: int = 80) -> list[Note]:
    """Notes of one hand played one event after the other (legato: each ends as the next starts).

    A pitch name ``"r"`` is a rest. Chords give one finger per note, in the same order.
    """
    notes: list[Note] = []
    t = start
    for names, beats, fingers in events:
        duration = beats * beat
        if names != "r":
            names = (names,) if isinstance(names, str) else tuple(names)
            fingers = (fingers,) if isinstance(fingers, int) else tuple(fingers)
            if len(names) != len(fingers):
                raise ValueError(f"{names}: one finger per note, got {fingers}")
            notes += [Note(pitch(n), t, t + duration, velocity, hand, (f,))
                      for n, f in zip(names, fingers)]
        t += duration
    return notes


def _seq(name: str, notes: Iterable[Note], description: str) -> NoteSequence:
    return NoteSequence.from_notes(notes, name=name, source="builtin", description=description)


# --- scales and arpeggios -----------------------------------------------------------------

_C_SCALE = ("C", "D", "E", "F", "G", "A", "B")
_RH_SCALE_UP, _RH_SCALE_DOWN = (1, 2, 3, 1, 2, 3, 4, 5), (4, 3, 2, 1, 3, 2, 1)
_LH_SCALE_UP, _LH_SCALE_DOWN = (5, 4, 3, 2, 1, 3, 2, 1), (2, 3, 1, 2, 3, 4, 5)
_SCALE_BEAT = 0.5


def _scale(hand: Hand, octave: int) -> list[Note]:
    """One octave of C major up and down with the standard fingering."""
    up = [f"{s}{octave}" for s in _C_SCALE] + [f"C{octave + 1}"]
    down = up[-2::-1]
    fu, fd = (_RH_SCALE_UP, _RH_SCALE_DOWN) if hand == "right" else (_LH_SCALE_UP, _LH_SCALE_DOWN)
    events = [(p, 1, f) for p, f in zip(up, fu)] + [(p, 1, f) for p, f in zip(down, fd)]
    events[-1] = (events[-1][0], 2, events[-1][2])  # hold the last note
    return line(hand, events, beat=_SCALE_BEAT)


def c_major_scale_rh() -> NoteSequence:
    return _seq("c_major_scale_rh", _scale("right", 5), "C major scale, right hand, C5-C6-C5")


def c_major_scale_lh() -> NoteSequence:
    return _seq("c_major_scale_lh", _scale("left", 3), "C major scale, left hand, C3-C4-C3")


def c_major_scale() -> NoteSequence:
    return _seq("c_major_scale", _scale("right", 5) + _scale("left", 3),
                "C major scale, both hands two octaves apart")


def _arpeggio(hand: Hand, root: str, third: str, fifth: str, low: int) -> list[Note]:
    """Two-octave root-position arpeggio up and down with the standard fingering."""
    tones = [f"{n}{low + o}" for o in range(2) for n in (root, third, fifth)]
    up = tones + [f"{root}{low + 2}"]
    down = up[-2::-1]
    if hand == "right":
        fu, fd = (1, 2, 3, 1, 2, 3, 5), (3, 2, 1, 3, 2, 1)
    else:
        fu, fd = (5, 4, 2, 1, 4, 2, 1), (2, 4, 1, 2, 4, 5)
    events = [(p, 1, f) for p, f in zip(up, fu)] + [(p, 1, f) for p, f in zip(down, fd)]
    events[-1] = (events[-1][0], 2, events[-1][2])
    return line(hand, events, beat=0.5)


def arpeggios() -> NoteSequence:
    c = _arpeggio("right", "C", "E", "G", 5) + _arpeggio("left", "C", "E", "G", 3)
    length = max(n.offset for n in c) + 0.5
    g = _arpeggio("right", "G", "B", "D", 4) + _arpeggio("left", "G", "B", "D", 2)
    g = [Note(n.pitch, n.onset + length, n.offset + length, n.velocity, n.hand, n.fingers)
         for n in g]
    return _seq("arpeggios", c + g, "C major then G major arpeggios, two octaves, both hands")


# --- chords ---------------------------------------------------------------------------------

def chords() -> NoteSequence:
    """I-IV-V-I in C, close position with smooth voice leading, played twice."""
    rh = [(("C5", "E5", "G5"), 2, (1, 3, 5)), (("C5", "F5", "A5"), 2, (1, 2, 4)),
          (("B4", "D5", "G5"), 2, (1, 2, 5)), (("C5", "E5", "G5"), 2, (1, 3, 5))]
    lh = [(("C3", "G3"), 2, (5, 1)), (("F2", "C3"), 2, (5, 1)),
          (("G2", "D3"), 2, (5, 1)), (("C3", "G3"), 2, (5, 1))]
    notes = line("right", rh * 2, beat=0.5) + line("left", lh * 2, beat=0.5)
    return _seq("chords", notes, "block chords I-IV-V-I in C major, twice, both hands")


# --- melodies -------------------------------------------------------------------------------

def twinkle() -> NoteSequence:
    """Twinkle Twinkle Little Star: melody in the right hand, half-note bass in the left."""
    a1 = [("C5", 1, 1), ("C5", 1, 1), ("G5", 1, 4), ("G5", 1, 4), ("A5", 1, 5), ("A5", 1, 5),
          ("G5", 2, 4)]
    a2 = [("F5", 1, 4), ("F5", 1, 4), ("E5", 1, 3), ("E5", 1, 3), ("D5", 1, 2), ("D5", 1, 2),
          ("C5", 2, 1)]
    b = [("G5", 1, 5), ("G5", 1, 5), ("F5", 1, 4), ("F5", 1, 4), ("E5", 1, 3), ("E5", 1, 3),
         ("D5", 2, 2)]
    rh = a1 + a2 + b + b + a1 + a2
    bass = {"C": ("C3", 2, 5), "F": ("F3", 2, 2), "G": ("G3", 2, 1), "E": ("E3", 2, 3)}
    a_harmony = "C C F C F C G C"
    b_harmony = "C F C G C F C G"
    lh = [bass[h] for h in f"{a_harmony} {b_harmony} {a_harmony}".split()]
    notes = line("right", rh, beat=0.5) + line("left", lh, beat=0.5)
    return _seq("twinkle", notes, "Twinkle Twinkle Little Star, melody + bass")


def ode_to_joy() -> NoteSequence:
    """Beethoven's Ode to Joy theme: melody in C position, whole-/half-note bass."""
    phrase = [("E5", 1, 3), ("E5", 1, 3), ("F5", 1, 4), ("G5", 1, 5), ("G5", 1, 5), ("F5", 1, 4),
              ("E5", 1, 3), ("D5", 1, 2), ("C5", 1, 1), ("C5", 1, 1), ("D5", 1, 2), ("E5", 1, 3)]
    rh = (phrase + [("E5", 1.5, 3), ("D5", 0.5, 2), ("D5", 2, 2)]
          + phrase + [("D5", 1.5, 2), ("C5", 0.5, 1), ("C5", 2, 1)])
    c, g = ("C3", 4, 5), ("G3", 4, 1)
    lh = [c, g, c, ("G3", 2, 1), ("G3", 2, 1)] + [c, g, c, ("G3", 2, 1), ("C3", 2, 5)]
    notes = line("right", rh, beat=0.5) + line("left", lh, beat=0.5)
    return _seq("ode_to_joy", notes, "Ode to Joy (Beethoven), melody + bass")


def frere_jacques() -> NoteSequence:
    """Frere Jacques as a two-voice round: the left hand enters two bars later, two octaves
    lower (so the hands never meet)."""
    def tune(o: int, hand: Hand) -> list[Event]:
        # home position C..G (right: thumb on C; left: little finger on C); bars 5-6 shift the
        # hand one key up to reach A; bars 7-8 cross below C to the G under it.
        if hand == "right":
            f = dict(C=1, D=2, E=3, F=4, G=5)
            shifted = (4, 5, 4, 3, 2, 1)
            cadence = (2, 1, 2)
        else:
            f = dict(C=5, D=4, E=3, F=2, G=1)
            shifted = (2, 1, 2, 3, 4, 5)
            cadence = (1, 5, 1)
        bar1 = [(f"C{o}", 1, f["C"]), (f"D{o}", 1, f["D"]), (f"E{o}", 1, f["E"]),
                (f"C{o}", 1, f["C"])]
        bar3 = [(f"E{o}", 1, f["E"]), (f"F{o}", 1, f["F"]), (f"G{o}", 2, f["G"])]
        bar5 = [(p, b, fi) for (p, b), fi in zip(
            [(f"G{o}", 0.5), (f"A{o}", 0.5), (f"G{o}", 0.5), (f"F{o}", 0.5), (f"E{o}", 1),
             (f"C{o}", 1)], shifted)]
        bar7 = [(p, b, fi) for (p, b), fi in zip(
            [(f"C{o}", 1), (f"G{o - 1}", 1), (f"C{o}", 2)], cadence)]
        return bar1 * 2 + bar3 * 2 + bar5 * 2 + bar7 * 2

    beat = 0.5
    rh = line("right", tune(5, "right"), beat=beat)
    lh = line("left", tune(3, "left"), beat=beat, start=8 * beat)
    return _seq("frere_jacques", rh + lh, "Frere Jacques as a round, left hand two bars later")


def minuet_in_g() -> NoteSequence:
    """Minuet in G (Petzold, BWV Anh. 114), the opening eight bars, 3/4."""
    rh = [("D5", 1, 5), ("G4", 0.5, 1), ("A4", 0.5, 2), ("B4", 0.5, 3), ("C5", 0.5, 4),
          ("D5", 1, 5), ("G4", 1, 1), ("G4", 1, 1),
          ("E5", 1, 5), ("C5", 0.5, 1), ("D5", 0.5, 2), ("E5", 0.5, 3), ("F#5", 0.5, 4),
          ("G5", 1, 5), ("G4", 1, 1), ("G4", 1, 1),
          ("C5", 1, 4), ("D5", 0.5, 5), ("C5", 0.5, 4), ("B4", 0.5, 3), ("A4", 0.5, 2),
          ("B4", 1, 3), ("C5", 0.5, 4), ("B4", 0.5, 3), ("A4", 0.5, 2), ("G4", 0.5, 1),
          ("F#4", 1, 2), ("G4", 0.5, 1), ("A4", 0.5, 2), ("B4", 0.5, 3), ("G4", 0.5, 1),
          ("A4", 3, 2)]
    lh = [(("G3", "B3", "D4"), 2, (5, 3, 1)), ("A3", 1, 4),
          ("B3", 3, 3), ("C4", 3, 2), ("B3", 3, 3), ("A3", 3, 4), ("G3", 3, 5),
          ("D4", 1, 1), ("B3", 1, 3), ("G3", 1, 5),
          ("D4", 1, 1), ("D3", 1, 5), ("C4", 1, 2)]
    notes = line("right", rh, beat=0.6) + line("left", lh, beat=0.6)
    return _seq("minuet_in_g", notes, "Minuet in G (Petzold), bars 1-8")


def demo_short() -> NoteSequence:
    """A few notes per hand (5 s after the stretch) for the quick training demo."""
    rh = [("C5", 1, 1), ("E5", 1, 3), ("G5", 1, 5), ("E5", 1, 3), ("C5", 1, 1)]
    lh = [("C3", 2, 5), ("G3", 2, 1), ("C3", 1, 5)]
    notes = line("right", rh, beat=0.8) + line("left", lh, beat=0.8)
    return _seq("demo_short", notes, "five right-hand and three left-hand notes, ~5 s")


BUILTIN_PIECES: dict[str, Callable[[], NoteSequence]] = {
    f.__name__: f for f in (demo_short, c_major_scale, c_major_scale_rh, c_major_scale_lh,
                            arpeggios, chords, twinkle, ode_to_joy, frere_jacques, minuet_in_g)
}


def builtin_names() -> tuple[str, ...]:
    return tuple(BUILTIN_PIECES)


def load_builtin(name: str) -> NoteSequence:
    """A fresh copy of a built-in piece (KeyError for an unknown name)."""
    return BUILTIN_PIECES[name]()
