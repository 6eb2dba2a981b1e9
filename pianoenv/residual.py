"""Residual control: the environment as seen by a policy that corrects a base policy.

Residual RL (Silver et al. 2018, "Residual Policy Learning"; Johannink et al. 2019) learns
an offset on top of a fixed controller. Here the controller is any registered policy
(``pianoenv.policy``; the kinematic pianist "ik" is the one that matters) and the offset is
what the learner outputs:

    applied action = clip(base(timestep) + residual, action_min, action_max)

The residual's range is ``scale`` times half of each actuator's span, so a learner's
canonical action 0 plays exactly the base policy and +-1 moves each actuator by at most
``scale`` of its half-range. The base action is also in the observation (``base_action``,
in the canonical [-1, 1] units), so the critic and actor see what they are correcting.

It is a task option like any other (``suite.load(..., base_policy="ik")``, ``--env-arg
base_policy=ik``), so a run records it in its config and evaluation, resumption and
collection rebuild the same environment without knowing about residuals.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import dm_env
import numpy as np
from dm_env import specs

from handspec.errors import InputError
from pianoenv.policy import Policy

DEFAULT_RESIDUAL_SCALE = 0.25


class ResidualEnv(dm_env.Environment):
    """``env`` driven by ``base`` plus a bounded residual action."""

    def __init__(self, env: Any, base: Policy, scale: float = DEFAULT_RESIDUAL_SCALE):
        if not (isinstance(scale, (int, float)) and np.isfinite(scale) and 0.0 < scale <= 2.0):
            raise InputError(f"must be a number in (0, 2], got {scale!r}", field="residual_scale")
        self.env, self.base, self.scale = env, base, float(scale)
        spec = env.action_spec()
        self._lo = np.broadcast_to(np.asarray(spec.minimum, np.float32), spec.shape).copy()
        self._hi = np.broadcast_to(np.asarray(spec.maximum, np.float32), spec.shape).copy()
        self._half_span = 0.5 * (self._hi - self._lo)
        self._base_action = np.zeros(spec.shape, np.float32)
        self._episode = 0
        # the absolute actions of the current episode (what a demonstration file stores)
        self.applied_actions: list[np.ndarray] = []

    # ------------------------------------------------------------------ specs
    def observation_spec(self) -> "OrderedDict[str, specs.Array]":
        spec = OrderedDict(self.env.observation_spec())
        n = self._lo.shape[0]
        spec["base_action"] = specs.Array((n,), np.float32, name="base_action")
        return spec

    def action_spec(self) -> specs.BoundedArray:
        bound = (self.scale * self._half_span).astype(np.float32)
        return specs.BoundedArray(bound.shape, np.float32, -bound, bound, name="residual")

    def home_action(self) -> np.ndarray:
        """No correction: the base policy alone."""
        return np.zeros_like(self._lo)

    # ------------------------------------------------------------------ episode
    def reset(self) -> dm_env.TimeStep:
        self.base.reset(self._episode)
        self._episode += 1
        self.applied_actions = []
        return self._with_base(self.env.reset())

    def step(self, action) -> dm_env.TimeStep:
        residual = np.asarray(action, np.float32).reshape(self._lo.shape)
        applied = np.minimum(np.maximum(self._base_action + residual, self._lo), self._hi)
        timestep = self.env.step(applied)
        if timestep.first():  # the wrapped env auto-reset after the last step
            self.base.reset(self._episode)
            self._episode += 1
            self.applied_actions = []
        else:
            self.applied_actions.append(applied)
        return self._with_base(timestep)

    def _with_base(self, timestep: dm_env.TimeStep) -> dm_env.TimeStep:
        if not timestep.last():
            self._base_action = np.asarray(self.base(timestep), np.float32).reshape(self._lo.shape)
        obs = OrderedDict(timestep.observation)
        span = np.where(self._half_span > 0, self._half_span, 1.0)
        obs["base_action"] = ((self._base_action - self._lo) / span - 1.0).astype(np.float32)
        return timestep._replace(observation=obs)

    # ------------------------------------------------------------------ the rest of
    # ``pianoenv.interface.PianoEnvironment``: the wrapped environment's
    @property
    def control_timestep(self) -> float:
        return self.env.control_timestep

    @property
    def num_steps(self) -> int:
        return self.env.num_steps

    @property
    def spec(self) -> Any:
        """The wrapped environment's hand spec (a run freezes it into ``hand.json``)."""
        return self.env.spec

    @property
    def song_goals(self) -> Any:
        return self.env.song_goals

    @property
    def reward_terms(self) -> dict[str, float]:
        return self.env.reward_terms

    @property
    def binary_observation_keys(self) -> tuple[str, ...]:
        return self.env.binary_observation_keys

    @property
    def finger_names(self) -> tuple[tuple[str, str], ...]:
        return self.env.finger_names

    @property
    def actuator_names(self) -> tuple[str, ...]:
        return self.env.actuator_names

    @property
    def contact_log(self) -> list:
        return self.env.contact_log

    def episode_metrics(self) -> dict[str, float]:
        return self.env.episode_metrics()

    def set_random_state(self, random_state: int | np.random.Generator | None) -> None:
        self.env.set_random_state(random_state)

    def render(self, width: int = 640, height: int = 480, camera: str | int = "player") -> np.ndarray:
        return self.env.render(width, height, camera)

    def close(self) -> None:
        self.env.close()
