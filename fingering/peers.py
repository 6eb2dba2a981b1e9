"""Peer fingering generators used as baselines. Optional: each import is lazy.

``pianoplayer`` (PyPI ``pianoplayer>=3.0,<4``, M. Musy) searches fingerings with a hand
model in centimetres along the keyboard. Used fairly, as DESIGN.md notes: its MIDI route
places keys non-monotonically in pitch (``keypos_midi``: B3 lands right of C4) and its PIG
reader turns the file's own fingers into anchors, so neither is used. We build its
``INote`` list ourselves, per hand, with x = the true key centre along the keyboard
(``fingering.keyboard``, in cm), grouping chords the way its pretty_midi reader does
(same onset; 0.05 s stagger), with no preset fingers. pianoplayer leaves the last note of
each hand at 0 (no finger); that is kept as its output.
"""

from __future__ import annotations

from dataclasses import replace

from fingering import keyboard
from fingering.notes import Note, NoteSequence
from handspec.errors import InputError

CHORD_STAGGER_S = 0.05  # pianoplayer's reader default


def pianoplayer_version() -> str | None:
    """Installed pianoplayer version, or None."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("pianoplayer")
    except PackageNotFoundError:
        return None


def _inotes(notes: list[Note]):
    from pianoplayer.models import INote

    ys_cm = keyboard.key_press_points()[:, 1] * 100.0
    order = sorted(range(len(notes)), key=lambda j: (notes[j].onset, notes[j].pitch))
    out, i, chord = [], 0, 0
    while i < len(order):
        j = i
        while j < len(order) and notes[order[j]].onset == notes[order[i]].onset:
            j += 1
        group = order[i:j]
        for k, g in enumerate(group):
            n = notes[g]
            an = INote()
            an.noteID = g
            an.pitch = n.pitch
            an.octave = n.pitch // 12
            an.x = float(ys_cm[n.key])
            an.time = n.onset
            an.duration = max(n.duration, 1e-3)
            an.isBlack = bool(keyboard.is_black(n.key))
            an.fingering = 0
            if len(group) > 1:
                an.isChord, an.chordID, an.chordnr, an.NinChord = True, chord, k, len(group)
                an.time = n.onset - CHORD_STAGGER_S * (len(group) - k - 1)
                an.duration += CHORD_STAGGER_S * (len(group) - 1)
            out.append(an)
        chord += len(group) > 1
        i = j
    return out


def pianoplayer_fingering(seq: NoteSequence, *, hand_size: str = "M") -> NoteSequence:
    """pianoplayer's fingering of ``seq`` (every note needs a hand: it plans hands apart)."""
    try:
        from pianoplayer.hand import Hand
    except ImportError:
        raise InputError("pianoplayer is not installed; pip install 'pianoplayer>=3.0,<4'",
                         field="--method") from None
    if not all(n.hand for n in seq.notes):
        raise ValueError("pianoplayer needs a hand for every note")
    out = list(seq.notes)
    for side in ("right", "left"):
        idx = [i for i, n in enumerate(seq.notes) if n.hand == side]
        if len(idx) < 2:  # pianoplayer refuses a hand with fewer than two notes
            continue
        notes = [seq.notes[i] for i in idx]
        hand = Hand(_inotes(notes), side=side, size=hand_size)
        hand.verbose = False
        hand.generate()
        for an in hand.noteseq:
            finger = int(an.fingering) if str(an.fingering).lstrip("-").isdigit() else 0
            finger = abs(finger)
            out[idx[an.noteID]] = replace(notes[an.noteID],
                                          fingers=(finger,) if 1 <= finger <= 5 else ())
    result = NoteSequence(tuple(out), seq.name, seq.sustain, dict(seq.metadata))
    result.metadata.update(fingering_method=f"pianoplayer {pianoplayer_version()}")
    return result
