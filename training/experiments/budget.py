"""The budget of an experiment and the configs of its runs (light: no JAX, no MuJoCo, so the
CLI can declare its flags from ``Budget`` without slowing ``pianohands --help``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from handspec.errors import InputError
from training.rl.config import TrainConfig, base_policy_name, describe

# Fields of TrainConfig an experiment sets per run.
PER_RUN_FIELDS = ("song", "hand", "fingering", "seed", "steps")


DEFAULT_STEPS = 6_000
_FLAGS = {"config_file": "--config", "time_budget_s": "--time-budget"}


def budget_flag(name: str) -> str:
    """The command-line flag of a ``Budget`` field."""
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


class Budget(BaseModel):
    """What every experiment is given besides its arms: seeds, steps, schedule overrides,
    where to write and how long this session may take.

    Declared once: the fields validate the Python API (``run_fig2(..., seeds=3)``) and
    become the shared flags of every ``pianohands experiment`` command
    (``training.experiment_cli``). Bad values are ``InputError``s naming the flag.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    seeds: int = Field(1, ge=1, description="number of seeds (0..N-1) per arm")
    steps: int = Field(DEFAULT_STEPS, ge=1, description="environment steps per run")
    out: Path | None = Field(
        None, description="experiment directory (default runs/<experiment>_<song>); rerun to resume")
    max_episode_steps: int | None = Field(
        None, ge=1, description="play only the first N control steps of the song/chunk (RP1M "
                                "chunks are 550; shorter suits CPU budgets)")
    warmup_steps: int | None = Field(
        None, ge=0, description="uniform-random steps before learning (default 1000)")
    eval_interval: int | None = Field(
        None, ge=1, description="steps between evaluations, the points of the F1 curves "
                                "(default 1000)")
    hidden_dims: tuple[int, ...] | None = Field(
        None, description="agent MLP widths, e.g. 256,256 (default: Table 4's 256,256,256)")
    batch_size: int | None = Field(None, ge=1, description="minibatch size (default: Table 4's 256)")
    buffer_size: int | None = Field(
        None, ge=2, description="replay capacity (default: the step budget, so nothing is "
                                "dropped; set it when --steps may be raised later)")
    base_policy: str | None = Field(
        "ik", description="learn a residual on this registered policy (ik: the kinematic pianist, "
                          "the fastest learner measured; see docs/results.md); none: from "
                          "scratch, as RP1M")
    residual_scale: float | None = Field(
        None, gt=0, le=2, description="with a base policy: largest correction, as a fraction of "
                                      "each actuator's half-range (default 0.25)")
    workers: int = Field(1, ge=1, le=64, description="runs trained at once, each in its own "
                                                     "process on its own CPU (2 uses both vCPUs "
                                                     "of a 2-vCPU machine)")
    config_file: Path | None = Field(
        None, description="base TrainConfig (a run's config.json) for every run: agent and schedule")
    time_budget_s: float | None = Field(
        None, gt=0, description="minutes for this invocation: the current run stops with a "
                                "checkpoint, later runs wait; the same command again continues")
    progress: bool = Field(True, description="progress bars and log lines")
    tensorboard: bool = Field(True, description="TensorBoard events in every run", exclude=True)
    argv: tuple[str, ...] | None = Field(
        None, description="the command line, recorded with the results", exclude=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = str(err["loc"][0]) if err["loc"] else "budget"
            raise InputError(f"{describe(err)}, got {err['input']!r}",
                             field=budget_flag(name)) from None

    @field_validator("base_policy")
    @classmethod
    def _none_means_none(cls, value: str | None) -> str | None:
        return base_policy_name(value)

    def output(self, default_name: str) -> Path:
        return Path(self.out) if self.out is not None else Path("runs") / default_name

    def base_config(self) -> TrainConfig:
        base = experiment_base_config(self.config_file, warmup_steps=self.warmup_steps,
                                      eval_interval=self.eval_interval,
                                      batch_size=self.batch_size, hidden_dims=self.hidden_dims)
        return base.with_base_policy(self.base_policy, self.residual_scale)

    def configs(self, base: TrainConfig,
                arms: Mapping[str, tuple[str, str, str]]) -> dict[str, list[TrainConfig]]:
        """``arms[name] = (song, hand, fingering)`` -> each arm's run configs, one per seed."""
        return {arm: [run_config(base, song=song, hand=hand, fingering=fingering, seed=s,
                                 steps=self.steps, replay_capacity=self.buffer_size,
                                 max_episode_steps=self.max_episode_steps)
                      for s in range(self.seeds)]
                for arm, (song, hand, fingering) in arms.items()}


def experiment_base_config(config_file: Path | None = None, *,
                           hidden_dims: Sequence[int] | None = None,
                           **schedule: Any) -> TrainConfig:
    """The TrainConfig every run of an experiment starts from.

    RP1M Table 4 for the agent; the schedule is shortened for CPU budgets (warm-up, eval
    every ``eval_interval``, a replay no larger than the budget, saved with each checkpoint
    so resuming is exact). ``config_file`` (a config.json) replaces the defaults; explicit
    values (``None`` = keep: ``hidden_dims`` for the agent, any run field in ``schedule``
    such as ``warmup_steps``, ``eval_interval``, ``batch_size``) override both.
    """
    base = TrainConfig.load(config_file) if config_file else TrainConfig(
        warmup_steps=1_000, eval_interval=1_000, log_interval=500, checkpoint_interval=2_000,
        keep_checkpoints=1, save_replay=True)
    changes = {k: v for k, v in schedule.items() if v is not None}
    try:
        agent = base.agent if hidden_dims is None else base.agent.replace(
            hidden_dims=tuple(hidden_dims))
        return base.replace(**changes, agent=agent)
    except InputError as exc:
        raise InputError(exc.message, file=config_file, field=exc.field) from None


def run_config(base: TrainConfig, *, song: str, hand: str, fingering: str, seed: int,
               steps: int, replay_capacity: int | None = None,
               max_episode_steps: int | None = None) -> TrainConfig:
    """One run's config: the base with the experiment's per-run values.

    The replay holds ``replay_capacity`` transitions, by default the step budget (nothing is
    ever dropped; a 1M-slot replay for a 5k-step run would only waste memory). A run
    resumed with a larger ``--steps`` keeps the capacity it was created with, so it then
    drops its oldest transitions, unlike a fresh run with that budget: give
    ``--buffer-size`` up front when a budget may grow.
    """
    wanted = replay_capacity if replay_capacity is not None else min(base.buffer_size, steps + 1)
    buffer = max(wanted, base.batch_size + 1)
    # the cut is a task argument, so the run's own config (and `pianohands eval` of it)
    # plays exactly the steps it was trained on
    env_kwargs = dict(base.env_kwargs)
    if max_episode_steps is not None:
        env_kwargs["max_steps"] = max_episode_steps
    return base.replace(song=song, hand=hand, fingering=fingering, seed=seed, steps=steps,
                        buffer_size=buffer, env_kwargs=env_kwargs)


def base_identity(base: TrainConfig) -> dict[str, Any]:
    """The parts of the base config that define an experiment (all but per-run values)."""
    data = base.to_dict()
    for name in PER_RUN_FIELDS + ("buffer_size",):
        data.pop(name, None)
    return data
