"""Reward terms of RP1M Eq. 3 (Appendix A.1), each a plain function of arrays.

    r = r_OT + r_press + r_sustain + 0.5 * r_collision + 5e-3 * r_energy

Every term is computed and reported by name (``reward/<term>`` in logs); the weights live
in ``RewardWeights`` so an experiment can change them. Which terms an environment uses is a
table (``TERMS``: fingering mode -> term names) and the reward is a ``CompositeReward`` of
named functions with weights (RoboPianist's ``CompositeReward``): a new term is one entry,
not a new branch. Conventions follow the public
RoboPianist code where the paper is silent:

* ``press``: 0.5 x mean tolerance of (1 - key state) over the active keys (bound 0.05,
  margin 0.5, gaussian) + 0.5 x (1 if no inactive key is pressed). With nothing to press,
  only the second half can be earned (max 0.5), as in RoboPianist. ``PRESS_VARIANTS``:
  "step" is that; "per_key" charges each wrong key what a missed goal key costs
  (``press_reward``).
* ``sustain``: tolerance of (goal - state) of the pedal, same bound/margin.
* ``collision``: 1 - 1[the two hands' forearms/palms touch] (the paper's sign: weighted
  0.5, so no collision earns 0.5).
* ``energy``: -|tau|.|qvel| over the hand joints (a penalty; the paper writes |tau|^T|v|
  with alpha_2 = 5e-3 and means it to be subtracted).
* ``ot`` (fingering="ot"): ``fingering.reward.ot_reward`` on the fingertips and the press
  points of the keys active now (1 when nothing is to be pressed).
* ``fingering`` (fingering="human"): RoboPianist-RL's term, mean tolerance of the distance
  from the annotated finger to its key (bound 0.01, margin 0.1); 0 with nothing to press,
  as RoboPianist.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Generic, TypeVar

import numpy as np

from fingering.reward import FINGER_CLOSE_ENOUGH, OT_MARGIN, tolerance

KEY_CLOSE_ENOUGH = 0.05  # normalized key state, RoboPianist's _KEY_CLOSE_ENOUGH_TO_PRESSED


@dataclass(frozen=True)
class RewardWeights:
    ot: float = 1.0
    fingering: float = 1.0
    press: float = 1.0
    sustain: float = 1.0
    collision: float = 0.5
    energy: float = 5e-3

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


# The terms of each fingering mode, in the order they are computed, reported and summed
# (RP1M Eq. 3 for "ot"; RoboPianist-RL's fingering term for "human", and for "annotator",
# where the labels come from the offline annotator instead of a human; neither for "none").
_COMMON_TERMS = ("press", "sustain", "collision", "energy")
TERMS: dict[str, tuple[str, ...]] = {"ot": ("ot", *_COMMON_TERMS),
                                     "human": ("fingering", *_COMMON_TERMS),
                                     "annotator": ("fingering", *_COMMON_TERMS),
                                     "none": _COMMON_TERMS}

Context = TypeVar("Context")


class CompositeReward(Generic[Context]):
    """Named reward terms with weights: ``compute(ctx)`` -> (total, {name: value, "total"}).

    Each term is ``fn(ctx) -> float`` on whatever per-step context the environment builds
    once per step (key states, fingertips, contacts); the total is the weighted sum in the
    order the terms were added.
    """

    def __init__(self) -> None:
        self._terms: list[tuple[str, Callable[[Context], float], float]] = []

    def add(self, name: str, fn: Callable[[Context], float], weight: float = 1.0) -> None:
        if name in self.names or name == "total":
            raise ValueError(f"reward term {name!r} already exists")
        self._terms.append((name, fn, float(weight)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self._terms)

    def compute(self, ctx: Context) -> tuple[float, dict[str, float]]:
        # one pass, summed in the order the terms were added (runs every control step)
        terms: dict[str, float] = {}
        total = 0.0
        for name, fn, weight in self._terms:
            terms[name] = value = fn(ctx)
            total += weight * value
        terms["total"] = total = float(total)
        return total, terms

    @classmethod
    def from_table(cls, names: tuple[str, ...], functions: Mapping[str, Callable[[Context], float]],
                   weights: RewardWeights) -> CompositeReward[Context]:
        """The terms ``names`` (a row of ``TERMS``), each from ``functions`` with its weight."""
        reward: CompositeReward[Context] = cls()
        w = weights.as_dict()
        for name in names:
            reward.add(name, functions[name], w[name])
        return reward


_LOG_VALUE_AT_MARGIN = math.log(0.1)


def gaussian_tolerance(x: np.ndarray, upper: float, margin: float) -> np.ndarray:
    """``tolerance(x, bounds=(0, upper), margin, "gaussian")`` for x >= 0, without the
    argument checks: it runs several times per environment step. A test pins it to
    ``fingering.reward.tolerance``."""
    excess = np.maximum(np.asarray(x, dtype=np.float64) - upper, 0.0)
    return np.exp((_LOG_VALUE_AT_MARGIN / (margin * margin)) * (excess * excess))


# How the press term charges wrong keys (pressed, not in the goal):
#   "step":    RoboPianist's and RP1M's: the second half (0.5) is lost if any key is wrong.
#   "per_key": each wrong key costs 0.5 / max(1, goal keys), what one fully missed goal key
#              costs in the first half, down to 0. Why: under "step" one wrong key in a
#              four-note chord costs as much as missing all four, and a second wrong key
#              costs nothing more, so a learner trades many right keys for fewer steps with a
#              wrong one; the F1 it is judged by weighs a wrong key about like a missed one.
#              (BWV 66.6 chunk 0, residual on the pianist under "step": return rose while
#              precision went 0.81 -> 0.91 and recall 0.62 -> 0.55, F1 0.67 -> 0.63, in
#              the first 32k steps. Under "per_key" F1 fell alike, to 0.55 at 32k steps, so
#              this term is not what makes that early dip; docs/results.md, wave 5.)
PRESS_VARIANTS = ("step", "per_key")


def press_reward(goal_keys: np.ndarray, key_state: np.ndarray, pressed: np.ndarray,
                 variant: str = "step") -> float:
    """goal_keys (88,) bool, key_state (88,) in [0,1], pressed (88,) bool; ``variant`` one
    of ``PRESS_VARIANTS``."""
    reward = 0.0
    active = key_state[goal_keys]
    if active.size:
        closeness = gaussian_tolerance(1.0 - active, KEY_CLOSE_ENOUGH, 10 * KEY_CLOSE_ENOUGH)
        reward += 0.5 * math.fsum(closeness.tolist()) / active.size
    # for bools, pressed > goal_keys is "pressed and not a goal key"
    wrong = np.count_nonzero(pressed > goal_keys)
    if variant == "step":
        return reward + (0.0 if wrong else 0.5)
    return reward + 0.5 * max(0.0, 1.0 - wrong / max(active.size, 1))


def sustain_reward(goal: bool, state: float) -> float:
    # one float: tolerance's scalar path computes it in math, no numpy call
    return tolerance(abs(float(goal) - state), bounds=(0.0, KEY_CLOSE_ENOUGH),
                     margin=10 * KEY_CLOSE_ENOUGH)


def energy_penalty(torques: np.ndarray, velocities: np.ndarray) -> float:
    return -float(np.abs(torques) @ np.abs(velocities))


def human_fingering_reward(tips: np.ndarray, targets: np.ndarray) -> float:
    """tips (M,3) of the annotated fingers, targets (M,3) their keys' press points."""
    if len(tips) == 0:
        return 0.0
    dist = np.linalg.norm(tips - targets, axis=1)
    return float(np.mean(gaussian_tolerance(dist, FINGER_CLOSE_ENOUGH, OT_MARGIN)))
