"""``pianohands fingering ...``: suggest a fingering, compare with PIG annotators, solvers.

Heavy imports (handspec's MuJoCo model, songs, matplotlib, pianoplayer) happen inside the
commands. Bad input raises ``InputError``, which ``pianohands`` prints as one line (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from handspec.errors import InputError

app = typer.Typer(help="Fingering: OT solvers, an offline annotator, comparison with human "
                       "(PIG) fingering.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode=None)

GENERIC_HAND = "generic"


def load_reach(hand: str):
    """FingerReach of a shipped hand name, a hand YAML path, or ``generic`` (human-sized)."""
    if hand == GENERIC_HAND:
        from fingering.annotate import generic_reach

        return generic_reach()
    try:
        from handspec import finger_reach, load_hand
    except ImportError as exc:  # pragma: no cover - handspec ships with the repo
        raise InputError(f"hand specs unavailable ({exc})", field="--hand") from None
    return finger_reach(load_hand(hand))


@app.command()
def suggest(
    song: Annotated[str, typer.Argument(help="Built-in song name, .mid/.midi file, PIG "
                                             "_fingering.txt file or music21:<path>.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PIG fingering file to write.")],
    hand: Annotated[str, typer.Option(help="Hand name or YAML path ('generic': a "
                                           "human-sized hand).")] = "shadow_five",
    infer_hands: Annotated[bool, typer.Option(
        "--infer-hands/--keep-hands",
        help="Re-assign hands even where the song has them.")] = False,
) -> None:
    """Propose a fingering for every note of SONG and write it as a PIG file."""
    from fingering.annotate import suggest_fingering
    from fingering.pig import write_pig

    seq = _load_song(song)
    reach = load_reach(hand)
    result = suggest_fingering(seq, reach, respect_hands=not infer_hands)
    path = write_pig(result, out)
    right = sum(1 for n in result.notes if n.hand == "right")
    typer.echo(f"{path}: {len(result)} notes ({right} right hand, {len(result) - right} left), "
               f"hand {reach.hand}, {result.metadata['unfingered']} without a finger")


def _load_song(song: str):
    try:
        from pianoenv.songs import load_song
    except ImportError:  # songs layer absent: PIG files still work
        from fingering.pig import read_pig

        return read_pig(song)
    return load_song(song)


@app.command()
def compare(
    pig_dir: Annotated[Path, typer.Option(help="PIG dataset folder (holding FingeringFiles/).")],
    piece: Annotated[Optional[list[str]], typer.Option(
        help="PIG piece id, e.g. 008 (repeatable; default: every piece in --pig-dir).")] = None,
    method: Annotated[Optional[list[str]], typer.Option(
        help="suggest | pianoplayer | a PIG file | a folder of NNN*.txt files "
             "(repeatable; default: suggest).")] = None,
    hand: Annotated[str, typer.Option(help="Hand for 'suggest' (name, YAML path or "
                                           "'generic').")] = "shadow_five",
    hands: Annotated[str, typer.Option(help="'given': keep PIG's hand of each note; "
                                            "'infer': methods assign hands.")] = "given",
    out: Annotated[Path, typer.Option(help="Folder for compare.csv, summary.json and "
                                           "plots.")] = Path("runs/fingering/compare"),
    plots: Annotated[bool, typer.Option("--plots/--no-plots")] = True,
) -> None:
    """Match rates (general/highest/soft, per hand) against PIG annotators; writes plots."""
    from fingering.compare import (HUMAN, compare_methods, per_piece_table, summary_table,
                                   write_outputs)

    methods = method or ["suggest"]
    reach = load_reach(hand) if "suggest" in methods else None
    results = compare_methods(pig_dir, piece, methods, reach=reach, hands=hands,
                              progress=True)
    typer.echo("## all pieces (mean over pieces, %)")
    typer.echo(summary_table({k: v for k, v in results.items() if k != HUMAN}))
    if HUMAN in results:
        multi = [p.piece for p in results[HUMAN].pieces]
        typer.echo(f"\n## pieces with 2+ annotators ({', '.join(multi)}): human baseline")
        typer.echo(summary_table(results, only=multi))
    typer.echo("\n## general match rate per piece (%)")
    typer.echo(per_piece_table(results))
    written = write_outputs(results, out, plots=plots)
    typer.echo(f"\nwrote {len(written)} files under {out}")


@app.command()
def solvers() -> None:
    """List the registered assignment solvers."""
    from fingering.solvers import available_solvers, exact_solvers, solver_doc

    exact = set(exact_solvers())
    for name in available_solvers():
        typer.echo(f"{name:14s} {'exact ' if name in exact else 'approx'}  {solver_doc(name)}")
