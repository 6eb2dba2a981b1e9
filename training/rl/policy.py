"""Policies and one-episode rollouts shared by training, evaluation and the demo."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from training.rl.agent import AgentState, DroQ
from training.rl.envwrap import SplitObs, TrainingEnv
from training.rl.networks import Obs
from training.rl.replay import active_capacity, active_indices

Policy = Callable[[SplitObs, int], np.ndarray]


def obs_batch(obs: SplitObs, capacity: int | None = None) -> Obs:
    """One environment observation as a batch of one for the networks (K = ``capacity``)."""
    return Obs(obs.dense[None], active_indices(obs.bits[None], capacity))


class ActiveCapacity:
    """Running K for acting: only grows, so a policy compiles for a handful of widths."""

    def __init__(self, start: int = 0):
        self.value = active_capacity(start)

    def __call__(self, obs: SplitObs) -> int:
        count = int(np.count_nonzero(obs.bits))
        if count > self.value:
            self.value = active_capacity(count)
        return self.value


def agent_policy(agent: DroQ, state: AgentState, key: jax.Array, deterministic: bool,
                 capacity: ActiveCapacity | None = None) -> Policy:
    width = capacity or ActiveCapacity()

    def policy(obs: SplitObs, step: int) -> np.ndarray:
        return np.asarray(agent.act(state, obs_batch(obs, width(obs)), key, step, deterministic))[0]
    return policy


def random_policy(rng: np.random.Generator, action_dim: int) -> Policy:
    """Uniform in the canonical [-1, 1] box (robopianist-rl's warm-up and baseline)."""
    def policy(obs: SplitObs, step: int) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, action_dim).astype(np.float32)
    return policy


@dataclass
class EpisodeResult:
    episode_return: float
    length: int
    metrics: dict[str, float]                 # f1, precision, recall (env.episode_metrics)
    reward_terms: dict[str, float]            # per-step mean of each named term
    contact_log: list[tuple[int, str, str, int]] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {"f1": self.metrics.get("f1", float("nan")),
                "precision": self.metrics.get("precision", float("nan")),
                "recall": self.metrics.get("recall", float("nan")),
                "return": self.episode_return, "length": self.length,
                **{f"reward/{k}": v for k, v in sorted(self.reward_terms.items())}}


class TermAverager:
    """Per-step mean of ``env.reward_terms`` over an episode."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.count = 0

    def add(self, terms: dict[str, float] | None) -> None:
        if terms:
            for k, v in terms.items():
                self.sums[k] += float(v)
            self.count += 1

    def means(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


def run_episode(env: TrainingEnv, policy: Policy, *, render: tuple[int, int] | None = None,
                camera: str | int | None = None) -> EpisodeResult:
    """Plays one episode; ``render=(width, height)`` also records frames."""
    timestep = env.reset()
    terms = TermAverager()
    total, length = 0.0, 0
    frames: list[np.ndarray] = []

    def grab() -> None:
        if render is not None:
            kwargs = {} if camera is None else {"camera": camera}
            frames.append(np.asarray(env.render(render[0], render[1], **kwargs)))

    grab()
    while not timestep.last():
        timestep = env.step(policy(timestep.observation, length))
        total += float(timestep.reward or 0.0)
        length += 1
        terms.add(getattr(env, "reward_terms", None))
        grab()
    metrics = dict(env.episode_metrics()) if hasattr(env, "episode_metrics") else {}
    contacts = list(getattr(env, "contact_log", []) or [])
    return EpisodeResult(total, length, metrics, terms.means(), contacts, frames)
