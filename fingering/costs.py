"""Cost matrices for the key->finger transport problem (RP1M Eq. 1).

Convention used everywhere in ``fingering``: rows are keys, columns are fingers, so
``cost[k, f]`` is the cost of pressing key ``k`` with finger ``f``. A pair that must not be
used (finger unavailable, key reserved for the other hand, a non-finite position) gets
``+inf``; the solvers treat every non-finite entry as forbidden.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

HandLabel = str | int | None

_HAND_CODES = {"right": 0, "rh": 0, "r": 0, "left": 1, "lh": 1, "l": 1}


def hand_codes(labels: Sequence[HandLabel] | np.ndarray, name: str) -> np.ndarray:
    """Normalise hand labels to int codes: 0 right, 1 left, -1 unknown/any.

    Accepts ``"right"``/``"left"`` (and ``"rh"``/``"lh"``), ``None``/``""`` for "any hand",
    or the codes themselves, so callers can pass whatever they have without converting.
    """
    out = np.empty(len(labels), dtype=np.int64)
    for i, label in enumerate(labels):
        if label is None or (isinstance(label, str) and label == ""):
            out[i] = -1
        elif isinstance(label, str):
            try:
                out[i] = _HAND_CODES[label.lower()]
            except KeyError:
                raise ValueError(f"{name}[{i}]: unknown hand {label!r}; use 'right', 'left' "
                                 "or None") from None
        else:
            code = int(label)
            if code not in (-1, 0, 1):
                raise ValueError(f"{name}[{i}]: hand code must be 0 (right), 1 (left) or -1 "
                                 f"(any), got {code}")
            out[i] = code
    return out


def _as_points(x: np.ndarray | Sequence, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 3)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3), got {arr.shape}")
    return arr


def cost_matrix(
    fingertips: np.ndarray,
    keys: np.ndarray,
    *,
    finger_mask: np.ndarray | Sequence[bool] | None = None,
    key_hand: Sequence[HandLabel] | np.ndarray | None = None,
    finger_hand: Sequence[HandLabel] | np.ndarray | None = None,
    finger_weights: np.ndarray | Sequence[float] | None = None,
) -> np.ndarray:
    """Euclidean key->finger cost, shape (K, F), with forbidden pairs set to ``+inf``.

    Args:
      fingertips: (F, 3) fingertip positions (m).
      keys: (K, 3) target points on the keys (m), e.g. ``keyboard.key_press_points()[idx]``.
      finger_mask: (F,) bool, False for a finger that may not be used (e.g. a broken or
        removed finger); its whole column becomes ``+inf``.
      key_hand: (K,) hand that must press each key ("right"/"left"/None = either). Needs
        ``finger_hand``. A key restricted to one hand is forbidden to the other's fingers.
      finger_hand: (F,) hand each finger belongs to.
      finger_weights: (F,) positive multipliers of each finger's distances (e.g. make the
        thumb "more expensive"). The cost stays a distance when all weights are 1.

    Non-finite positions (NaN/inf in a fingertip or key) make the affected entries ``+inf``:
    a finger whose position is unknown cannot be chosen, rather than poisoning the sum.
    """
    tips = _as_points(fingertips, "fingertips")
    targets = _as_points(keys, "keys")
    # It runs every environment step, where each numpy call is costly (cold caches after
    # the physics): plain ufuncs, and an early return for the common all-finite case.
    with np.errstate(invalid="ignore", over="ignore"):
        diff = targets[:, None, :] - tips[None, :, :]
        cost = np.sqrt(np.add.reduce(diff * diff, axis=-1))
    if finger_mask is None and key_hand is None and finger_weights is None and \
            math.isfinite(np.add.reduce(cost, axis=None)):
        return cost
    return _constrain(cost, finger_mask, key_hand, finger_hand, finger_weights)


def _constrain(cost: np.ndarray, finger_mask, key_hand, finger_hand,
               finger_weights) -> np.ndarray:
    """Apply the weights and masks of ``cost_matrix`` and map every non-finite entry to +inf."""
    num_keys, num_fingers = cost.shape
    if finger_weights is not None:
        weights = np.asarray(finger_weights, dtype=np.float64)
        if weights.shape != (num_fingers,):
            raise ValueError(f"finger_weights must have shape ({num_fingers},), got {weights.shape}")
        if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
            raise ValueError("finger_weights must be finite and > 0")
        cost = cost * weights[None, :]
    if finger_mask is not None:
        mask = np.asarray(finger_mask, dtype=bool)
        if mask.shape != (num_fingers,):
            raise ValueError(f"finger_mask must have shape ({num_fingers},), got {mask.shape}")
        cost[:, ~mask] = np.inf
    if key_hand is not None:
        if finger_hand is None:
            raise ValueError("key_hand needs finger_hand (which hand each finger belongs to)")
        kh = hand_codes(key_hand, "key_hand")
        fh = hand_codes(finger_hand, "finger_hand")
        if kh.shape != (num_keys,) or fh.shape != (num_fingers,):
            raise ValueError(f"key_hand must have {num_keys} entries and finger_hand {num_fingers}")
        clash = (kh[:, None] >= 0) & (fh[None, :] >= 0) & (kh[:, None] != fh[None, :])
        cost[clash] = np.inf
    cost[~np.isfinite(cost)] = np.inf
    return cost


def batch_cost_matrices(fingertips: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Euclidean costs for a batch: fingertips (B, F, 3), keys (B, K, 3) -> (B, K, F).

    The vectorised companion of ``cost_matrix`` for ``solve_batch`` (pad keys to K and pass
    ``key_valid``); non-finite positions give ``+inf`` as there. Masks and weights are the
    caller's to apply (e.g. ``costs[:, :, ~mask] = inf``).
    """
    tips = np.asarray(fingertips, dtype=np.float64)
    targets = np.asarray(keys, dtype=np.float64)
    if tips.ndim != 3 or targets.ndim != 3 or tips.shape[2] != 3 or targets.shape[2] != 3 \
            or tips.shape[0] != targets.shape[0]:
        raise ValueError(f"expected fingertips (B, F, 3) and keys (B, K, 3), got {tips.shape} "
                         f"and {targets.shape}")
    with np.errstate(invalid="ignore", over="ignore"):
        cost = np.linalg.norm(targets[:, :, None, :] - tips[:, None, :, :], axis=-1)
    cost[~np.isfinite(cost)] = np.inf
    return cost
