"""Top-level ``pianohands train | eval | demo`` commands (registered by ``training/cli.py``).

``train`` has one flag per field of ``TrainConfig`` and ``DroQConfig`` (generated from the
dataclasses, so a new field is a new flag and the help shows each default). Flags left out
keep the default (or the value in ``--config FILE``); on ``--resume`` the run's saved
config is used and only the schedule (``--steps``, intervals, ...) may change.
Heavy imports (JAX, MuJoCo) happen inside the commands so ``pianohands --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from handspec.errors import InputError
from training.rl.config import DroQConfig, TrainConfig
from training.jaxcache import enable_compilation_cache

# Fields that may change when resuming: they alter the schedule, not the learning problem.
RESUMABLE_FIELDS = ("steps", "eval_interval", "eval_episodes", "log_interval",
                    "checkpoint_interval", "keep_checkpoints", "save_replay")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _option_for(f: dataclasses.Field, default: Any) -> tuple[Any, Any]:
    """(annotation, typer.Option) for one config field; every option defaults to None."""
    help_text = f.metadata.get("help", "")
    if f.name == "hidden_dims":
        return str | None, typer.Option(_flag(f.name), help=f"{help_text} (default: "
                                           f"{','.join(map(str, default))})")
    if f.name == "env_kwargs":
        return list[str] | None, typer.Option(
            "--env-arg", help="extra pianoenv task argument KEY=VALUE (JSON value), repeatable")
    if f.name == "target_entropy":
        return float | None, typer.Option(_flag(f.name), help=help_text)
    kind = type(default)
    if kind is bool:
        return bool | None, typer.Option(f"{_flag(f.name)}/--no-{f.name.replace('_', '-')}",
                                            help=f"{help_text} (default: {default})")
    return kind | None, typer.Option(_flag(f.name), help=f"{help_text} (default: {default})")


def _config_fields() -> list[tuple[str, dataclasses.Field, Any]]:
    """(owner, field, default) for every overridable field: run fields, then agent fields."""
    run_defaults, agent_defaults = TrainConfig(), DroQConfig()
    out = [("run", f, getattr(run_defaults, f.name)) for f in dataclasses.fields(TrainConfig)
           if f.name != "agent"]
    out += [("agent", f, getattr(agent_defaults, f.name)) for f in dataclasses.fields(DroQConfig)]
    return out


def _parse_hidden_dims(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        dims = ()
    if not dims or any(d < 1 for d in dims):
        raise InputError(f"expected comma-separated positive widths like 256,256,256, got {text!r}",
                         field="--hidden-dims")
    return dims


def _parse_env_args(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"expected KEY=VALUE, got {item!r}", field="--env-arg")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def overrides_from_options(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splits given (non-None) option values into run-field and agent-field overrides."""
    run, agent = {}, {}
    for owner, f, _ in _config_fields():
        value = values.get(f.name)
        if value is None or (f.name == "env_kwargs" and not value):
            continue
        if f.name == "hidden_dims":
            value = _parse_hidden_dims(value)
        elif f.name == "env_kwargs":
            value = _parse_env_args(value)
        (run if owner == "run" else agent)[f.name] = value
    return run, agent


def build_config(base: TrainConfig, run: dict[str, Any], agent: dict[str, Any]) -> TrainConfig:
    return dataclasses.replace(base, **run, agent=dataclasses.replace(base.agent, **agent)).validate()


def resume_config(saved: TrainConfig, run: dict[str, Any], agent: dict[str, Any],
                  file: Path) -> TrainConfig:
    """The saved config with the allowed schedule changes; anything else is an InputError."""
    for name, value in {**run, **agent}.items():
        current = getattr(saved, name) if name in run else getattr(saved.agent, name)
        if name not in RESUMABLE_FIELDS and value != current:
            raise InputError(f"cannot change {name} when resuming (saved: {current!r}, given: "
                             f"{value!r}); start a new run instead", file=file, field=name)
    return build_config(saved, {k: v for k, v in run.items() if k in RESUMABLE_FIELDS}, {})


@contextlib.contextmanager
def _cli_warnings() -> Iterator[None]:
    """Checkpoint warnings as one ``warning: ...`` line each (no Python file/line noise);
    JAX's os.fork() warning (imageio starts ffmpeg for the video) is not the user's concern."""
    from training.checkpoint import CheckpointWarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, CheckpointWarning):
            typer.echo(f"warning: {' '.join(str(message).split())}", err=True)
        else:
            previous(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        warnings.simplefilter("always", CheckpointWarning)
        previous = warnings.showwarning
        warnings.showwarning = show
        try:
            yield
        finally:
            warnings.showwarning = previous


# ------------------------------------------------------------------------------ train
def train_command(**options: Any) -> None:
    """Train a DroQ agent on a song (RP1M Table 4 defaults); resumable after any crash."""
    out = Path(options.pop("out"))
    resume = options.pop("resume")
    config_file = options.pop("config")
    progress = options.pop("progress")
    tensorboard = options.pop("tensorboard")
    minutes = options.pop("time_budget_minutes")
    run, agent = overrides_from_options(options)
    enable_compilation_cache()
    if resume:
        saved_path = out / "config.json"
        if not saved_path.is_file():
            raise InputError("nothing to resume: no config.json in the run directory", file=out,
                             field="--resume")
        config = resume_config(TrainConfig.load(saved_path), run, agent, saved_path)
        config.save(saved_path)
    else:
        base = TrainConfig.load(config_file) if config_file else TrainConfig()
        config = build_config(base, run, agent)
    from training.rl.loop import Trainer

    with _cli_warnings():
        trainer = Trainer(config, out, resume=resume, progress=progress, tensorboard=tensorboard,
                          time_budget_s=None if minutes is None else 60.0 * minutes)
        if trainer.resumed_from:
            typer.echo(f"resuming from {trainer.resumed_from} at step {trainer.step}", err=True)
        try:
            summary = trainer.run()
        except KeyboardInterrupt:
            typer.echo(f"interrupted at step {trainer.step}; checkpoint written, continue with: "
                       f"pianohands train --out {out} --resume", err=True)
            raise
    last = summary.get("last_eval") or {}
    f1 = f"{last['f1']:.3f}" if "f1" in last else "n/a"
    typer.echo(f"{out}: {summary['steps']} steps, {summary['updates']} updates, "
               f"{summary['wall_time_s']:.0f} s, last eval F1 {f1}")


def _train_signature() -> inspect.Signature:
    P = inspect.Parameter
    params = [
        P("out", P.KEYWORD_ONLY, annotation=Annotated[Path, typer.Option(
            "--out", help="run directory (created; must not hold a run unless --resume)")]),
        P("resume", P.KEYWORD_ONLY, default=False, annotation=Annotated[bool, typer.Option(
            "--resume", help="continue the run in --out from its newest good checkpoint")]),
        P("config", P.KEYWORD_ONLY, default=None, annotation=Annotated[Path | None, typer.Option(
            "--config", help="start from this config.json (flags override it)")]),
        P("progress", P.KEYWORD_ONLY, default=True, annotation=Annotated[bool, typer.Option(
            "--progress/--no-progress", help="progress bar with steps/s, ETA and last F1")]),
        P("tensorboard", P.KEYWORD_ONLY, default=True, annotation=Annotated[bool, typer.Option(
            "--tensorboard/--no-tensorboard", help="write TensorBoard events under OUT/tb")]),
        P("time_budget_minutes", P.KEYWORD_ONLY, default=None,
          annotation=Annotated[float | None, typer.Option(
              "--time-budget", help="stop (with a checkpoint) after this many minutes")]),
    ]
    for _, f, default in _config_fields():
        annotation, option = _option_for(f, default)
        params.append(P(f.name, P.KEYWORD_ONLY, default=None, annotation=Annotated[annotation, option]))
    return inspect.Signature(params)


train_command.__signature__ = _train_signature()  # type: ignore[attr-defined]
train_command.__annotations__ = {p.name: p.annotation for p in
                                 train_command.__signature__.parameters.values()}


# ------------------------------------------------------------------------------ eval
def eval_command(
    run: Annotated[Path, typer.Argument(help="run directory written by 'pianohands train'")],
    pig: Annotated[Path | None, typer.Option(
        "--pig", help="human fingering of the song (PIG file) to compare the learned one with")] = None,
    song: Annotated[str | None, typer.Option(
        "--song", help="play another song than the one trained on")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="output folder (default RUN/eval)")] = None,
    video: Annotated[bool, typer.Option("--video/--no-video", help="render an MP4")] = True,
    width: Annotated[int, typer.Option(min=16)] = 640,
    height: Annotated[int, typer.Option(min=16)] = 480,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="a checkpoint file (default: the newest good one)")] = None,
) -> None:
    """Play the song with the trained policy: F1, learned fingering (PIG), plots, video."""
    from training.evaluate import evaluate_run

    enable_compilation_cache()
    with _cli_warnings():
        report = evaluate_run(run, pig=pig, song=song, out=out, video=video,
                              size=(width, height), checkpoint=checkpoint)
    typer.echo(f"F1 {report['f1']:.3f}  precision {report['precision']:.3f}  "
               f"recall {report['recall']:.3f}  ({report['steps']} steps) -> {report['out']}")
    for name, path in report.get("files", {}).items():
        typer.echo(f"  {name}: {path}")


# ------------------------------------------------------------------------------ demo
def demo_command(
    out: Annotated[Path, typer.Option("--out", help="run directory")] = Path("runs/demo"),
    minutes: Annotated[float, typer.Option("--minutes", min=0.1, help="training time budget")] = 8.5,
    song: Annotated[str, typer.Option("--song", help="piece to learn")] = "demo_short",
    hand: Annotated[str, typer.Option("--hand")] = "shadow_five",
    fingering: Annotated[str, typer.Option("--fingering", help="ot | human | none")] = "ot",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    steps: Annotated[int, typer.Option("--steps", min=1, help="step cap")] = 60_000,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Train on a short built-in piece for a few CPU minutes; F1 curve, fingering, summary."""
    from training.demo import run_demo

    enable_compilation_cache()
    with _cli_warnings():
        summary = run_demo(out, minutes=minutes, song=song, hand=hand, fingering=fingering,
                           seed=seed, steps=steps, progress=progress)
    typer.echo(f"{out}: final F1 {summary['final_f1']:.3f} vs random policy "
               f"{summary['random_f1']:.3f} after {summary['steps']} steps "
               f"({summary['wall_time_s'] / 60:.1f} min) -> {out / 'summary.json'}")


def register(app: typer.Typer) -> None:
    app.command("train", no_args_is_help=True)(train_command)
    app.command("eval", no_args_is_help=True)(eval_command)
    app.command("demo")(demo_command)
