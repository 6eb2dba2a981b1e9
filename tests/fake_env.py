"""A tiny "press the goal keys" environment implementing ``pianoenv.interface.PianoEnvironment``,
for tests of the trainer, policies and experiments that must not depend on MuJoCo.

Observation keys, order and binary keys are those of ``pianoenv`` (``goal`` L*K bits,
``sustain_goal`` L bits, ``piano/keys`` K, ``piano/sustain`` 1, ``fingertips`` 3F,
``hands/joints`` J); the action is K key commands + sustain, with deliberately
non-canonical bounds [-2, 3] so the action wrapper's mapping is exercised. Key k is pressed
when its command is in the upper half of the range, so a policy that reads the current goal
can score F1 = 1; a random one scores about 0.3.

It follows the lead's environment conventions: ``reward_terms`` (named, unweighted, plus
``total``), ``episode_metrics()`` (mean per-step precision/recall/F1 with zero_division=1),
``contact_log`` ((step, hand, finger, key) tuples), truncation with discount 1 at the end,
and one ``np.random.Generator`` (``set_random_state``) as the only randomness.
"""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace

import dm_env
import numpy as np
from dm_env import specs

FINGERS = ("thumb", "index", "middle", "ring", "little")


class FakePianoEnv(dm_env.Environment):
    def __init__(self, num_keys: int = 6, lookahead: int = 2, num_steps: int = 20,
                 num_fingers: int = 4, seed: int | np.random.Generator | None = 0,
                 song_seed: int = 0, action_low: float = -2.0, action_high: float = 3.0):
        self.num_keys, self.lookahead, self.num_steps = num_keys, lookahead, num_steps
        self.num_fingers = num_fingers
        song = np.random.default_rng(song_seed)
        self.goals = np.zeros((num_steps + lookahead + 1, num_keys), np.float32)
        for t in range(num_steps):
            self.goals[t, song.choice(num_keys, size=int(song.integers(1, 3)), replace=False)] = 1
        self.sustain = np.zeros(num_steps + lookahead + 1, np.float32)
        self.sustain[: num_steps // 2] = 1.0
        self._low, self._high = np.float32(action_low), np.float32(action_high)
        self.song_goals = SimpleNamespace(name=f"fake{song_seed}", keys=self.goals[:num_steps] > 0,
                                          num_steps=num_steps, notes=None)
        self.binary_observation_keys = ("goal", "sustain_goal")
        self.control_timestep = 0.05
        self.finger_names = tuple((side, FINGERS[i % num_fingers])
                                  for side in ("right", "left") for i in range(num_fingers))
        self.actuator_names = tuple(f"key_{k}" for k in range(num_keys))
        self.set_random_state(seed)
        self._t = 0
        self._state = np.zeros(num_keys + 1, np.float32)
        self._metrics: list[tuple[float, float, float]] = []
        self._contacts: list[tuple[int, str, str, int]] = []
        self.reward_terms: dict[str, float] = {}
        self._reset_next = True

    def set_random_state(self, random_state: int | np.random.Generator | None) -> None:
        self.random_state = (random_state if isinstance(random_state, np.random.Generator)
                             else np.random.default_rng(random_state))

    # ----------------------------------------------------------------- specs
    def observation_spec(self) -> OrderedDict[str, specs.Array]:
        L, K = self.lookahead + 1, self.num_keys
        dims = [("goal", L * K), ("sustain_goal", L), ("piano/keys", K), ("piano/sustain", 1),
                ("fingertips", 3 * self.num_fingers), ("hands/joints", K + 1)]
        return OrderedDict((k, specs.Array((n,), np.float32, name=k)) for k, n in dims)

    def action_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray((self.num_keys + 1,), np.float32, self._low, self._high,
                                  name="actuators+sustain")

    # ----------------------------------------------------------------- episode
    def reset(self) -> dm_env.TimeStep:
        self._t = 0
        self._state = self.random_state.uniform(0.0, 0.2, self.num_keys + 1).astype(np.float32)
        self._metrics, self._contacts, self.reward_terms = [], [], {}
        self._reset_next = False
        return dm_env.restart(self._observation())

    def step(self, action: np.ndarray) -> dm_env.TimeStep:
        if self._reset_next:
            return self.reset()
        action = np.clip(np.asarray(action, np.float32).reshape(-1), self._low, self._high)
        self._state = (action - self._low) / (self._high - self._low)
        pressed = self._state[:-1] > 0.5
        goal = self.goals[self._t] > 0
        tp = int((goal & pressed).sum())
        precision = tp / pressed.sum() if pressed.any() else 1.0
        recall = tp / goal.sum() if goal.any() else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        self._metrics.append((precision, recall, f1))
        for k in np.flatnonzero(pressed):
            hand = "right" if k >= self.num_keys // 2 else "left"
            self._contacts.append((self._t, hand, FINGERS[k % self.num_fingers], int(k)))
        press = float(1.0 - np.abs(pressed.astype(np.float32) - goal).mean())
        sustain = float((self._state[-1] > 0.5) == (self.sustain[self._t] > 0))
        energy = float(-np.square(action).mean())
        self.reward_terms = {"press": press, "sustain": sustain, "energy": energy}
        reward = press + 0.5 * sustain + 0.01 * energy
        self.reward_terms["total"] = reward
        self._t += 1
        if self._t >= self.num_steps:
            self._reset_next = True
            return dm_env.truncation(reward, self._observation())
        return dm_env.transition(reward, self._observation())

    def _observation(self) -> OrderedDict[str, np.ndarray]:
        t, L = self._t, self.lookahead + 1
        tips = np.tile(self._state[: self.num_fingers, None], (1, 3)).reshape(-1)
        return OrderedDict([
            ("goal", self.goals[t:t + L].reshape(-1).copy()),
            ("sustain_goal", self.sustain[t:t + L].copy()),
            ("piano/keys", self._state[:-1].copy()),
            ("piano/sustain", self._state[-1:].copy()),
            ("fingertips", tips.astype(np.float32)),
            ("hands/joints", self._state.copy()),
        ])

    # ----------------------------------------------------------------- extras
    def episode_metrics(self) -> dict[str, float]:
        if not self._metrics:
            return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "steps": 0}
        p, r, f = np.mean(np.asarray(self._metrics), axis=0)
        return {"precision": float(p), "recall": float(r), "f1": float(f), "steps": len(self._metrics)}

    @property
    def contact_log(self) -> list[tuple[int, str, str, int]]:
        return list(self._contacts)

    def home_action(self) -> np.ndarray:
        """All keys up (the lower half of the range), pedal up."""
        return np.full(self.num_keys + 1, self._low, np.float32)

    def close(self) -> None:
        pass

    def render(self, width: int = 64, height: int = 48, camera: str | int = 0) -> np.ndarray:
        frame = np.zeros((height, width, 3), np.uint8)
        cols = np.linspace(0, width, self.num_keys + 1).astype(int)
        for k in range(self.num_keys):
            frame[:, cols[k]:cols[k + 1], 1] = int(255 * self._state[k])
        return frame
