"""Hands as data: pydantic specs loaded from YAML, built into MuJoCo models.

Public API: ``load_hand``, ``available_hands``, ``build_hand``, ``HandModel``,
``finger_reach``, ``HandSpec``, ``InputError``. Importing this package does not import
MuJoCo; the build functions do, when called.
"""

from handspec.errors import InputError
from handspec.load import available_hands, load_hand, spec_hash
from handspec.reach import FingerReach, finger_reach
from handspec.spec import CANONICAL_FINGERS, HandSpec


def build_hand(spec, side="right"):
    from handspec.build import build_hand as _build

    return _build(spec, side)


__all__ = ["InputError", "load_hand", "available_hands", "spec_hash", "FingerReach",
           "finger_reach", "HandSpec", "CANONICAL_FINGERS", "build_hand"]
