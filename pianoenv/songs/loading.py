"""One entry point for every song source: ``load_song(name_or_path)``.

A song is named by

* a built-in piece: ``twinkle``, ``c_major_scale``, ... (``pianohands song list``);
* a MIDI file: ``path/to/piece.mid`` or ``.midi``;
* a PIG fingering file: ``path/to/001-1_fingering.txt`` (read by ``fingering.pig``);
* a music21 corpus score: ``music21:bach/bwv66.6``;

optionally followed by ``:N`` to pick chunk N of the prepared song (``twinkle:1``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from fingering.keyboard import key_name
from fingering.notes import HIGHEST_PITCH, LOWEST_PITCH, NoteSequence
from handspec.errors import InputError
from pianoenv.songs.builtin import BUILTIN_PIECES, load_builtin
from pianoenv.songs.music21_library import PREFIX as MUSIC21_PREFIX

MIDI_SUFFIXES = (".mid", ".midi")
PIG_SUFFIX = ".txt"
_CHUNK = re.compile(r"(?P<name>.+):(?P<chunk>-?[0-9]+)", re.DOTALL)


def parse_song_spec(spec: str) -> tuple[str, int | None]:
    """Split ``"name:chunk"`` into ``(name, chunk)``; ``(name, None)`` without a chunk.

    Only a trailing ``:<integer>`` is a chunk, so ``music21:bach/bwv66.6`` is a name and
    ``music21:bach/bwv66.6:2`` is its chunk 2.
    """
    spec = spec.strip()
    if not spec:
        raise InputError("empty song name", field="song")
    match = _CHUNK.fullmatch(spec)
    if not match:
        return spec, None
    chunk = int(match["chunk"])
    if chunk < 0:
        raise InputError(f"chunk must be >= 0, got {chunk}", file=match["name"], field="chunk")
    return match["name"], chunk


def _pitch_name(pitch: int) -> str:
    """Scientific name of any MIDI pitch (key_name works outside the 88 keys too)."""
    return key_name(pitch - LOWEST_PITCH)


def _fitting_transpositions(low: int, high: int) -> list[int]:
    """Shifts (octaves first, then semitones, smallest first) that bring [low, high] on the piano."""
    octave = [12 * k for k in range(-10, 11) if LOWEST_PITCH <= low + 12 * k
              and high + 12 * k <= HIGHEST_PITCH]
    semis = [k for k in range(-127, 128) if LOWEST_PITCH <= low + k and high + k <= HIGHEST_PITCH]
    return sorted(octave, key=abs) + sorted(semis, key=abs)


def check_range(seq: NoteSequence, source: str) -> None:
    """``InputError`` naming the first note outside A0..C8 and a ``--transpose`` that fixes it."""
    outside = [n for n in seq.notes if not LOWEST_PITCH <= n.pitch <= HIGHEST_PITCH]
    if not outside:
        return
    first = min(outside, key=lambda n: n.onset)
    low, high = seq.pitch_range
    label = f"{_pitch_name(first.pitch)} (MIDI {first.pitch})" if 0 <= first.pitch <= 127 \
        else f"MIDI pitch {first.pitch}"
    where = f"{label} at {first.onset:.2f} s"
    fixes = _fitting_transpositions(low, high)
    hint = (f"try --transpose {fixes[0]:+d}" if fixes
            else f"the song spans {high - low + 1} semitones, more than the 88 keys")
    raise InputError(f"{len(outside)} note(s) outside the piano range A0..C8 (21..108), "
                     f"first {where}; {hint}", file=source, field="pitch")


def transpose_sequence(seq: NoteSequence, semitones: int) -> NoteSequence:
    """Every note moved by ``semitones`` (no range check: ``check_range`` does that)."""
    if semitones == 0:
        return seq
    notes = tuple(replace(n, pitch=n.pitch + semitones) for n in seq.notes)
    return replace(seq, notes=notes, metadata=dict(seq.metadata, transpose=semitones))


def _read_pig(path: Path) -> NoteSequence:
    try:
        from fingering.pig import read_pig
    except ModuleNotFoundError as exc:  # pragma: no cover - fingering.pig ships with the repo
        raise InputError("PIG support needs fingering.pig, which is not installed",
                         file=path, field="file") from exc
    if not path.is_file():
        raise InputError("no such file", file=path, field="file")
    return read_pig(path)


def load_song(name_or_path: str, *, transpose: int = 0) -> NoteSequence:
    """Load a song by name or path (see the module docstring), transposed by ``transpose``
    semitones. Raises ``InputError`` for unknown names, unreadable files, empty songs and
    notes outside A0..C8 (the message suggests a ``--transpose`` that fits)."""
    name = name_or_path.strip()
    if name.startswith(MUSIC21_PREFIX):
        from pianoenv.songs.music21_library import load_music21

        seq = load_music21(name)
    elif name in BUILTIN_PIECES:
        seq = load_builtin(name)
    else:
        path = Path(name).expanduser()
        suffix = path.suffix.lower()
        if suffix in MIDI_SUFFIXES:
            from pianoenv.songs.midi import read_midi

            seq = read_midi(path)
        elif suffix == PIG_SUFFIX:
            seq = _read_pig(path)
        else:
            raise InputError(
                "unknown song: not a built-in piece (" + ", ".join(BUILTIN_PIECES)
                + "), a .mid/.midi or PIG _fingering.txt file, or music21:<corpus path>",
                file=name, field="song")
    if not seq.notes:
        raise InputError("the song has no notes", file=name, field="notes")
    seq = transpose_sequence(seq, transpose)
    check_range(seq, name)
    return seq
