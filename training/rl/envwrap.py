"""The environment as the agent sees it: split observations, canonical [-1, 1] actions.

``TrainingEnv`` wraps any dm_env environment with the pianoenv interface (an ordered dict
of flat float32 observation arrays, ``binary_observation_keys``, a bounded action spec):

* observations become ``(dense, bits)``: the real-valued arrays concatenated in spec order
  (float32) and the binary arrays concatenated in spec order (uint8 0/1). The replay stores
  ``bits`` packed; the networks read them as active indices. Concatenating both in spec
  order gives back the usual flat observation (``flatten``).
* actions arrive in [-1, 1] (the tanh policy's range) and are mapped affinely to the
  actuators' [min, max] (robopianist-rl does the same with a CanonicalSpecWrapper); values
  outside [-1, 1] are clipped first.

The training loop reads ``reward_terms`` and ``episode_metrics()`` through the wrapper;
everything else of the ``pianoenv.interface.PianoEnvironment`` is on ``env`` (the wrapped
environment), which is what evaluation, collection and rendering use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import dm_env
import numpy as np
from dm_env import specs

from handspec.errors import InputError
from pianoenv import suite
from pianoenv.interface import PianoEnvironment
from training.rl.replay import ObsLayout


class SplitObs(NamedTuple):
    dense: np.ndarray  # (Dd,) float32
    bits: np.ndarray   # (Db,) uint8 in {0, 1}


class TrainingEnv(dm_env.Environment):
    """Split observations and canonical actions around a pianoenv-style environment."""

    def __init__(self, env: PianoEnvironment):
        self.env = env
        spec = env.observation_spec()
        binary = set(env.binary_observation_keys)
        unknown = binary - set(spec)
        if unknown:
            raise ValueError(f"binary_observation_keys not in the observation spec: {sorted(unknown)}")
        self.obs_keys = tuple(spec)
        self.binary_keys = tuple(k for k in spec if k in binary)
        self.dense_keys = tuple(k for k in spec if k not in binary)
        for key, array_spec in spec.items():
            if len(array_spec.shape) != 1:
                raise ValueError(f"observation {key!r} must be flat, has shape {array_spec.shape}")
        self.sizes = {k: int(spec[k].shape[0]) for k in spec}
        self.layout = ObsLayout(dense_dim=sum(self.sizes[k] for k in self.dense_keys),
                                num_bits=sum(self.sizes[k] for k in self.binary_keys))
        action = env.action_spec()
        self._low = np.asarray(action.minimum, np.float32) * np.ones(action.shape, np.float32)
        self._high = np.asarray(action.maximum, np.float32) * np.ones(action.shape, np.float32)
        if not (np.all(np.isfinite(self._low)) and np.all(np.isfinite(self._high))
                and np.all(self._high >= self._low)):
            raise ValueError("the action spec needs finite bounds with maximum >= minimum")
        self.action_dim = int(np.prod(action.shape))

    # ------------------------------------------------------------------ dm_env API
    def observation_spec(self) -> SplitObs:
        return SplitObs(specs.Array((self.layout.dense_dim,), np.float32, "dense"),
                        specs.Array((self.layout.num_bits,), np.uint8, "bits"))

    def action_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray((self.action_dim,), np.float32, -1.0, 1.0, "canonical_action")

    def reset(self) -> dm_env.TimeStep:
        return self._wrap(self.env.reset())

    def step(self, action: np.ndarray) -> dm_env.TimeStep:
        return self._wrap(self.env.step(self.to_env_action(action)))

    # ------------------------------------------------------------------ conversions
    def to_env_action(self, action: np.ndarray) -> np.ndarray:
        """[-1, 1] -> [min, max], affinely, after clipping to [-1, 1]."""
        action = np.clip(np.asarray(action, np.float32).reshape(self.action_dim), -1.0, 1.0)
        return self._low + (action + 1.0) * 0.5 * (self._high - self._low)

    def to_canonical_action(self, env_action: np.ndarray) -> np.ndarray:
        """Inverse of ``to_env_action`` (for expert data or tests)."""
        span = np.where(self._high > self._low, self._high - self._low, 1.0)
        return (2.0 * (np.asarray(env_action, np.float32) - self._low) / span - 1.0).astype(np.float32)

    def split(self, observation: Mapping[str, np.ndarray]) -> SplitObs:
        dense = np.concatenate([np.asarray(observation[k], np.float32).reshape(-1)
                                for k in self.dense_keys]) if self.dense_keys else np.zeros(0, np.float32)
        if self.binary_keys:
            bits = np.concatenate([np.asarray(observation[k]).reshape(-1) for k in self.binary_keys])
            bits = (bits > 0.5).astype(np.uint8)
        else:
            bits = np.zeros(0, np.uint8)
        return SplitObs(dense, bits)

    def flatten(self, obs: SplitObs) -> np.ndarray:
        """The flat float32 observation in spec order (the layout robopianist-rl feeds its MLPs)."""
        parts, d, b = [], 0, 0
        for key in self.obs_keys:
            n = self.sizes[key]
            if key in self.binary_keys:
                parts.append(obs.bits[b:b + n].astype(np.float32))
                b += n
            else:
                parts.append(obs.dense[d:d + n])
                d += n
        return np.concatenate(parts)

    def _wrap(self, timestep: dm_env.TimeStep) -> dm_env.TimeStep:
        return timestep._replace(observation=self.split(timestep.observation))

    @property
    def reward_terms(self) -> Mapping[str, float]:
        return self.env.reward_terms

    def episode_metrics(self) -> dict[str, float]:
        return self.env.episode_metrics()

    def close(self) -> None:
        self.env.close()


def make_env(song: str, hand: str, fingering: str, seed: int | np.random.Generator | None,
             env_kwargs: dict[str, Any] | None = None) -> TrainingEnv:
    """``pianoenv.suite.load`` wrapped for training; bad names surface as ``InputError``."""
    try:
        env = suite.load(song, hand=hand, fingering=fingering, seed=seed, **(env_kwargs or {}))
    except TypeError as exc:  # an unknown --env-arg name
        raise InputError(str(exc), field="env_kwargs") from None
    return TrainingEnv(env)
