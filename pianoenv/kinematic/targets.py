"""Fingertip targets for one control step, from the finger plan and the key geometry.

Every fingertip gets a target position and a per-axis weight (the IK's task cost):

* **press**: the finger holds a key during the step. Target: the key's press point
  (``fingering.keyboard.key_press_points``, but nearer the front edges: black keys
  ``black_front`` behind theirs instead of at their centre, nearer the hand and on a longer
  lever; white keys ``white_front`` behind theirs, so a tip that lags toward the wrist
  still lifts clear of the black keys' front faces), the tip sphere's bottom
  ``press_extra`` below the key's fully-down surface. The key's stop holds the finger
  there, and the remaining position error of the finger's servos is the force that keeps
  the key down.
* **hover**: the finger strikes a key within ``hover_window`` steps (a new note, or the same
  key again after the one-step release the goals enforce). Target: above that key,
  ``hover`` above its top right before the strike (so the strike is short and fast) and
  ``approach`` above it earlier, so the hand slides into place ahead of time. A hand with
  nothing to press or hover over sends the finger of its next note there however far
  ahead that note is.
* **free**: nothing to play soon. Only the height is constrained (``lift`` above the white
  keys), so the finger stays clear of the keys and goes wherever its hand goes.

Heights are those of the tip *site*, which sits at the centre of the fingertip's end
sphere: a tip touches a key when the site is one tip radius above the key's surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fingering import keyboard
from fingering.notes import NUM_KEYS
from pianoenv import piano
from pianoenv.kinematic.plan import FingerPlan


@dataclass(frozen=True)
class TargetConfig:
    """Heights (m) and weights of the fingertip targets (see the module docstring)."""

    press_extra: float = 0.01
    hover: float = 0.004
    approach: float = 0.012
    lift: float = 0.02
    hover_window: int = 6
    black_front: float = 0.015  # m behind a black key's front edge where it is pressed
    white_front: float = 0.02   # m behind a white key's front edge where it is pressed
    w_press: float = 1.0
    w_hover: float = 0.3
    w_hover_next: float = 0.6   # weight of the hover target on the step right before a strike
    w_free: float = 0.3
    press_force_margin: float = 1.0  # x the key spring's force at full travel (see press_force)


def press_points(black_front: float, white_front: float) -> np.ndarray:
    """(88, 3) where the kinematic pianist presses each key (see ``TargetConfig``)."""
    points = np.array(keyboard.key_press_points(), float)
    black = keyboard.black_mask()
    length = np.where(black, keyboard.BLACK_LENGTH, keyboard.WHITE_LENGTH)
    points[:, 0] = keyboard.key_centers()[:, 0] + length / 2 - np.where(black, black_front,
                                                                        white_front)
    return points


def key_full_depth(points: np.ndarray) -> np.ndarray:
    """(88,) how far (m) each key's surface at ``points`` moves down at full travel.

    A key rotates about a hinge at its back end, so the depth at a point is the lever arm
    (hinge to point along x) times tan(travel).
    """
    centers = keyboard.key_centers()
    black = keyboard.black_mask()
    length = np.where(black, keyboard.BLACK_LENGTH, keyboard.WHITE_LENGTH)
    lever = points[:, 0] - (centers[:, 0] - length / 2)
    return lever * np.tan(piano.KEY_TRAVEL)


def key_spring_force(points: np.ndarray) -> np.ndarray:
    """(88,) upward force (N) a key pushes back with at ``points`` when fully down: its
    hinge spring's torque at full travel over the lever arm (hinge to point along x)."""
    centers = keyboard.key_centers()
    black = keyboard.black_mask()
    length = np.where(black, keyboard.BLACK_LENGTH, keyboard.WHITE_LENGTH)
    lever = points[:, 0] - (centers[:, 0] - length / 2)
    torque = piano.KEY_STIFFNESS * (piano.KEY_TRAVEL - piano.KEY_SPRINGREF)
    return torque / lever


class TargetBuilder:
    """Fingertip targets of any step of a ``FingerPlan`` for fingertips of given radii."""

    def __init__(self, plan: FingerPlan, tip_radius: np.ndarray,
                 hands: list[np.ndarray] | None = None, config: TargetConfig | None = None):
        self.plan, self.config = plan, config or TargetConfig()
        # fingertip rows of each hand (one hand of all tips when not given)
        self.hands = hands if hands is not None else [np.arange(len(tip_radius))]
        self.tip_radius = np.asarray(tip_radius, float)
        c = self.config
        points = press_points(c.black_front, c.white_front)
        self._xy = points[:, :2]
        top = points[:, 2]
        self._press_z = top - key_full_depth(points) - c.press_extra  # (88,) tip bottom
        self._hover_z = top + c.hover
        self._approach_z = top + c.approach
        self._free_z = keyboard.WHITE_TOP + c.lift
        self._press_force = c.press_force_margin * key_spring_force(points)
        assert self._xy.shape[0] == NUM_KEYS

    def press_force(self, keys: np.ndarray) -> np.ndarray:
        """Upward force (N) each pressing tip must hold against on ``keys``: the key
        spring's force at full travel times ``press_force_margin``. Measured on five
        chunks (mean F1 of the pianist): margin 0 (no offset) 0.750, 0.5 0.796, 1.0 0.804,
        2.0 0.740: pushing harder than the spring drives the tips sideways off the key tops
        onto the neighbours (606 wrong-neighbour key-steps on a Bach chorale at 2.0)."""
        return self._press_force[keys]

    def approach_height(self, keys: np.ndarray) -> np.ndarray:
        """Height of the bottom of a tip approaching ``keys`` from above."""
        return self._approach_z[keys]

    def modes(self, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(press key, hover key, steps to the hover key's strike) per fingertip at ``step``.

        Keys are -1 where the mode does not apply. Past the plan's end nothing is pressed.
        """
        p, F = self.plan, len(self.tip_radius)
        if step >= p.num_steps:
            none = np.full(F, -1)
            return none, none, np.zeros(F, dtype=np.int64)
        press = p.press[step]
        ahead = p.next_step[step] - step
        upcoming = (press < 0) & (p.next_key[step] >= 0)
        hover = np.where(upcoming & (ahead <= self.config.hover_window), p.next_key[step], -1)
        # a hand with nothing to press or hover over moves to its next note early, however
        # far ahead: the finger that plays it first goes to approach height over it
        for rows in self.hands:
            if (press[rows] < 0).all() and (hover[rows] < 0).all() and upcoming[rows].any():
                first = rows[np.argmin(np.where(upcoming[rows], ahead[rows], np.inf))]
                hover[first] = p.next_key[step, first]
        return press, hover, ahead

    def targets(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Target positions (F, 3) and per-axis weights (F, 3) of the fingertip sites."""
        c, r = self.config, self.tip_radius
        press, hover, ahead = self.modes(step)
        F = len(r)
        pos = np.zeros((F, 3))
        cost = np.zeros((F, 3))
        pos[:, 2] = self._free_z + r
        cost[:, 2] = c.w_free
        for f in range(F):
            if press[f] >= 0:
                k = press[f]
                pos[f, :2], pos[f, 2] = self._xy[k], self._press_z[k] + r[f]
                cost[f] = c.w_press
            elif hover[f] >= 0:
                k = hover[f]
                near = ahead[f] <= 1
                pos[f, :2] = self._xy[k]
                pos[f, 2] = (self._hover_z[k] if near else self._approach_z[k]) + r[f]
                cost[f] = c.w_hover_next if near else c.w_hover
        return pos, cost
