"""``pianohands experiment fingering | cross-embodiment | fig2``: the three studies, one command each.

Every command writes ``runs/<name>/`` (``--out``): experiment.json, experiment.log, one
trainer run per arm and seed, PNG plots, table.md and summary.json. Running the same
command again resumes: finished seeds are skipped, interrupted ones continue from their
checkpoint; raising ``--steps`` or ``--seeds`` extends the experiment. Defaults finish on a
laptop-class CPU in minutes; long budgets are flags (``--steps``, ``--seeds``,
``--max-episode-steps``, ``--config`` for any Table 4 value).
Heavy imports (JAX, MuJoCo) happen inside the commands so ``pianohands --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from handspec.errors import InputError

experiment_app = typer.Typer(
    name="experiment", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Experiments: learned vs human fingering, cross-embodiment, RP1M Fig. 2.")

DEFAULT_STEPS = 6_000

# Options shared by the three commands (typer needs them spelled out per command).
Seeds = Annotated[int, typer.Option("--seeds", help="number of seeds (0..N-1) per arm")]
Steps = Annotated[int, typer.Option("--steps", help="environment steps per run")]
Out = Annotated[Path | None, typer.Option(
    "--out", help="experiment directory (default runs/<experiment>_<song>); rerun to resume")]
MaxSteps = Annotated[int | None, typer.Option(
    "--max-episode-steps", help="play only the first N control steps of the song/chunk "
                                "(RP1M chunks are 550; shorter suits CPU budgets)")]
Warmup = Annotated[int | None, typer.Option(
    "--warmup-steps", help="uniform-random steps before learning (default 1000)")]
EvalInterval = Annotated[int | None, typer.Option(
    "--eval-interval", help="steps between evaluations, the points of the F1 curves (default 1000)")]
HiddenDims = Annotated[str | None, typer.Option(
    "--hidden-dims", help="agent MLP widths, e.g. 256,256 (default: Table 4's 256,256,256)")]
BatchSize = Annotated[int | None, typer.Option(
    "--batch-size", help="minibatch size (default: Table 4's 256)")]
BufferSize = Annotated[int | None, typer.Option(
    "--buffer-size", help="replay capacity (default: the step budget, so nothing is dropped; "
                          "set it when --steps may be raised later)")]
ConfigFile = Annotated[Path | None, typer.Option(
    "--config", help="base TrainConfig (a run's config.json) for every run: agent and schedule")]
Minutes = Annotated[float | None, typer.Option(
    "--time-budget", help="minutes for this invocation: the current run stops with a checkpoint, "
                          "later runs wait; the same command again continues")]
Progress = Annotated[bool, typer.Option("--progress/--no-progress", help="progress bars and log lines")]


def _minutes(value: float | None) -> float | None:
    if value is None:
        return None
    if value <= 0:
        raise InputError(f"must be > 0 minutes, got {value}", field="--time-budget")
    return 60.0 * value


def _agent(hidden_dims: str | None, batch_size: int | None) -> dict:
    """--hidden-dims / --batch-size as keyword arguments (parsed like 'pianohands train')."""
    from training.commands import _parse_hidden_dims

    out: dict = {}
    if hidden_dims is not None:
        out["hidden_dims"] = _parse_hidden_dims(hidden_dims)
    if batch_size is not None:
        if batch_size < 1:
            raise InputError(f"must be >= 1, got {batch_size}", field="--batch-size")
        out["batch_size"] = batch_size
    return out


def _argv() -> list[str] | None:
    """The arguments as typed when run as the console script (recorded with the results);
    None when ``training.cli.main([...])`` is called from Python."""
    return sys.argv[1:] if Path(sys.argv[0]).name == "pianohands" else None


@experiment_app.command("fingering")
def fingering_command(
    song: Annotated[str | None, typer.Option(
        "--song", help="PIG piece id (008, 008:0 = chunk 0), a PIG file[:chunk], or a built-in "
                       "piece with fingering")] = None,
    pig_dir: Annotated[Path | None, typer.Option(
        "--pig-dir", help="PIG dataset folder (holds FingeringFiles/); all annotators of the "
                          "piece are compared")] = None,
    hand: Annotated[str, typer.Option("--hand", help="hand spec name or YAML")] = "shadow_five",
    run: Annotated[Path | None, typer.Option(
        "--run", help="use this trained run (pianohands train --fingering ot) instead of training")] = None,
    seeds: Seeds = 1,
    steps: Steps = DEFAULT_STEPS,
    out: Out = None,
    max_episode_steps: MaxSteps = None,
    warmup_steps: Warmup = None,
    eval_interval: EvalInterval = None,
    hidden_dims: HiddenDims = None,
    batch_size: BatchSize = None,
    buffer_size: BufferSize = None,
    config: ConfigFile = None,
    time_budget: Minutes = None,
    progress: Progress = True,
) -> None:
    """Learned vs human fingering: match rates, usage, piano roll, confusion, reach."""
    from training.experiments.fingering_vs_human import run_fingering_experiment

    summary = run_fingering_experiment(
        song, pig_dir=pig_dir, hand=hand, seeds=seeds, steps=steps, out=out, run=run,
        max_episode_steps=max_episode_steps, config_file=config, warmup_steps=warmup_steps,
        eval_interval=eval_interval, time_budget_s=_minutes(time_budget), progress=progress,
        argv=_argv(), buffer_size=buffer_size, **_agent(hidden_dims, batch_size))
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


@experiment_app.command("cross-embodiment")
def cross_embodiment_command(
    song: Annotated[str, typer.Option("--song", help="song spec (name[:chunk], MIDI, PIG file)")],
    hands: Annotated[list[str] | None, typer.Option(
        "--hands", help="hands to compare: --hands A B C, --hands A --hands B or --hands A,B")] = None,
    more_hands: Annotated[list[str] | None, typer.Argument(
        help="more hands after --hands (so '--hands A B C' works)", metavar="HANDS",
        show_default=False)] = None,
    seeds: Seeds = 3,
    steps: Steps = DEFAULT_STEPS,
    out: Out = None,
    max_episode_steps: MaxSteps = None,
    warmup_steps: Warmup = None,
    eval_interval: EvalInterval = None,
    hidden_dims: HiddenDims = None,
    batch_size: BatchSize = None,
    buffer_size: BufferSize = None,
    config: ConfigFile = None,
    time_budget: Minutes = None,
    progress: Progress = True,
) -> None:
    """Same song chunk and budget for several hands: F1 (mean, 95% CI) and finger usage."""
    from training.experiments.cross_embodiment import (
        DEFAULT_HANDS,
        run_cross_embodiment,
    )

    names = _split_names(hands, more_hands, "--hands") or list(DEFAULT_HANDS)
    summary = run_cross_embodiment(
        song, names, seeds=seeds, steps=steps, out=out, max_episode_steps=max_episode_steps,
        config_file=config, warmup_steps=warmup_steps, eval_interval=eval_interval,
        time_budget_s=_minutes(time_budget), progress=progress, argv=_argv(),
        buffer_size=buffer_size, **_agent(hidden_dims, batch_size))
    typer.echo(summary["table_markdown"])
    _echo_files(summary)


@experiment_app.command("fig2")
def fig2_command(
    song: Annotated[str, typer.Option("--song", help="song with a fingering for every note "
                                                     "(built-in piece or PIG file[:chunk])")],
    hand: Annotated[str, typer.Option("--hand", help="hand spec name or YAML")] = "shadow_five",
    arms: Annotated[list[str] | None, typer.Option(
        "--arms", help="fingering arms (repeatable or comma-separated): ot, human, none")] = None,
    seeds: Seeds = 3,
    steps: Steps = DEFAULT_STEPS,
    out: Out = None,
    max_episode_steps: MaxSteps = None,
    warmup_steps: Warmup = None,
    eval_interval: EvalInterval = None,
    hidden_dims: HiddenDims = None,
    batch_size: BatchSize = None,
    buffer_size: BufferSize = None,
    config: ConfigFile = None,
    time_budget: Minutes = None,
    progress: Progress = True,
) -> None:
    """RP1M Figure 2: F1 vs environment steps for OT, human and no fingering (mean, 95% CI)."""
    from training.experiments.fig2 import ARMS, run_fig2

    summary = run_fig2(
        song, hand=hand, arms=_split_names(arms, None, "--arms") or list(ARMS), seeds=seeds,
        steps=steps, out=out, max_episode_steps=max_episode_steps, config_file=config,
        warmup_steps=warmup_steps, eval_interval=eval_interval,
        time_budget_s=_minutes(time_budget), progress=progress, argv=_argv(),
        buffer_size=buffer_size, **_agent(hidden_dims, batch_size))
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
