"""``pianohands fingering ...``: suggest a fingering, fit its weights, compare with PIG, solvers.

Heavy imports (handspec's MuJoCo model, matplotlib, pianoplayer) happen inside the commands.
Bad input raises ``InputError``, which ``pianohands`` prints as one line (exit 2).

Songs other than PIG files (built-in names, MIDI, music21) are loaded by the songs layer,
which sits *above* ``fingering``: the app layer passes its loader in (``make_app(
load_song=...)``, done by ``training.cli``), so this package never imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from fingering.notes import NoteSequence
from handspec.errors import InputError

GENERIC_HAND = "generic"
PIG_SUFFIX = ".txt"
SongLoader = Callable[[str], NoteSequence]

HandOption = Annotated[str, typer.Option(help="Hand name or YAML path ('generic': a "
                                              "human-sized hand).")]
ModelOption = Annotated[str, typer.Option(help="Cost model: 'biomech' (default: sequential "
                                               "biomechanics) or 'travel' (v1: hand travel).")]
WeightsOption = Annotated[Optional[Path], typer.Option(
    help="JSON weights written by 'fingering fit' (applied on top of --model).")]


def load_reach(hand: str):
    """FingerReach of a shipped hand name, a hand YAML path, or ``generic`` (human-sized)."""
    if hand == GENERIC_HAND:
        from fingering.annotate import generic_reach

        return generic_reach()
    from handspec import finger_reach, load_hand

    return finger_reach(load_hand(hand))


def load_config(model: str, weights: Path | None):
    """The annotator's cost: a named model, optionally with fitted weights on top."""
    from fingering.annotate import cost_model

    try:
        config = cost_model(model)
    except ValueError as exc:
        raise InputError(str(exc), field="--model") from None
    if weights is None:
        return config
    from fingering.fit import load_weights

    return load_weights(weights, config)


def is_pig_path(song: str) -> bool:
    return Path(song).suffix.lower() == PIG_SUFFIX


def make_app(load_song: SongLoader | None = None) -> typer.Typer:
    """The ``fingering`` sub-app. ``load_song(name) -> NoteSequence`` loads non-PIG songs;
    without it only PIG files can be fingered."""
    app = typer.Typer(help="Fingering: OT solvers, an offline annotator, comparison with "
                           "human (PIG) fingering.", no_args_is_help=True,
                      add_completion=False, pretty_exceptions_enable=False,
                      rich_markup_mode=None)

    @app.command()
    def suggest(
        song: Annotated[str, typer.Argument(help="Built-in song name, .mid/.midi file, PIG "
                                                 "_fingering.txt file or music21:<path>.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="PIG fingering file to write.")],
        hand: HandOption = "shadow_five",
        infer_hands: Annotated[bool, typer.Option(
            "--infer-hands/--keep-hands",
            help="Re-assign hands even where the song has them.")] = False,
        model: ModelOption = "biomech",
        weights: WeightsOption = None,
    ) -> None:
        """Propose a fingering for every note of SONG and write it as a PIG file.

        A PIG input is written back line for line: only the finger column changes (and the
        channel with --infer-hands). Other songs are written in the song's own note order
        (as loaded: by onset, pitch, offset), ids 0..N-1, offset velocity 80. Notes left
        without a finger (a chord with more notes than the hand has fingers, its other hand
        busy) get finger 0 and are counted below.
        """
        from fingering.annotate import suggest_fingering
        from fingering.pig import read_pig, rewrite_pig, write_pig

        pig = is_pig_path(song)
        if pig:
            seq = read_pig(song, sort=False)
        elif load_song is None:
            raise InputError("only PIG files can be read here (run through 'pianohands' "
                             "to load songs)", file=song, field="song")
        else:
            seq = load_song(song)
        reach = load_reach(hand)
        config = load_config(model, weights)
        result = suggest_fingering(seq, reach, config=config, respect_hands=not infer_hands)
        path = rewrite_pig(song, result, out, hands=infer_hands) if pig else write_pig(result, out)
        right = sum(1 for n in result.notes if n.hand == "right")
        lent = result.metadata.get("lent", 0)
        typer.echo(f"{path}: {len(result)} notes ({right} right hand, {len(result) - right} "
                   f"left), hand {reach.hand}, model {model}"
                   f"{' + ' + str(weights) if weights else ''}, "
                   f"{result.metadata['unfingered']} without a finger (written as 0)"
                   + (f", {lent} lent to the other hand" if lent else ""))

    @app.command()
    def compare(
        pig_dir: Annotated[Path, typer.Option(
            help="PIG dataset folder (holding FingeringFiles/).")],
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
        model: ModelOption = "biomech",
        weights: WeightsOption = None,
    ) -> None:
        """Match rates (general/highest/soft, per hand) against PIG annotators, crossings
        without the thumb and finger usage beside the humans'; writes plots."""
        from fingering.compare import (HUMAN, compare_methods, crossing_piece_table,
                                       crossing_rows, crossing_table, per_piece_table,
                                       summary_table, write_outputs)

        methods = method or ["suggest"]
        reach = load_reach(hand) if "suggest" in methods else None
        config = load_config(model, weights)
        label = model + (f" + {weights.name}" if weights else "")
        results = compare_methods(pig_dir, piece, methods, reach=reach, hands=hands,
                                  progress=True, config=config, config_label=label)
        typer.echo("## all pieces (mean over pieces, %)")
        typer.echo(summary_table({k: v for k, v in results.items() if k != HUMAN}))
        if HUMAN in results:
            multi = [p.piece for p in results[HUMAN].pieces]
            typer.echo(f"\n## pieces with 2+ annotators ({', '.join(multi)}): human baseline")
            typer.echo(summary_table(results, only=multi))
        typer.echo("\n## general match rate per piece (%)")
        typer.echo(per_piece_table(results))
        rows = crossing_rows(results)
        typer.echo("\n## crossings without the thumb (consecutive single notes, pieces pooled) "
                   "and finger usage")
        typer.echo(crossing_table(rows))
        typer.echo("\n## crossings without the thumb per piece (%, crossings/pairs)")
        typer.echo(crossing_piece_table(rows))
        written = write_outputs(results, out, plots=plots)
        typer.echo(f"\nwrote {len(written)} files under {out}")


    @app.command()
    def fit(
        pig_dir: Annotated[Path, typer.Option(help="PIG dataset folder (holding "
                                                   "FingeringFiles/).")],
        piece: Annotated[Optional[list[str]], typer.Option(
            help="PIG piece id (repeatable; default: every piece in --pig-dir).")] = None,
        hand: HandOption = "shadow_five",
        folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds, by piece "
                                                       "(pieces dealt round-robin; the piece "
                                                       "count = leave-one-piece-out).")] = 4,
        rounds: Annotated[int, typer.Option(min=1, help="Coordinate-search rounds.")] = 3,
        out: Annotated[Path, typer.Option(help="JSON file for the weights and the "
                                               "cross-validation report.")] = Path(
            "runs/fingering/fit/weights.json"),
    ) -> None:
        """Fit the annotator's weights to PIG fingerings, cross-validated by piece.

        Prints each fold's held-out rate and the mean held-out (cross-validated) general
        match rate; writes the weights fitted on every piece, for --weights.
        """
        from fingering.fit import START, fit as fit_weights, load_pieces, write_report

        pieces = load_pieces(pig_dir, piece)
        reach = load_reach(hand)
        report = fit_weights(reach, pieces, START, folds=folds, rounds=rounds, log=typer.echo)
        path = write_report(report, out)
        typer.echo(f"start (unfitted) {100 * report.start_rate:.2f}%, fitted on all "
                   f"{len(pieces)} pieces {100 * report.train_rate:.2f}%, held-out "
                   f"(cross-validated by piece) {100 * report.heldout_rate:.2f}%")
        typer.echo(f"wrote {path}")

    @app.command()
    def solvers() -> None:
        """List the registered assignment solvers."""
        from fingering.solvers import available_solvers, exact_solvers, solver_doc

        exact = set(exact_solvers())
        for name in available_solvers():
            typer.echo(f"{name:14s} {'exact ' if name in exact else 'approx'}  {solver_doc(name)}")

    return app


app = make_app()
