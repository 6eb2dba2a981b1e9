"""Configuration of a DroQ training run: RP1M Table 4 as defaults, every value overridable.

Two frozen dataclasses: ``DroQConfig`` (the agent: networks, losses, optimiser) and
``TrainConfig`` (the run: song, hand, step budget, replay, evaluation, checkpoints; it holds
a ``DroQConfig``). A run saves its ``TrainConfig`` as ``config.json``; ``--resume`` reads it
back, so a resumed run cannot silently change its hyper-parameters.

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

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from handspec.atomic import write_bytes, write_text
from handspec.errors import InputError

ACTIVATIONS = ("gelu", "relu", "elu", "tanh", "silu")
FINGERING_MODES = ("ot", "human", "none")


@dataclass(frozen=True)
class DroQConfig:
    """DroQ (Hiraoka et al. 2022) = SAC with dropout + LayerNorm Q-functions (RP1M Table 4)."""

    hidden_dims: tuple[int, ...] = field(
        default=(256, 256, 256), metadata={"help": "MLP widths (actor and critics), e.g. 256,256,256"})
    num_qs: int = field(default=2, metadata={"help": "number of Q-networks (min over them)"})
    critic_dropout: float = field(default=0.01, metadata={"help": "dropout rate in the Q-networks"})
    critic_layer_norm: bool = field(default=True, metadata={"help": "LayerNorm in the Q-networks"})
    activation: str = field(default="gelu", metadata={"help": f"one of {', '.join(ACTIVATIONS)}"})
    tau: float = field(default=0.05, metadata={"help": "EMA momentum of the target critics"})
    discount: float = field(default=0.88, metadata={"help": "discount factor gamma"})
    init_temperature: float = field(default=1.0, metadata={"help": "initial entropy temperature"})
    learnable_temperature: bool = field(default=True, metadata={"help": "tune the temperature"})
    target_entropy: float | None = field(
        default=None, metadata={"help": "entropy target (default -action_dim/2)"})
    backup_entropy: bool = field(default=True, metadata={"help": "entropy term in the TD target"})
    actor_lr: float = field(default=3e-4, metadata={"help": "Adam learning rate of the actor"})
    critic_lr: float = field(default=3e-4, metadata={"help": "Adam learning rate of the critics"})
    temp_lr: float = field(default=3e-4, metadata={"help": "Adam learning rate of the temperature"})
    adam_b1: float = field(default=0.9, metadata={"help": "Adam beta1"})
    adam_b2: float = field(default=0.999, metadata={"help": "Adam beta2"})
    adam_eps: float = field(default=1e-8, metadata={"help": "Adam epsilon"})
    log_std_min: float = field(default=-20.0, metadata={"help": "actor log-std lower clip"})
    log_std_max: float = field(default=2.0, metadata={"help": "actor log-std upper clip"})
    sparse_goals: bool = field(
        default=True, metadata={"help": "first layers sum weight rows of the active binary inputs "
                                        "instead of a dense matmul (same result, ~2x fewer FLOPs)"})

    def validate(self, file: str | Path | None = None) -> DroQConfig:
        def bad(name: str, why: str) -> InputError:
            return InputError(why, file=file, field=name)

        if not self.hidden_dims or any(int(h) < 1 for h in self.hidden_dims):
            raise bad("hidden_dims", f"must be positive widths, got {self.hidden_dims!r}")
        if self.num_qs < 1:
            raise bad("num_qs", f"must be >= 1, got {self.num_qs}")
        if not 0.0 <= self.critic_dropout < 1.0:
            raise bad("critic_dropout", f"must be in [0, 1), got {self.critic_dropout}")
        if self.activation not in ACTIVATIONS:
            raise bad("activation", f"must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if not 0.0 < self.tau <= 1.0:
            raise bad("tau", f"must be in (0, 1], got {self.tau}")
        if not 0.0 <= self.discount <= 1.0:
            raise bad("discount", f"must be in [0, 1], got {self.discount}")
        if not self.init_temperature > 0.0:
            raise bad("init_temperature", f"must be > 0, got {self.init_temperature}")
        for name in ("actor_lr", "critic_lr", "temp_lr", "adam_eps"):
            if not getattr(self, name) > 0.0:
                raise bad(name, f"must be > 0, got {getattr(self, name)}")
        for name in ("adam_b1", "adam_b2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise bad(name, f"must be in [0, 1), got {getattr(self, name)}")
        if not self.log_std_min < self.log_std_max:
            raise bad("log_std_min", "must be below log_std_max")
        return self


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Defaults are RP1M Table 4 (8M steps, 1M replay, batch 256, ...)."""

    song: str = field(default="twinkle", metadata={"help": "song name, or name:chunk"})
    hand: str = field(default="shadow_five", metadata={"help": "hand spec name"})
    fingering: str = field(default="ot", metadata={"help": "fingering reward: ot | human | none"})
    seed: int = field(default=0, metadata={"help": "seed of the agent, replay and environment"})
    steps: int = field(default=8_000_000, metadata={"help": "environment steps to train for"})
    warmup_steps: int = field(default=5_000, metadata={"help": "uniform-random steps before learning"})
    batch_size: int = field(default=256, metadata={"help": "minibatch size"})
    buffer_size: int = field(default=1_000_000, metadata={"help": "replay capacity (transitions)"})
    update_interval: int = field(default=2, metadata={"help": "environment steps between updates"})
    updates_per_interval: int = field(
        default=1, metadata={"help": "gradient updates each time (one jitted lax.scan)"})
    eval_interval: int = field(default=10_000, metadata={"help": "steps between evaluations"})
    eval_episodes: int = field(default=1, metadata={"help": "episodes per evaluation"})
    log_interval: int = field(default=1_000, metadata={"help": "steps between train.csv rows"})
    checkpoint_interval: int = field(
        default=50_000, metadata={"help": "steps between checkpoints (taken at an episode end)"})
    keep_checkpoints: int = field(default=2, metadata={"help": "checkpoints kept on disk"})
    save_replay: bool = field(default=False, metadata={"help": "save the replay with checkpoints"})
    env_kwargs: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "extra task arguments for pianoenv.suite.load"})
    agent: DroQConfig = field(default_factory=DroQConfig)

    def validate(self, file: str | Path | None = None) -> TrainConfig:
        def bad(name: str, why: str) -> InputError:
            return InputError(why, file=file, field=name)

        if not self.song:
            raise bad("song", "must not be empty")
        if self.fingering not in FINGERING_MODES:
            raise bad("fingering", f"must be one of {', '.join(FINGERING_MODES)}, got {self.fingering!r}")
        for name in ("steps", "batch_size", "buffer_size", "update_interval", "updates_per_interval",
                     "eval_interval", "eval_episodes", "log_interval", "checkpoint_interval",
                     "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise bad(name, f"must be >= 1, got {getattr(self, name)}")
        if self.warmup_steps < 0:
            raise bad("warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        if self.buffer_size < self.batch_size + 1:
            raise bad("buffer_size", f"must exceed batch_size ({self.batch_size}), got {self.buffer_size}")
        self.agent.validate(file)
        return self

    # ----------------------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["agent"]["hidden_dims"] = list(self.agent.hidden_dims)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @staticmethod
    def from_dict(data: dict[str, Any], file: str | Path | None = None) -> TrainConfig:
        """Builds a config from ``to_dict`` output; unknown or mistyped fields are InputErrors."""
        if not isinstance(data, dict):
            raise InputError("expected a JSON object", file=file, field="config")
        data = dict(data)
        agent = data.pop("agent", {})
        if not isinstance(agent, dict):
            raise InputError("expected an object", file=file, field="agent")
        agent_cfg = _build(DroQConfig, agent, file, prefix="agent.")
        return _build(TrainConfig, {**data, "agent": agent_cfg}, file).validate(file)

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), self.to_json() + "\n")

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

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, value: Any, default: Any, file: str | Path | None) -> Any:
    """Checks a JSON value against the type of the field's default (JSON has no tuples)."""
    def bad() -> InputError:
        return InputError(f"expected {type(default).__name__}, got {value!r}", file=file, field=name)

    if name.endswith("hidden_dims"):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                          for v in value):
            raise bad()
        return tuple(int(v) for v in value)
    if name.endswith("target_entropy"):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"expected a number or null, got {value!r}", file=file, field=name)
        return float(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad()
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad()
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad()
        return value
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise bad()
        return dict(value)
    return value


def _build(cls: type, data: dict[str, Any], file: str | Path | None, prefix: str = "") -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InputError(f"unknown field (known: {', '.join(known)})", file=file,
                         field=prefix + unknown[0])
    defaults = cls()
    kwargs = {}
    for name, value in data.items():
        if name == "agent":
            kwargs[name] = value
            continue
        kwargs[name] = _coerce(prefix + name, value, getattr(defaults, name), file)
    return cls(**kwargs)


# One atomic writer for the whole project (temp file, fsync, os.replace): handspec.atomic.
atomic_write_bytes = write_bytes
atomic_write_text = write_text
