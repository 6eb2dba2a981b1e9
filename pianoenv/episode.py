"""The one episode loop: ``run_episode(env, policy)`` for env run, eval, collection, demos.

It plays one episode of a pianoenv environment with any ``pianoenv.policy.Policy`` and
returns what every caller needs: the return, the per-step mean of each named reward term,
the episode metrics (F1, precision, recall), the finger->key contact log and, on request,
the rendered frames and the per-step record (observations, actions, rewards, terms) that
the collector stores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dm_env
import numpy as np

from pianoenv.policy import Policy


@dataclass
class EpisodeRecord:
    """Per-step arrays of one episode (what a demonstration file stores)."""

    observations: list[dict[str, np.ndarray]] = field(default_factory=list)  # T + 1
    actions: list[np.ndarray] = field(default_factory=list)                  # T
    rewards: list[float] = field(default_factory=list)                        # T
    reward_terms: list[dict[str, float]] = field(default_factory=list)        # T


@dataclass
class EpisodeResult:
    episode_return: float
    length: int
    metrics: dict[str, float]                 # f1, precision, recall, steps
    reward_terms: dict[str, float]            # per-step mean of each named term
    contact_log: list[tuple[int, str, str, int]] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    record: EpisodeRecord | None = None

    def row(self) -> dict[str, Any]:
        """A flat row for CSV logs and tables."""
        return {"f1": self.metrics.get("f1", float("nan")),
                "precision": self.metrics.get("precision", float("nan")),
                "recall": self.metrics.get("recall", float("nan")),
                "return": self.episode_return, "length": self.length,
                **{f"reward/{k}": v for k, v in sorted(self.reward_terms.items())}}


def run_episode(env: Any, policy: Policy, *, seed: int | None = None,
                render: tuple[int, int] | None = None, camera: str | int = "player",
                record: bool = False,
                on_step: Callable[[dm_env.TimeStep], None] | None = None) -> EpisodeResult:
    """Play one episode of ``env`` with ``policy``.

    Args:
      seed: passed to ``policy.reset`` (so stochastic policies are reproducible per
        episode); None keeps the policy's current state (``make_policy`` already reset it).
      render: ``(width, height)`` records one frame after reset and after every step.
      record: also keep the per-step observations, actions, rewards and reward terms.
      on_step: called with each new timestep (progress bars, live plots).
    """
    if seed is not None:
        policy.reset(seed)
    timestep = env.reset()
    sums: dict[str, float] = {}
    total, length = 0.0, 0
    frames: list[np.ndarray] = []
    rec = EpisodeRecord() if record else None
    if rec is not None:
        rec.observations.append(_copy_obs(timestep.observation))
    if render is not None:
        frames.append(np.asarray(env.render(render[0], render[1], camera)))
    while not timestep.last():
        action = np.asarray(policy(timestep), np.float32)
        timestep = env.step(action)
        reward = float(timestep.reward or 0.0)
        total += reward
        length += 1
        terms = env.reward_terms
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        if rec is not None:
            rec.observations.append(_copy_obs(timestep.observation))
            rec.actions.append(action.copy())
            rec.rewards.append(reward)
            rec.reward_terms.append(dict(terms))
        if render is not None:
            frames.append(np.asarray(env.render(render[0], render[1], camera)))
        if on_step is not None:
            on_step(timestep)
    means = {k: v / max(length, 1) for k, v in sums.items()}
    return EpisodeResult(total, length, dict(env.episode_metrics()), means,
                         list(env.contact_log), frames, rec)


def _copy_obs(observation: Any) -> Any:
    if isinstance(observation, dict):
        return {k: np.array(v, copy=True) for k, v in observation.items()}
    return observation
