"""Hands as data: pydantic specs loaded from YAML, built into MuJoCo models.

Public API: ``load_hand``, ``available_hands``, ``build_hand``, ``HandModel``,
``finger_reach``, ``HandSpec``, ``InputError``. Importing this package does not import
MuJoCo; the build functions do, when called.
"""

import os

# MuJoCo picks its GL backend when it is first imported; default to headless EGL (no X
# server needed) unless the user chose one. Without this, importing mujoco on a machine with
# no display prints GLFW warnings.
os.environ.setdefault("MUJOCO_GL", "egl")

from handspec.errors import InputError  # noqa: E402
from handspec.load import available_hands, load_hand, spec_hash  # noqa: E402
from handspec.reach import FingerReach, finger_reach  # noqa: E402
from handspec.spec import CANONICAL_FINGERS, HandSpec  # noqa: E402


def build_hand(spec, side="right"):
    from handspec.build import build_hand as _build

    return _build(spec, side)


__all__ = ["InputError", "load_hand", "available_hands", "spec_hash", "FingerReach",
           "finger_reach", "HandSpec", "CANONICAL_FINGERS", "build_hand"]
