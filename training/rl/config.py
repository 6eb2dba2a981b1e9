"""Configuration of a DroQ training run: RP1M Table 4 as defaults, every value overridable.

Two frozen pydantic models: ``DroQConfig`` (the agent: networks, losses, optimiser) and
``TrainConfig`` (the run: song, hand, step budget, replay, evaluation, checkpoints; it holds
a ``DroQConfig``). Each field's type, bounds and help text are declared once, here: they
validate config.json files and every construction, and ``training.commands`` turns them
into the ``pianohands train`` flags. Bad values are ``InputError``s naming the field and
the file (``tau`` for a value out of range, ``agent.hidden_dims`` for a wrong JSON type). A run saves its ``TrainConfig`` as ``config.json`` (plain
JSON, the format of every earlier version); ``--resume`` reads it back, so a resumed run
cannot silently change its hyper-parameters.

Two values differ between RP1M (Table 4) and the public robopianist-rl code:

=============  ==========  =====================  ======================================
value          Table 4     robopianist-rl run.sh  used here
=============  ==========  =====================  ======================================
discount       0.88        0.8                    0.88 (we reproduce RP1M)
tau (EMA)      0.05        0.005                  0.05 ("EMA momentum 0.05" = weight of
                                                  the online critic in each target update)
update every   2 steps     1 step                 2 (one gradient update per 2 env steps)
=============  ==========  =====================  ======================================

Both are one flag away (``--discount 0.8 --tau 0.005 --update-interval 1``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_serializer)

from handspec.atomic import write_text
from handspec.errors import InputError

ACTIVATIONS = ("gelu", "relu", "elu", "tanh", "silu")
ALGORITHMS = ("droq", "crossq")
FINGERING_MODES = ("ot", "human", "annotator", "none")
SEED_LIMIT = 2 ** 32  # numpy and JAX seeds are 32-bit

# JSON types only (no "3" for 3, no true for 1), finite floats, unknown fields refused.
_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class _Config(BaseModel):
    """Construction validates; a ``ValidationError`` becomes one ``InputError``."""

    model_config = _STRICT

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _input_error(exc, type(self)) from None

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes``, validated like a new config."""
        return type(self)(**{**dict(self), **changes})


class DroQConfig(_Config):
    """The off-policy actor-critic agent; the defaults are DroQ as in RP1M Table 4.

    DroQ (Hiraoka et al. 2022) is SAC with dropout + LayerNorm Q-functions and EMA target
    critics. Three options, all off by default (a default config is Table 4 exactly):

    * ``n_step``: n-step TD targets. The replay sums ``n`` discounted rewards at sampling
      time (``training.rl.replay``) and bootstraps from the observation ``n`` steps later,
      or from the episode's last one when it ends first. The stored data do not depend on
      ``n``; intermediate entropy terms are not added (as in RLPD/SAC n-step variants).
    * ``algorithm="crossq"``: CrossQ (Bhatt et al., ICLR 2024): Batch Renormalization in
      the critics and the actor, no target critics, the current and next (s, a) pairs in one
      critic forward pass (the BN statistics see both; the target is the stop-gradient of the
      next half). ``tau`` is unused. Its paper settings are the preset ``crossq``
      (``PRESETS``, ``pianohands train --agent-preset crossq``).
    * ``actor_zero_init``: the actor's mean head starts at zero, so the untrained
      deterministic action is exactly 0: with a residual environment the agent starts by
      playing the base policy exactly.
    * ``actor_init_std`` and ``actor_burn_in``, for residual learning on a good base policy
      (Silver et al. 2018, "Residual Policy Learning": zero-initialised residual, critic
      burn-in): the untrained policy explores with a small, uniform std instead of the
      random log-std head's (~1 before the tanh: residuals of most of their range; on
      BWV 66.6 chunk 0 the training episodes of the first 20k steps played F1 0.38 on
      average, 0.65 with a std of 0.1, the pianist alone 0.70), and the critics learn the
      base policy's values before the actor follows their gradient.
    """

    # Fields added after config.json files were first written: left out of the JSON while
    # they hold their default, so an older run's config reads and writes back byte for byte
    # (and a default run's config stays readable by older code).
    OMIT_WHEN_DEFAULT: ClassVar[tuple[str, ...]] = (
        "algorithm", "n_step", "actor_zero_init", "critic_hidden_dims", "policy_delay",
        "bn_momentum", "bn_warmup", "actor_init_std", "actor_burn_in")

    hidden_dims: tuple[int, ...] = Field(
        (256, 256, 256), min_length=1, description="MLP widths (actor and critics), e.g. 256,256,256")
    num_qs: int = Field(2, ge=1, description="number of Q-networks (min over them)")
    critic_dropout: float = Field(0.01, ge=0.0, lt=1.0, description="dropout rate in the Q-networks")
    critic_layer_norm: bool = Field(True, description="LayerNorm in the Q-networks")
    activation: Literal[ACTIVATIONS] = Field("gelu", description=f"one of {', '.join(ACTIVATIONS)}")
    tau: float = Field(0.05, gt=0.0, le=1.0, description="EMA momentum of the target critics")
    discount: float = Field(0.88, ge=0.0, le=1.0, description="discount factor gamma")
    init_temperature: float = Field(1.0, gt=0.0, description="initial entropy temperature")
    learnable_temperature: bool = Field(True, description="tune the temperature")
    target_entropy: float | None = Field(None, description="entropy target (default -action_dim/2)")
    backup_entropy: bool = Field(True, description="entropy term in the TD target")
    actor_lr: float = Field(3e-4, gt=0.0, description="Adam learning rate of the actor")
    critic_lr: float = Field(3e-4, gt=0.0, description="Adam learning rate of the critics")
    temp_lr: float = Field(3e-4, gt=0.0, description="Adam learning rate of the temperature")
    adam_b1: float = Field(0.9, ge=0.0, lt=1.0, description="Adam beta1")
    adam_b2: float = Field(0.999, ge=0.0, lt=1.0, description="Adam beta2")
    adam_eps: float = Field(1e-8, gt=0.0, description="Adam epsilon")
    log_std_min: float = Field(-20.0, description="actor log-std lower clip")
    log_std_max: float = Field(2.0, description="actor log-std upper clip")
    sparse_goals: bool = Field(
        True, description="first layers sum weight rows of the active binary inputs instead of "
                          "a dense matmul (same result, ~2x fewer FLOPs)")
    algorithm: Literal[ALGORITHMS] = Field(
        "droq", description="droq: EMA target critics (RP1M); crossq: batch-renormalised critics "
                            "and actor, no target critics, joint forward pass (Bhatt et al. 2024)")
    n_step: int = Field(1, ge=1, description="n-step TD targets (1: one-step, RP1M)")
    actor_zero_init: bool = Field(
        False, description="actor mean head starts at zero: the untrained deterministic action is "
                           "exactly 0 (with --base-policy: the base policy exactly)")
    actor_init_std: float | None = Field(
        None, gt=0.0, description="the untrained actor's std (before the tanh) everywhere: its "
                                  "log-std head starts at zero weights and this bias (default: "
                                  "random weights)")
    actor_burn_in: int = Field(
        0, ge=0, description="first updates that train only the critics (actor and temperature "
                             "frozen): residual RL's burn-in (Silver et al. 2018)")
    critic_hidden_dims: tuple[int, ...] | None = Field(
        None, min_length=1, description="critic MLP widths, e.g. 2048,2048")
    policy_delay: int = Field(
        1, ge=1, description="critic updates per actor and temperature update")
    bn_momentum: float = Field(
        0.99, ge=0.0, lt=1.0, description="crossq: running-statistics decay of batch renorm")
    bn_warmup: int = Field(
        100_000, ge=0, description="crossq: updates of plain batch norm before batch renorm "
                                   "corrections start")

    @field_validator("hidden_dims", "critic_hidden_dims", mode="before")
    @classmethod
    def _widths(cls, value: Any) -> Any:
        # JSON has no tuples; every width must be a positive int
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(value, tuple) and any(isinstance(v, int) and not isinstance(v, bool)
                                            and v < 1 for v in value):
            raise ValueError("must be positive widths")
        return value

    def model_post_init(self, context: Any) -> None:
        if not self.log_std_min < self.log_std_max:
            raise InputError("must be below log_std_max", field="log_std_min")

    @model_serializer(mode="wrap")
    def _omit_new_defaults(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in self.OMIT_WHEN_DEFAULT:
            if getattr(self, name) == type(self).model_fields[name].default:
                data.pop(name, None)
        return data

    @property
    def critic_widths(self) -> tuple[int, ...]:
        return self.critic_hidden_dims or self.hidden_dims

    @classmethod
    def preset(cls, name: str) -> DroQConfig:
        """The agent part of a named preset (``PRESETS``), defaults elsewhere."""
        if name not in PRESETS:
            raise InputError(f"unknown preset {name!r}; one of {', '.join(PRESETS)}",
                             field="--agent-preset")
        return cls(**PRESETS[name].agent)


class Preset(NamedTuple):
    """A published configuration as config overrides: agent fields and run fields (the
    update-to-data ratio is a run field, ``update_interval``)."""

    agent: dict[str, Any]
    run: dict[str, Any]
    description: str


PRESETS: dict[str, Preset] = {
    # Bhatt et al., ICLR 2024, and their reference code (github.com/adityab/CrossQ, -algo
    # crossq): BRN momentum 0.99, 100k BN warm-up updates, ReLU, critics 2x2048 and actor
    # 2x256 with batch renorm, no dropout/LayerNorm, Adam lr 1e-3 with beta1 0.5, actor
    # (and temperature) every 3rd critic update, UTD 1 (one update per environment step).
    # Kept from RP1M: discount 0.88, batch 256, entropy target -|A|/2, two critics.
    "crossq": Preset(
        agent={"algorithm": "crossq", "hidden_dims": (256, 256),
               "critic_hidden_dims": (2048, 2048), "activation": "relu", "critic_dropout": 0.0,
               "critic_layer_norm": False, "actor_lr": 1e-3, "critic_lr": 1e-3,
               "temp_lr": 1e-3, "adam_b1": 0.5, "policy_delay": 3, "bn_momentum": 0.99,
               "bn_warmup": 100_000},
        run={"update_interval": 1, "updates_per_interval": 1},
        description="CrossQ (Bhatt et al. 2024): batch renorm, no target critics, critics "
                    "2x2048, Adam beta1 0.5, lr 1e-3, policy delay 3, UTD 1"),
}


class TrainConfig(_Config):
    """One training run. Defaults are RP1M Table 4 (8M steps, 1M replay, batch 256, ...)."""

    song: str = Field("twinkle", min_length=1, description="song name, or name:chunk")
    hand: str = Field("shadow_five", min_length=1, description="hand spec name")
    fingering: Literal[FINGERING_MODES] = Field("ot", description="fingering reward: ot | human | annotator | none")
    seed: int = Field(0, ge=0, lt=SEED_LIMIT,
                      description="seed of the agent, replay and environment (0 <= seed < 2**32)")
    steps: int = Field(8_000_000, ge=1, description="environment steps to train for")
    warmup_steps: int = Field(5_000, ge=0, description="uniform-random steps before learning")
    batch_size: int = Field(256, ge=1, description="minibatch size")
    buffer_size: int = Field(1_000_000, ge=1, description="replay capacity (transitions)")
    update_interval: int = Field(2, ge=1, description="environment steps between updates")
    updates_per_interval: int = Field(
        1, ge=1, description="gradient updates each time (one jitted lax.scan)")
    eval_interval: int = Field(10_000, ge=1, description="steps between evaluations")
    eval_episodes: int = Field(1, ge=1, description="episodes per evaluation")
    stop_f1: float | None = Field(
        None, gt=0.0, le=1.0,
        description="end the run at the first evaluation with at least this F1 (best.ckpt "
                    "holds that policy), e.g. RP1M's 0.75 when a passing specialist is all a "
                    "dataset needs; default: train for all --steps")
    log_interval: int = Field(1_000, ge=1, description="steps between train.csv rows")
    checkpoint_interval: int = Field(
        50_000, ge=1, description="steps between checkpoints (taken at an episode end)")
    keep_checkpoints: int = Field(2, ge=1, description="checkpoints kept on disk")
    save_replay: bool = Field(False, description="save the replay with checkpoints")
    env_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="extra task arguments for pianoenv.suite.load")
    env_workers: int = Field(
        0, ge=0, le=64,
        description="actor processes that step their own environment and feed one learner "
                    "(0: act, step and learn in one process, exactly reproducible; >= 1: "
                    "faster, seeded but not bit-reproducible, see training.rl.actors)")
    param_sync_interval: int = Field(
        10, ge=1, description="with --env-workers: gradient updates between sending the "
                              "actor's parameters to the workers (their policy lag)")
    agent: DroQConfig = Field(default_factory=DroQConfig)

    @field_validator("agent", mode="before")
    @classmethod
    def _agent(cls, value: Any) -> Any:
        return DroQConfig(**value) if isinstance(value, dict) else value

    def model_post_init(self, context: Any) -> None:
        if self.buffer_size < self.batch_size + 1:
            raise InputError(f"must exceed batch_size ({self.batch_size}), got {self.buffer_size}",
                             field="buffer_size")

    # ------------------------------------------------------------------ residual learning
    @property
    def base_policy(self) -> str | None:
        """The registered policy this run learns a residual on (None: from scratch)."""
        return self.env_kwargs.get("base_policy")

    def plain(self) -> TrainConfig:
        """This run without a base policy: the same task, actions straight to the piano."""
        return self.replace(env_kwargs={k: v for k, v in self.env_kwargs.items()
                                        if k not in RESIDUAL_KEYS})

    def with_base_policy(self, base_policy: str | None,
                         residual_scale: float | None = None) -> TrainConfig:
        """This run learning a residual on ``base_policy`` (``pianoenv.residual``).

        ``None``, ``""`` or ``"none"`` (any case) mean from scratch, as RP1M. The base policy
        and scale are task arguments, so every run records them in ``env_kwargs`` and eval
        and collect rebuild the same residual environment from the run's config.
        """
        name = base_policy_name(base_policy)
        if name is None and residual_scale is not None:
            raise InputError("needs a base policy (not none)", field="--residual-scale")
        residual: dict[str, Any] = {}
        if name is not None:
            residual["base_policy"] = name
            if residual_scale is not None:
                residual["residual_scale"] = residual_scale
        return self.replace(env_kwargs={**self.plain().env_kwargs, **residual})

    # ----------------------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON; a single-process run (``env_workers`` 0) leaves out the worker fields,
        and a run without ``stop_f1`` that field, so its config.json is byte for byte what
        earlier versions wrote (and read back)."""
        data = self.model_dump(mode="json")
        if not self.env_workers:
            for name in _WORKER_FIELDS:
                del data[name]
        if self.stop_f1 is None:  # likewise for runs that train for all their steps
            del data["stop_f1"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @staticmethod
    def from_dict(data: Any, file: str | Path | None = None) -> TrainConfig:
        """Builds a config from ``to_dict`` output; unknown or mistyped fields are InputErrors."""
        if not isinstance(data, dict):
            raise InputError("expected a JSON object", file=file, field="config")
        try:
            return TrainConfig(**data)
        except InputError as exc:
            raise InputError(exc.message, file=file, field=exc.field) from None

    def save(self, path: str | Path) -> None:
        write_text(Path(path), self.to_json() + "\n")

    @staticmethod
    def load(path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise InputError("no such file", file=path, field="config") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"not valid JSON ({exc})", file=path, field="config") from None
        return TrainConfig.from_dict(data, file=path)


_WORKER_FIELDS = ("env_workers", "param_sync_interval")
# Fields that may change when a run resumes: they alter the schedule or how the steps are
# computed (env worker processes), not the learning problem (``pianohands train --resume``,
# and the pipeline's run directories, which are keyed by everything else).
RESUMABLE_FIELDS = ("steps", "eval_interval", "eval_episodes", "log_interval",
                    "checkpoint_interval", "keep_checkpoints", "save_replay", "stop_f1",
                    *_WORKER_FIELDS)
RESIDUAL_KEYS = ("base_policy", "residual_scale")  # task arguments of pianoenv.residual


def base_policy_name(value: str | None) -> str | None:
    """A ``--base-policy`` value as a policy name; ``None``, ``""`` and ``none`` (any case,
    RP1M's from-scratch setting) are None."""
    if value is None or value.strip().lower() in ("", "none"):
        return None
    return value.strip()


def _input_error(exc: ValidationError, model: type[BaseModel]) -> InputError:
    """The first problem of a ``ValidationError`` as one line naming the field."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
    # the field names of earlier versions: a value out of range names the field (``tau``),
    # a wrong type or unknown key in a file names its path (``agent.hidden_dims``)
    prefix = "agent." if model is DroQConfig and err["type"] not in _VALUE_ERRORS else ""
    field = prefix + ".".join(loc) if loc else None
    if err["type"] == "extra_forbidden":
        owner = model
        for part in loc[:-1]:
            owner = model.model_fields[part].annotation
        return InputError(f"unknown field (known: {', '.join(owner.model_fields)})", field=field)
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, InputError):  # raised by a validator of a nested model
        return InputError(cause.message, field=cause.field)
    return InputError(f"{describe(err)}, got {err['input']!r}", field=field)


_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
_VALUE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal",
                 "literal_error", "value_error", "too_short"}


def describe(err: Any) -> str:
    """What a pydantic error asks for, as this project words it (``must be >= 1``)."""
    ctx = err.get("ctx", {})
    bound = next(((op, ctx[key]) for key, op in _BOUNDS if key in ctx), None)
    if bound is not None:
        return f"must be {bound[0]} {bound[1]}"
    message = err["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:]
