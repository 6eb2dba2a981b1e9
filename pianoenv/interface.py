"""The environment interface every policy, loop and learner is written against.

``PianoEnvironment`` is what ``pianoenv.env.PianoEnv`` (CPU, one MuJoCo model) implements
and what the MJX backend will (in pure reset/step form over a batch); the test double
``tests/fake_env.py`` implements it without MuJoCo. Callers use these members and nothing
else: no ``getattr``/``hasattr`` probing, no private fields.

* a dm_env ``reset``/``step`` with an ordered dict of flat float32 observations and one
  bounded action (actuators in ``actuator_names`` order, then the sustain pedal);
* ``binary_observation_keys``: the observation arrays that only hold 0/1 (goals, fingering),
  which the learner stores packed and reads as active indices;
* ``reward_terms``: the named, unweighted terms of the last step plus ``total`` (the reward);
* ``episode_metrics()``: precision, recall, F1 (RoboPianist's per-step means) and steps;
* ``contact_log``: ``Contact`` = (step, hand, finger, key) each step a finger touches a
  pressed key, the raw material of the learned fingering;
* ``home_action()``: the action that holds the home pose with the pedal up;
* ``set_random_state(seed)``: the one source of randomness (initial-state noise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import dm_env
import numpy as np
from dm_env import specs

# (control step, "right" | "left", finger name, key index 0..87)
Contact = tuple[int, str, str, int]


@runtime_checkable
class PianoEnvironment(Protocol):
    """A piano-playing dm_env environment (see the module docstring for each member)."""

    control_timestep: float
    song_goals: Any                       # pianoenv.songs.SongGoals (keys, notes, note_steps)
    reward_terms: Mapping[str, float]

    def observation_spec(self) -> Mapping[str, specs.Array]: ...

    def action_spec(self) -> specs.BoundedArray: ...

    def reset(self) -> dm_env.TimeStep: ...

    def step(self, action: np.ndarray) -> dm_env.TimeStep: ...

    @property
    def binary_observation_keys(self) -> tuple[str, ...]: ...

    @property
    def finger_names(self) -> tuple[tuple[str, str], ...]: ...

    @property
    def actuator_names(self) -> tuple[str, ...]: ...

    @property
    def contact_log(self) -> list[Contact]: ...

    def episode_metrics(self) -> dict[str, float]: ...

    def home_action(self) -> np.ndarray: ...

    def set_random_state(self, random_state: int | np.random.Generator | None) -> None: ...

    def render(self, width: int = 640, height: int = 480,
               camera: str | int = "player") -> np.ndarray: ...

    def close(self) -> None: ...
