"""Songs: load note sequences (built-in, MIDI, PIG, music21) and turn them into goals.

>>> from pianoenv.songs import load_song, prepare
>>> goals = prepare(load_song("twinkle"))          # stretch 1.25, 0.05 s steps
>>> keys, sustain = goals.window(0)                # (11, 88), (11,)
>>> first = goals.chunk(0)                         # 550 steps, also "twinkle:0"

Heavy dependencies (pretty_midi, music21, matplotlib) are imported inside the functions
that need them.
"""

from handspec.errors import InputError
from pianoenv.songs.builtin import builtin_names, load_builtin
from pianoenv.songs.goals import (CHUNK_LENGTH, CONTROL_TIMESTEP, LOOKAHEAD, STRETCH, SongGoals,
                                  prepare)
from pianoenv.songs.loading import check_range, load_song, parse_song_spec, transpose_sequence

__all__ = [
    "CHUNK_LENGTH", "CONTROL_TIMESTEP", "LOOKAHEAD", "STRETCH", "SongGoals", "builtin_names",
    "check_range", "load_builtin", "load_song", "load_goals", "parse_song_spec", "prepare",
    "transpose_sequence",
]


def load_goals(spec: str, *, transpose: int = 0, control_timestep: float = CONTROL_TIMESTEP,
               stretch: float = STRETCH, trim_silence: bool = True) -> SongGoals:
    """``"name[:chunk]"`` -> prepared goals, the chunk if one is named (what the env needs)."""
    name, chunk = parse_song_spec(spec)
    goals = prepare(load_song(name, transpose=transpose), control_timestep=control_timestep,
                    stretch=stretch, trim_silence=trim_silence)
    if chunk is None:
        return goals
    try:
        return goals.chunk(chunk)
    except InputError as exc:  # name the song the way the user typed it
        raise InputError(exc.message, file=name, field=exc.field) from None
