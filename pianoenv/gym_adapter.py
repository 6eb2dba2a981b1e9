"""A thin gymnasium adapter over ``PianoEnv`` and the registered ``pianohands/...`` ids.

    import gymnasium as gym
    import pianoenv.gym_adapter  # registers the ids (no heavy work at import)
    env = gym.make("pianohands/Piano-v0", song="twinkle", hand="shadow_five", fingering="ot")

Observations are the dm_env observation flattened in spec order into one float32 vector
(``flatten=False`` gives a ``Dict`` space instead); actions are a ``Box`` with the actuators'
control ranges plus the sustain pedal in [0, 1]. The episode ends with ``truncated=True``
at the end of the song (a time limit, never a failure), as RoboPianist.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

ENV_IDS = {
    "pianohands/Piano-v0": {},
    "pianohands/Twinkle-v0": {"song": "twinkle"},
    "pianohands/DemoShort-v0": {"song": "demo_short"},
    "pianohands/CMajorScale-v0": {"song": "c_major_scale"},
}


class PianoGymEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, song: str = "twinkle", hand: str = "shadow_five", fingering: str = "ot",
                 flatten: bool = True, render_mode: str | None = None,
                 render_size: tuple[int, int] = (480, 640), **task_kwargs: Any):
        from pianoenv import suite

        self._env = suite.load(song, hand, fingering, **task_kwargs)
        self._flatten = flatten
        self.render_mode = render_mode
        self._render_size = render_size
        obs_spec = self._env.observation_spec()
        self._keys = list(obs_spec)
        if flatten:
            dim = sum(s.shape[0] for s in obs_spec.values())
            self.observation_space = spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        else:
            self.observation_space = spaces.Dict(
                {k: spaces.Box(-np.inf, np.inf, s.shape, np.float32) for k, s in obs_spec.items()})
        a = self._env.action_spec()
        self.action_space = spaces.Box(a.minimum.astype(np.float32), a.maximum.astype(np.float32),
                                       a.shape, np.float32)

    @property
    def unwrapped_dm_env(self):
        return self._env

    def _obs(self, observation) -> np.ndarray | dict:
        if self._flatten:
            return np.concatenate([observation[k] for k in self._keys]).astype(np.float32)
        return {k: np.asarray(observation[k], np.float32) for k in self._keys}

    def _info(self) -> dict[str, Any]:
        info = dict(self._env.reward_terms)
        info = {f"reward/{k}": v for k, v in info.items()}
        info.update(self._env.episode_metrics())
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.set_random_state(seed)
        ts = self._env.reset()
        return self._obs(ts.observation), self._info()

    def step(self, action):
        ts = self._env.step(np.asarray(action, dtype=np.float32))
        truncated = ts.last()
        return self._obs(ts.observation), float(ts.reward), False, truncated, self._info()

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        h, w = self._render_size
        return self._env.render(width=w, height=h)

    def close(self):
        self._env.close()


def register() -> None:
    for env_id, kwargs in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="pianoenv.gym_adapter:PianoGymEnv", kwargs=kwargs,
                         disable_env_checker=False)


register()
