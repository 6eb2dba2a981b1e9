"""Top-level ``pianohands train | eval | demo`` commands (registered by ``training/cli.py``).

``train`` has one flag per field of the pydantic ``TrainConfig`` and ``DroQConfig``
(``training.cli_options.model_parameters``: a new field is a new flag, the help shows its
description and default, and the model validates the value). Flags left out keep the
default (or the value in ``--config FILE``); on ``--resume`` the run's saved config is used
and only the schedule (``--steps``, intervals, ...) may change. ``eval`` plays a run's
policy (``eval RUN``) or any registered policy (``eval --policy NAME --song S``).
Heavy imports (JAX, MuJoCo) happen inside the commands so ``pianohands --help`` stays fast;
those are the only imports inside functions here.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from handspec.errors import InputError
from training.cli_options import (
    Fingering,
    Hand,
    Policy,
    Progress,
    Seed,
    Song,
    budget_seconds,
    keyword,
    model_parameters,
    option_value,
    with_parameters,
)
from training.jaxcache import enable_compilation_cache
from training.rl.config import (PRESETS, RESIDUAL_KEYS, RESUMABLE_FIELDS, DroQConfig,
                                TrainConfig, base_policy_name)


def _config_fields() -> list[tuple[str, str]]:
    """(owner, name) for every overridable field: run fields, then agent fields."""
    return [("run", name) for name in TrainConfig.model_fields if name != "agent"] + \
        [("agent", name) for name in DroQConfig.model_fields]


def overrides_from_options(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splits given (non-None) option values into run-field and agent-field overrides."""
    run, agent = {}, {}
    for owner, name in _config_fields():
        value = values.get(name)
        if value is None or (name == "env_kwargs" and not value):
            continue
        (run if owner == "run" else agent)[name] = option_value(name, value)
    return run, agent


def build_config(base: TrainConfig, run: dict[str, Any], agent: dict[str, Any]) -> TrainConfig:
    return base.replace(**run, agent=base.agent.replace(**agent))


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
    from training.checkpoint import CheckpointWarning  # pulls in JAX: only when a command runs

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
    """Train DroQ (RP1M Table 4) on a song: by default a residual on the kinematic pianist
    (--base-policy ik), the fastest learner measured; --base-policy none trains from scratch
    as RP1M. Resumable after any crash. The run ends with an evaluation of its final policy;
    OUT/checkpoints/best.ckpt keeps the policy of its best evaluation (eval --checkpoint best).
    On a real 550-step chunk give it time: on a Bach chorale it dipped for ~100k steps before
    passing F1 0.75 at 160k (~45 min on one vCPU, docs/results.md)."""
    out = Path(options.pop("out"))
    resume = options.pop("resume")
    config_file = options.pop("config")
    progress = options.pop("progress")
    tensorboard = options.pop("tensorboard")
    budget_s = budget_seconds(options.pop("time_budget_minutes"))
    backend = options.pop("backend")
    if backend not in ("cpu", "mjx"):
        raise InputError(f"unknown backend {backend!r}; one of cpu, mjx", field="--backend")
    base_policy, residual_scale = options.pop("base_policy"), options.pop("residual_scale")
    preset = options.pop("agent_preset")
    run, agent = overrides_from_options(options)
    if preset is not None:  # the preset's values, then the flags given
        if preset not in PRESETS:
            raise InputError(f"unknown preset {preset!r}; one of {', '.join(PRESETS)}",
                             field="--agent-preset")
        run, agent = {**PRESETS[preset].run, **run}, {**PRESETS[preset].agent, **agent}
    enable_compilation_cache()
    if backend == "mjx":
        if base_policy_name(base_policy) is not None or residual_scale is not None:
            raise InputError("residual learning runs on the CPU backend only; use "
                             "--base-policy none with --backend mjx", field="--base-policy")
        _train_mjx(build_config(TrainConfig.load(config_file) if config_file else TrainConfig(),
                                run, agent), out, resume, progress, tensorboard, budget_s)
        return
    if resume:
        saved_path = out / "config.json"
        if not saved_path.is_file():
            raise InputError("nothing to resume: no config.json in the run directory", file=out,
                             field="--resume")
        config = resume_config(TrainConfig.load(saved_path), run, agent, saved_path)
        # without the flags a run resumes as it was trained; given, they must agree with it
        if base_policy is not None or residual_scale is not None:
            asked = config.with_base_policy(
                DEFAULT_BASE_POLICY if base_policy is None else base_policy, residual_scale)
            for name in RESIDUAL_KEYS:
                given = name == "base_policy" or name in asked.env_kwargs
                if given and asked.env_kwargs.get(name) != config.env_kwargs.get(name):
                    raise InputError(f"cannot change {name} when resuming; start a new run "
                                     "instead", file=saved_path,
                                     field=f"--{name.replace('_', '-')}")
        config.save(saved_path)
    else:
        base = TrainConfig.load(config_file) if config_file else TrainConfig()
        config = build_config(base, run, agent)
        if not (config_file and base_policy is None and residual_scale is None):
            # (a --config file without the flags keeps its own choice)
            config = config.with_base_policy(
                DEFAULT_BASE_POLICY if base_policy is None else base_policy, residual_scale)
    from training.rl.loop import Trainer

    with _cli_warnings():
        trainer = Trainer(config, out, resume=resume, progress=progress, tensorboard=tensorboard,
                          time_budget_s=budget_s)
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
    reached = " (reached --stop-f1)" if summary.get("reached_stop_f1") else ""
    typer.echo(f"{out}: {summary['steps']} steps, {summary['updates']} updates, "
               f"{summary['wall_time_s']:.0f} s, last eval F1 {f1}{reached}")


DEFAULT_BASE_POLICY = "ik"  # the winner of benchmarks/learn_bench.py (docs/results.md)


def _train_mjx(config: TrainConfig, out: Path, resume: bool, progress: bool, tensorboard: bool,
               budget_s: float | None) -> None:
    """``--backend mjx``: PPO on the MJX environment (``training.mjx_ppo``), with the run
    fields of ``config`` and that module's PPO defaults; same run directory and eval."""
    if resume:
        raise InputError("runs of --backend mjx do not resume; start a new run", field="--resume")
    from training import mjx_ppo

    summary = mjx_ppo.train(mjx_ppo.from_train_config(config), out, progress=progress,
                            tensorboard=tensorboard,
                            time_budget_s=budget_s)
    f1 = (summary.get("last_eval") or {}).get("f1")
    typer.echo(f"{out}: {summary['steps']} steps (PPO on MJX, {summary['num_envs']} envs), "
               f"{summary['wall_time_s']:.0f} s, last eval F1 {'n/a' if f1 is None else f'{f1:.3f}'}")


_TRAIN_PARAMETERS = [
    keyword("out", Annotated[Path, typer.Option(
        "--out", help="run directory (created; must not hold a run unless --resume)")]),
    keyword("resume", Annotated[bool, typer.Option(
        "--resume", help="continue the run in --out from its newest good checkpoint")], False),
    keyword("config", Annotated[Path | None, typer.Option(
        "--config", help="start from this config.json (flags override it)")], None),
    keyword("progress", Annotated[bool, typer.Option(
        "--progress/--no-progress", help="progress bar with steps/s, ETA and last F1")], True),
    keyword("tensorboard", Annotated[bool, typer.Option(
        "--tensorboard/--no-tensorboard", help="write TensorBoard events under OUT/tb")], True),
    keyword("time_budget_minutes", Annotated[float | None, typer.Option(
        "--time-budget", help="stop (with a checkpoint) after this many minutes")], None),
    keyword("base_policy", Annotated[str | None, typer.Option(
        "--base-policy", help="learn a residual on top of this registered policy; default ik "
                              "(the kinematic pianist: the untrained agent already plays its "
                              "fingering, and learns fastest, see docs/results.md); none: DroQ "
                              "from scratch, as RP1M. A resumed run keeps its own")],
        None),
    keyword("residual_scale", Annotated[float | None, typer.Option(
        "--residual-scale", help="with --base-policy: largest correction, as a fraction of each "
                                 "actuator's half-range (default 0.25)")], None),
    keyword("agent_preset", Annotated[str | None, typer.Option(
        "--agent-preset", help="start from a published agent configuration (other flags "
                               "override it): " + "; ".join(
                                   f"{name}: {p.description}" for name, p in PRESETS.items()))],
        None),
    keyword("backend", Annotated[str, typer.Option(
        "--backend", help="cpu: DroQ on the CPU env; mjx: PPO on the MJX env (training.mjx_ppo; "
                          "of the agent flags only --hidden-dims and --activation apply)")], "cpu"),
    *model_parameters(TrainConfig), *model_parameters(DroQConfig),
]
with_parameters(train_command, _TRAIN_PARAMETERS)


# ------------------------------------------------------------------------------ eval
def eval_command(
    run: Annotated[Path | None, typer.Argument(
        help="run directory written by 'pianohands train' (or give --policy)",
        show_default=False)] = None,
    policy: Policy = None,
    pig: Annotated[Path | None, typer.Option(
        "--pig", help="human fingering of the song (PIG file) to compare the learned one with")] = None,
    song: Annotated[str | None, typer.Option(
        "--song", help="play another song than the one trained on (the song for --policy)")] = None,
    hand: Hand = "shadow_five",
    fingering: Fingering = "ot",
    episodes: Annotated[int, typer.Option(
        "--episodes", min=1, help="episodes for --policy (seeded; a RUN plays one)")] = 1,
    seed: Seed = 0,
    out: Annotated[Path | None, typer.Option(
        "--out", help="output folder (default RUN/eval, or runs/eval_<policy>)")] = None,
    video: Annotated[bool, typer.Option("--video/--no-video", help="render an MP4")] = True,
    width: Annotated[int, typer.Option(min=16)] = 640,
    height: Annotated[int, typer.Option(min=16)] = 480,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="a checkpoint file, or best (the best evaluation F1 of the run; "
        "default: the newest good checkpoint)")] = None,
) -> None:
    """Play a song with a trained run's policy or a registered policy: F1, learned fingering
    (PIG), plots, video."""
    from training.evaluate import evaluate_policy, evaluate_run

    if (run is None) == (policy is None):
        raise InputError("give a RUN directory or --policy NAME, not both",
                         field="RUN" if policy is None else "--policy")
    enable_compilation_cache()
    with _cli_warnings():
        if policy is not None:
            if song is None:
                raise InputError("--policy needs --song", field="--song")
            report = evaluate_policy(policy, song, hand, fingering=fingering, episodes=episodes,
                                     seed=seed, out=out, pig=pig, video=video,
                                     size=(width, height))
        else:
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
    song: Song = "demo_short",
    hand: Hand = "shadow_five",
    fingering: Fingering = "ot",
    seed: Seed = 0,
    steps: Annotated[int, typer.Option("--steps", min=1, help="step cap")] = 60_000,
    progress: Progress = True,
    base_policy: Annotated[str, typer.Option(
        "--base-policy", help="learn a residual on this registered policy (ik: the kinematic "
                              "pianist), or 'none' to train from scratch as RP1M")] = "ik",
) -> None:
    """Train on a short built-in piece for a few CPU minutes; F1 curve, fingering, video."""
    from training.demo import run_demo

    enable_compilation_cache()
    with _cli_warnings():
        summary = run_demo(out, minutes=minutes, song=song, hand=hand, fingering=fingering,
                           seed=seed, steps=steps, progress=progress,
                           base_policy=None if base_policy == "none" else base_policy)
    base = summary.get("base_policy")
    alone = f", {base['policy']} alone {base['f1']:.3f}" if base else ""
    played = summary["played"]
    typer.echo(f"{out}: final F1 {summary['final_f1']:.3f} vs random policy "
               f"{summary['random_f1']:.3f}{alone} after {summary['steps']} steps "
               f"({summary['wall_time_s'] / 60:.1f} min); the video and fingering plots play "
               f"the best evaluated policy (step {played['step']}, F1 {played['f1']:.3f}) "
               f"-> {out / 'summary.json'}")


def register(app: typer.Typer) -> None:
    app.command("train", no_args_is_help=True)(train_command)
    app.command("eval", no_args_is_help=True)(eval_command)
    app.command("demo")(demo_command)
