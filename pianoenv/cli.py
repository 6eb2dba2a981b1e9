"""``pianohands song ...``: list, inspect, plot and export songs.

A SONG is a built-in name, a .mid/.midi file, a PIG ``_fingering.txt`` file or
``music21:<corpus path>``, optionally with ``:N`` for chunk N (``twinkle:1``).
Bad input raises ``InputError``; ``training.cli.main`` prints it as one line, exit code 2.
"""

from __future__ import annotations

import shutil
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from handspec.errors import InputError

song_app = typer.Typer(help="Songs: list, info, plot (piano roll), export to MIDI.",
                       no_args_is_help=True, add_completion=False)

SongArg = Annotated[str, typer.Argument(
    metavar="SONG[:CHUNK]",
    help="Built-in name, .mid/.midi or PIG _fingering.txt path, or music21:<corpus path>; "
         "':N' picks chunk N.")]
TransposeOpt = Annotated[int, typer.Option(
    "--transpose", help="Shift every note by this many semitones (e.g. -12 = an octave down).")]
StretchOpt = Annotated[float, typer.Option(
    "--stretch", help="Time stretch (> 1 is slower); RP1M uses 1.25.")]
DtOpt = Annotated[float, typer.Option(
    "--control-timestep", help="Seconds per control step; RP1M uses 0.05.")]


class Library(str, Enum):
    builtin = "builtin"
    music21 = "music21"


def _console():
    from rich.console import Console

    return Console(width=max(100, shutil.get_terminal_size().columns))


def _goals(spec: str, transpose: int, stretch: float, control_timestep: float):
    from pianoenv.songs import load_goals

    return load_goals(spec, transpose=transpose, stretch=stretch,
                      control_timestep=control_timestep)


@song_app.command("list")
def list_songs(
    library: Annotated[Library, typer.Option("--library", help="Which songs to list.")]
    = Library.builtin,
    names_only: Annotated[bool, typer.Option("--names-only",
                                             help="One loadable name per line (for scripts).")]
    = False,
    check: Annotated[bool, typer.Option(
        "--check", help="music21: parse every score and print its steps, chunks and hand "
                        "spans (slow: ~0.3 s per score).")] = False,
    max_span: Annotated[int | None, typer.Option(
        "--max-span", min=1, help="With --check: keep scores where no hand spans more than "
                                  "this many semitones at once (12 = an octave).")] = None,
) -> None:
    """List songs: the built-in pieces, or the playable scores of music21's offline corpus."""
    if library is Library.music21:
        from pianoenv.songs.music21_library import music21_library

        items = music21_library()
        if check or max_span is not None:
            _check_scores(items, max_span, names_only)
            return
        for name, description in items:
            typer.echo(name if names_only else f"{name}\t{description}")
        if not names_only:
            typer.echo(f"# {len(items)} scores (music21 corpus, offline, public domain)", err=True)
        return

    from pianoenv.songs import builtin_names, load_builtin, prepare

    if names_only:
        for name in builtin_names():
            typer.echo(name)
        return
    from rich.table import Table

    from pianoenv.songs.summary import summarize

    table = Table("name", "hands", "notes", "seconds", "chunks", "description",
                  title="built-in songs (times after the 1.25 stretch)")
    for name in builtin_names():
        seq = load_builtin(name)
        summary = summarize(prepare(seq))
        table.add_row(name, "+".join(summary.hands), str(summary.notes),
                      f"{summary.seconds:.1f}", str(summary.chunks),
                      seq.metadata.get("description", ""))
    _console().print(table)


def _check_scores(items: list[tuple[str, str]], max_span: int | None, names_only: bool) -> None:
    """Parse and summarize every score; print the ones within ``max_span`` (all if None)."""
    from tqdm import tqdm

    from pianoenv.songs import load_song, prepare
    from pianoenv.songs.summary import HandLoad, summarize

    kept = 0
    if not names_only:
        typer.echo("name\tsteps\tchunks\tright_span\tleft_span\tright_keys\tleft_keys\tcrossing_steps\thands_from")
    for name, _ in tqdm(items, desc="checking scores", unit="score", file=sys.stderr):
        try:
            summary = summarize(prepare(load_song(name)))
        except InputError as exc:
            tqdm.write(f"skipped: {exc.one_line()}", file=sys.stderr)
            continue
        empty = HandLoad(0, 0, 0)
        right, left = (summary.hands.get(h, empty) for h in ("right", "left"))
        if max_span is not None and max(right.max_span, left.max_span) > max_span:
            continue
        kept += 1
        typer.echo(name if names_only else
                   f"{name}\t{summary.steps}\t{summary.chunks}\t{right.max_span}\t"
                   f"{left.max_span}\t{right.max_keys_down}\t{left.max_keys_down}\t"
                   f"{summary.crossing_steps}\t{summary.hand_rule}")
    typer.echo(f"# {kept} of {len(items)} scores"
               + (f" within {max_span} semitones per hand" if max_span is not None else ""),
               err=True)


@song_app.command()
def info(song: SongArg, transpose: TransposeOpt = 0, stretch: StretchOpt = 1.25,
         control_timestep: DtOpt = 0.05) -> None:
    """Duration, notes, chunks, key range, fingering and hand load of a song or chunk."""
    from rich.table import Table

    from pianoenv.songs.summary import summarize

    summary = summarize(_goals(song, transpose, stretch, control_timestep))
    table = Table(show_header=False, box=None)
    for label, value in summary.rows():
        table.add_row(label, value)
    _console().print(table)


@song_app.command()
def plot(song: SongArg,
         out: Annotated[Path, typer.Option("--out", help="Image file (.png, .pdf or .svg).")],
         transpose: TransposeOpt = 0, stretch: StretchOpt = 1.25,
         control_timestep: DtOpt = 0.05) -> None:
    """Draw the piano roll of a song or chunk (after stretching and trimming)."""
    from pianoenv.songs.plot import plot_piano_roll

    goals = _goals(song, transpose, stretch, control_timestep)
    typer.echo(f"wrote {plot_piano_roll(goals, out)}")


@song_app.command()
def export(song: SongArg,
           out: Annotated[Path, typer.Option("--out", help="MIDI file to write (.mid/.midi).")],
           transpose: TransposeOpt = 0) -> None:
    """Write a song to a two-track MIDI file (right hand first; original timing, no chunk)."""
    from pianoenv.songs import load_song, parse_song_spec
    from pianoenv.songs.loading import MIDI_SUFFIXES
    from pianoenv.songs.midi import write_midi

    name, chunk = parse_song_spec(song)
    if chunk is not None:
        raise InputError("export writes whole songs; drop the ':chunk'", file=song, field="chunk")
    if out.suffix.lower() not in MIDI_SUFFIXES:
        raise InputError(f"unsupported file type {out.suffix or '(none)'}; use .mid or .midi",
                         file=out, field="--out")
    seq = load_song(name, transpose=transpose)
    write_midi(seq, out)
    typer.echo(f"wrote {out} ({len(seq)} notes, {seq.duration:.2f} s)")
