"""``pianohands experiment fingering | cross-embodiment | fig2``: the three studies, one command each.

Every command writes ``runs/<name>/`` (``--out``): experiment.json, experiment.log, one
trainer run per arm and seed, PNG plots, table.md and summary.json. Running the same
command again resumes: finished seeds are skipped, interrupted ones continue from their
checkpoint; raising ``--steps`` or ``--seeds`` extends the experiment. Defaults finish on a
laptop-class CPU in minutes; long budgets are flags (``--steps``, ``--seeds``,
``--max-episode-steps``, ``--config`` for any Table 4 value).
The options every experiment shares are the fields of ``training.experiments.common.Budget``
(declared once there, turned into flags here by ``experiment_command``). Heavy imports (JAX,
MuJoCo) happen inside the commands so ``pianohands --help`` stays fast; those are the only
imports inside functions here.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from handspec.errors import InputError
from training.cli_options import Hand, budget_seconds, keyword, parse_hidden_dims, with_parameters
from training.experiments.budget import Budget, budget_flag

experiment_app = typer.Typer(
    name="experiment", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Experiments: learned vs human fingering, cross-embodiment, RP1M Fig. 2.")

def _budget_parameters(seeds: int) -> list[inspect.Parameter]:
    """The flags of every ``common.Budget`` field (one declaration: the model), in its order.

    ``--hidden-dims`` is typed as text (``256,256``) and ``--time-budget`` in minutes; the
    command converts them (``_budget_values``) before ``Budget`` validates everything.
    """
    params = []
    for name, info in Budget.model_fields.items():
        if info.exclude:  # set by the command, not a flag
            continue
        flag = budget_flag(name)
        help_text = info.description or ""
        default = seeds if name == "seeds" else info.default
        if name == "hidden_dims":
            annotation: Any = Annotated[str | None, typer.Option(flag, help=help_text)]
        elif name == "time_budget_s":
            annotation = Annotated[float | None, typer.Option(flag, help=help_text)]
        elif name == "progress":
            annotation = Annotated[bool, typer.Option("--progress/--no-progress", help=help_text)]
        else:
            kind = info.annotation
            annotation = Annotated[kind, typer.Option(flag, help=help_text)]
        params.append(keyword(name, annotation, default))
    return params


def _budget_values(values: dict[str, Any]) -> dict[str, Any]:
    """Pops the budget flags out of a command's values, in ``Budget``'s units."""
    budget = {name: values.pop(name) for name, info in Budget.model_fields.items()
              if not info.exclude}
    if budget["hidden_dims"] is not None:
        budget["hidden_dims"] = parse_hidden_dims(budget["hidden_dims"])
    budget["time_budget_s"] = budget_seconds(budget["time_budget_s"])
    budget["argv"] = _argv()
    return budget


def _argv() -> list[str] | None:
    """The arguments as typed when run as the console script (recorded with the results);
    None when ``training.cli.main([...])`` is called from Python."""
    return sys.argv[1:] if Path(sys.argv[0]).name == "pianohands" else None


Command = Callable[..., None]


def experiment_command(name: str, *, seeds: int) -> Callable[[Command], Command]:
    """Registers ``fn(own options..., budget: dict)`` as ``pianohands experiment NAME`` with
    its own options followed by the shared budget flags (default ``--seeds`` = ``seeds``)."""
    def register(fn: Command) -> Command:
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
               for p in inspect.signature(fn, eval_str=True).parameters.values()
               if p.name != "budget"]

        @functools.wraps(fn)
        def command(**values: Any) -> None:
            budget = _budget_values(values)
            fn(**values, budget=budget)

        experiment_app.command(name)(with_parameters(command, own + _budget_parameters(seeds)))
        return fn
    return register


@experiment_command("fingering", seeds=1)
def fingering_command(
    song: Annotated[str | None, typer.Option(
        "--song", help="PIG piece id (008, 008:0 = chunk 0), a PIG file[:chunk], or a built-in "
                       "piece with fingering")] = None,
    pig_dir: Annotated[Path | None, typer.Option(
        "--pig-dir", help="PIG dataset folder (holds FingeringFiles/); all annotators of the "
                          "piece are compared")] = None,
    hand: Hand = "shadow_five",
    run: Annotated[Path | None, typer.Option(
        "--run", help="use this trained run (pianohands train --fingering ot) instead of training")] = None,
    *, budget: dict[str, Any],
) -> None:
    """Learned vs human fingering: match rates, usage, piano roll, confusion, reach."""
    from training.experiments.fingering_vs_human import run_fingering_experiment

    summary = run_fingering_experiment(song, pig_dir=pig_dir, hand=hand, run=run, **budget)
    typer.echo(summary["table_markdown"])
    reach = summary["reach"]
    if reach is not None:
        typer.echo(f"final F1 {summary['final_f1']['mean']:.3f}; human pairs beyond the robot's "
                   f"reach: {reach['human_pairs_beyond_reach']} of "
                   f"{reach['human_simultaneous_pairs']}; notes with a finger it lacks: "
                   f"{reach['human_notes_with_missing_finger']}")
        if reach["example"]:
            typer.echo(f"example: {reach['example']['text']}")
    _echo_files(summary)


@experiment_command("cross-embodiment", seeds=3)
def cross_embodiment_command(
    song: Annotated[str, typer.Option("--song", help="song spec (name[:chunk], MIDI, PIG file)")],
    hands: Annotated[list[str] | None, typer.Option(
        "--hands", help="hands to compare: --hands A B C, --hands A --hands B or --hands A,B")] = None,
    more_hands: Annotated[list[str] | None, typer.Argument(
        help="more hands after --hands (so '--hands A B C' works)", metavar="HANDS",
        show_default=False)] = None,
    *, budget: dict[str, Any],
) -> None:
    """Same song chunk and budget for several hands: F1 (mean, 95% CI) and finger usage."""
    from training.experiments.cross_embodiment import (
        DEFAULT_HANDS,
        run_cross_embodiment,
    )

    names = _split_names(hands, more_hands, "--hands") or list(DEFAULT_HANDS)
    summary = run_cross_embodiment(song, names, **budget)
    typer.echo(summary["table_markdown"])
    _echo_files(summary)


@experiment_command("fig2", seeds=3)
def fig2_command(
    song: Annotated[str, typer.Option("--song", help="song with a fingering for every note "
                                                     "(built-in piece or PIG file[:chunk])")],
    hand: Hand = "shadow_five",
    arms: Annotated[list[str] | None, typer.Option(
        "--arms", help="fingering arms (repeatable or comma-separated): ot, human, none, annotator")] = None,
    *, budget: dict[str, Any],
) -> None:
    """RP1M Figure 2: F1 vs environment steps for OT, human and no fingering (mean, 95% CI)."""
    from training.experiments.fig2 import ARMS, run_fig2

    summary = run_fig2(song, hand=hand, arms=_split_names(arms, None, "--arms") or list(ARMS),
                       **budget)
    typer.echo(summary["table_markdown"])
    _echo_files(summary)


def _split_names(values: list[str] | None, extra: list[str] | None, flag: str) -> list[str]:
    """Repeated, comma-separated and space-separated (positional after the flag) names."""
    if extra and not values:
        raise InputError(f"unexpected argument {extra[0]!r} (put names after {flag})", field=flag)
    names = [part.strip() for v in (values or []) + (extra or []) for part in v.split(",")]
    if any(not n for n in names):
        raise InputError("empty name in the list", field=flag)
    return names


def _echo_files(summary: dict) -> None:
    for name, path in summary.get("plots", {}).items():
        typer.echo(f"  {name}: {path}")
    typer.echo(f"  summary: {Path(summary['out']) / 'summary.json'}")
