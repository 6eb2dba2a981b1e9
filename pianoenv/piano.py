"""The generated 88-key piano (PyMJCF): hinged, spring-loaded keys and nothing else.

Every position and size comes from ``fingering.keyboard`` so the simulated keys and the
fingering engine's key positions can never disagree. Physical constants are RoboPianist's
(Steinway model D): a key rotates about a hinge at its back end, a 2 Nm/rad spring returns
it to rest, and a key counts as pressed within 0.5 degree of full travel.

Conventions the environment relies on:

* key ``k`` (0 = A0 .. 87 = C8) is body, joint and geom ``key_k`` and press site
  ``key_press_k``; joints appear in key order, so ``qpos`` of the piano is ``(88,)`` in
  key order;
* positive joint angle = pressed (the front of the key, at +x, goes down), 0 = at rest,
  ``KEY_TRAVEL[k]`` = fully down (the joint's upper limit); the normalized state
  ``clip(qpos / KEY_TRAVEL, 0, 1)`` is in ``[0, 1]``;
* contact bits: keys are ``contype=0, conaffinity=1`` (keys never collide with each other
  or with the base, only with geoms whose ``contype`` has bit 0 set, i.e. fingertips);
  the base collides with nothing.

Speed (a deliberate departure from RoboPianist): RoboPianist's spring has its reference
1 degree *above* the key's upper limit, so all 88 keys rest pressed against their joint
limits and the solver carries 88 active limit constraints every substep. Here each key is
counterbalanced (``gravcomp=1``, as real keys are with lead weights) and the spring's
reference is the rest position itself, so a resting key needs no constraint: the constraint
count drops from ~100 to the handful of keys actually touched, and a physics substep of the
two-hand scene is ~30% cheaper (``benchmarks/env_bench.py``). Pressed keys still return to
rest under the same 2 Nm/rad spring; the force at full travel is 0.133 Nm instead of
0.168 Nm.

Two more details keep resting keys free of constraints and computation:

* the rest-side stop sits ``KEY_REST_CLEARANCE`` (1 degree) above the rest position. With
  the stop *at* rest, a released key springs back onto it and, because a soft limit only
  approaches zero violation asymptotically, stays on it: the limit row stays active for the
  rest of the episode (17 of the 21 active limits per substep under a random policy were
  such keys). A released key overshoots by at most ~19% of its travel (0.74 degree for a
  white key, measured), so it rings out freely instead;
* the scene enables MuJoCo's sleeping (``<flag sleep="enable"/>``): a key that has been at
  rest for 10 substeps is skipped by kinematics, dynamics and the solver until a finger
  touches it. Actuated trees (the hands) never sleep.

Together these made a physics step 1.16x faster under a random policy (one interleaved A/B
run; ``benchmarks/env_bench.py`` measures the whole environment).

Angles are written in radians and the model sets ``<compiler angle="radian"/>``. PyMJCF
ignores the compiler element of an *attached* model, so a scene that attaches this piano
must itself use radians (or attach the hands to this root instead).
"""

from __future__ import annotations

import math

import numpy as np
from dm_control import mjcf

from fingering import keyboard
from fingering.notes import NUM_KEYS

WHITE_TRAVEL_DISTANCE = 0.01   # m the front of a white key moves down (3/8 inch)
BLACK_TRAVEL_DISTANCE = 0.008  # m the front of a black key moves down
WHITE_KEY_TRAVEL = math.atan(WHITE_TRAVEL_DISTANCE / keyboard.WHITE_LENGTH)  # 0.0666 rad
BLACK_KEY_TRAVEL = math.atan(BLACK_TRAVEL_DISTANCE / keyboard.BLACK_LENGTH)  # 0.0887 rad

KEY_STIFFNESS = 2.0                     # Nm/rad, enough to hold a key up against gravity
KEY_SPRINGREF = 0.0                     # spring rest = key up (see "Speed" in the docstring)
KEY_REST_CLEARANCE = math.radians(1.0)  # rest-side stop above the rest position (see "Speed")
KEY_DAMPING = 0.05
KEY_ARMATURE = 0.001
PRESSED_MARGIN = math.radians(0.5)      # a key is pressed within 0.5 deg of full travel

BASE_LENGTH, BASE_HEIGHT = 0.1, 0.04    # the block behind the keys (visual only)

WHITE_COLOR = (0.9, 0.9, 0.9, 1.0)
BLACK_COLOR = (0.1, 0.1, 0.1, 1.0)
BASE_COLOR = (0.15, 0.15, 0.15, 1.0)

_BLACK = keyboard.black_mask()
KEY_TRAVEL: np.ndarray = np.where(_BLACK, BLACK_KEY_TRAVEL, WHITE_KEY_TRAVEL)
"""(88,) full travel of each key in radians (joint range upper limit)."""
PRESSED_THRESHOLD: np.ndarray = 1.0 - PRESSED_MARGIN / KEY_TRAVEL
"""(88,) normalized state at or above which a key counts as pressed (~0.87 white, ~0.90 black)."""
for _array in (KEY_TRAVEL, PRESSED_THRESHOLD):
    _array.setflags(write=False)


def normalize_key_state(qpos_keys: np.ndarray) -> np.ndarray:
    """Map key joint angles ``(..., 88)`` to ``[0, 1]`` (0 = up, 1 = fully down).

    The soft joint limits let a key overshoot slightly either way; the clip hides that.
    """
    # np.minimum/np.maximum, not np.clip: clip's Python wrapper costs more than the math here
    return np.minimum(np.maximum(np.asarray(qpos_keys, dtype=float) / KEY_TRAVEL, 0.0), 1.0)


def pressed_keys(qpos_keys: np.ndarray) -> np.ndarray:
    """``(..., 88)`` bool: which keys are within 0.5 deg of full travel."""
    return normalize_key_state(qpos_keys) >= PRESSED_THRESHOLD


def _add_key_class(root: mjcf.RootElement, name: str, length: float, width: float,
                   height: float, mass: float, travel: float, material: str) -> mjcf.Element:
    """One default class per key colour, so each key element only names its class."""
    cls = root.default.add("default", dclass=name)
    cls.geom.set_attributes(type="box", size=(length / 2, width / 2, height / 2), mass=mass,
                            material=material, contype=0, conaffinity=1)
    # The hinge sits at the back end of the key; +y rotation pushes the front (+x) down.
    cls.joint.set_attributes(type="hinge", axis=(0, 1, 0), pos=(-length / 2, 0, 0),
                             range=(-KEY_REST_CLEARANCE, travel), limited="true",
                             stiffness=KEY_STIFFNESS, springref=KEY_SPRINGREF, damping=KEY_DAMPING,
                             armature=KEY_ARMATURE)
    cls.site.set_attributes(type="sphere", size=(0.002,), rgba=(1, 0, 0, 1), group=4)
    return cls


def build_piano() -> mjcf.RootElement:
    """Build the 88-key piano as a PyMJCF model named ``"piano"`` (see module docstring)."""
    root = mjcf.RootElement(model="piano")
    root.compiler.angle = "radian"
    root.compiler.autolimits = True
    root.asset.add("material", name="white", rgba=WHITE_COLOR)
    root.asset.add("material", name="black", rgba=BLACK_COLOR)
    white = _add_key_class(root, "white_key", keyboard.WHITE_LENGTH, keyboard.WHITE_WIDTH,
                           keyboard.WHITE_HEIGHT, keyboard.WHITE_MASS, WHITE_KEY_TRAVEL, "white")
    black = _add_key_class(root, "black_key", keyboard.BLACK_LENGTH, keyboard.BLACK_WIDTH,
                           keyboard.BLACK_HEIGHT, keyboard.BLACK_MASS, BLACK_KEY_TRAVEL, "black")

    width = keyboard.keyboard_width()
    base_x = -keyboard.WHITE_LENGTH / 2 - BASE_LENGTH / 2 - 0.002  # 2 mm behind the keys
    base = root.worldbody.add("body", name="base", pos=(base_x, 0, BASE_HEIGHT / 2))
    base.add("geom", name="base", type="box", size=(BASE_LENGTH / 2, width / 2, BASE_HEIGHT / 2),
             rgba=BASE_COLOR, contype=0, conaffinity=0)

    centers, press = keyboard.key_centers(), keyboard.key_press_points()
    for k in range(NUM_KEYS):
        body = root.worldbody.add("body", name=f"key_{k}", pos=centers[k],
                                  childclass=black if _BLACK[k] else white, gravcomp=1)
        body.add("geom", name=f"key_{k}")
        body.add("joint", name=f"key_{k}")
        body.add("site", name=f"key_press_{k}", pos=press[k] - centers[k])
    return root
