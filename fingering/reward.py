"""The OT fingering reward of RP1M (Eq. 2) and the per-key variant of its public code.

Eq. 2 of the paper applies a tolerance to the transport cost d_OT::

    r_OT = 1                          if d_OT < 0.01
           exp(c * (d_OT - 0.01)^2)   otherwise

with "c the same value as Tassa et al." i.e. dm_control's ``tolerance`` with a gaussian
sigmoid. The public RP1M code (robopianist-rp1m, ``_compute_ot_fingering_reward``) calls
``tolerance(dist, bounds=(0, 0.01), margin=0.1, sigmoid="gaussian")`` (margin = 10 x the
bound, RoboPianist's fingering-reward setting) with the default value_at_margin 0.1, which
fixes ``c = ln(0.1) / 0.1**2 ~= -230.26 m^-2``: 0.1 m beyond the bound the reward is 0.1.

Two variants, selectable by name (``variant=``):

``"total"`` (the paper's Eq. 2)
    tolerance of the *sum* d_OT. Every extra key adds its distance, so with three keys each
    6 mm away (d_OT = 18 mm) the reward is already below 1.
``"per_key"`` (the public RP1M code)
    the tolerance of each assigned key's distance, averaged over the keys. Three keys each
    6 mm away give exactly 1, and one far key among many costs only its share.

Both give 1.0 when there is nothing to press (d_OT = 0; the public code returns 1 too).
When K > F, the keys without a finger do not count (as in the public code). ``tolerance``
reimplements dm_control's maths in numpy because ``fingering`` must not import dm_control;
a test checks it against dm_control's own.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Literal

import numpy as np

from fingering.costs import cost_matrix
from fingering.solvers import Assignment, BatchAssignment, solve, solve_batch

FINGER_CLOSE_ENOUGH = 0.01  # m, the bound of Eq. 2
OT_MARGIN = 10 * FINGER_CLOSE_ENOUGH  # m, RoboPianist/RP1M margin
DEFAULT_VALUE_AT_MARGIN = 0.1
Variant = Literal["total", "per_key"]
VARIANTS: tuple[str, ...] = ("total", "per_key")


def _gaussian(x, v):
    return np.exp(-0.5 * (x * np.sqrt(-2.0 * np.log(v))) ** 2)


def _hyperbolic(x, v):
    return 1.0 / np.cosh(x * np.arccosh(1.0 / v))


def _long_tail(x, v):
    return 1.0 / ((x * np.sqrt(1.0 / v - 1.0)) ** 2 + 1.0)


def _reciprocal(x, v):
    return 1.0 / (np.abs(x) * (1.0 / v - 1.0) + 1.0)


def _cosine(x, v):
    sx = x * np.arccos(2.0 * v - 1.0) / np.pi
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(sx) < 1, (1.0 + np.cos(np.pi * sx)) / 2.0, 0.0)


def _linear(x, v):
    sx = x * (1.0 - v)
    return np.where(np.abs(sx) < 1, 1.0 - sx, 0.0)


def _quadratic(x, v):
    sx = x * np.sqrt(1.0 - v)
    return np.where(np.abs(sx) < 1, 1.0 - sx**2, 0.0)


def _tanh_squared(x, v):
    return 1.0 - np.tanh(x * np.arctanh(np.sqrt(1.0 - v))) ** 2


SIGMOIDS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "gaussian": _gaussian, "hyperbolic": _hyperbolic, "long_tail": _long_tail,
    "reciprocal": _reciprocal, "cosine": _cosine, "linear": _linear,
    "quadratic": _quadratic, "tanh_squared": _tanh_squared,
}
_ZERO_OK = ("cosine", "linear", "quadratic")


def tolerance(x: float | np.ndarray, bounds: tuple[float, float] = (0.0, 0.0),
              margin: float = 0.0, sigmoid: str = "gaussian",
              value_at_margin: float = DEFAULT_VALUE_AT_MARGIN) -> float | np.ndarray:
    """1 inside ``bounds``, decaying by ``sigmoid`` outside; ``value_at_margin`` at ``margin``.

    Same definition and argument checks as ``dm_control.utils.rewards.tolerance``.
    """
    lower, upper = bounds
    if lower > upper:
        raise ValueError("Lower bound must be <= upper bound.")
    if margin < 0:
        raise ValueError("`margin` must be non-negative.")
    if sigmoid not in SIGMOIDS:
        raise ValueError(f"Unknown sigmoid type {sigmoid!r}; one of {sorted(SIGMOIDS)}.")
    low_ok = 0 <= value_at_margin < 1 if sigmoid in _ZERO_OK else 0 < value_at_margin < 1
    if margin > 0 and not low_ok:
        raise ValueError(f"`value_at_margin` out of range for {sigmoid!r}: {value_at_margin}")
    if np.isscalar(x):  # e.g. d_OT once per environment step: stay with Python floats
        v = float(x)
        if lower <= v <= upper:
            return 1.0
        if margin == 0:
            return 0.0
        d = (lower - v if v < lower else v - upper) / margin
        if sigmoid == "gaussian":  # the reward's own sigmoid, in math: no numpy scalar ops
            return math.exp(math.log(value_at_margin) * d * d)
        return float(SIGMOIDS[sigmoid](d, value_at_margin))
    arr = np.asarray(x, dtype=np.float64)
    in_bounds = (lower <= arr) & (arr <= upper)
    if margin == 0:
        value = np.where(in_bounds, 1.0, 0.0)
    else:
        d = np.where(arr < lower, lower - arr, arr - upper) / margin
        value = np.where(in_bounds, 1.0, SIGMOIDS[sigmoid](d, value_at_margin))
    return float(value) if np.isscalar(x) else value


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown OT reward variant {variant!r}; one of {VARIANTS}")


def reward_from_assignment(assignment: Assignment, cost: np.ndarray, *,
                           variant: Variant = "total",
                           bounds: tuple[float, float] = (0.0, FINGER_CLOSE_ENOUGH),
                           margin: float = OT_MARGIN, sigmoid: str = "gaussian",
                           value_at_margin: float = DEFAULT_VALUE_AT_MARGIN) -> float:
    """The reward of an already solved assignment (``cost`` is the matrix it solved)."""
    _check_variant(variant)
    kw = dict(bounds=bounds, margin=margin, sigmoid=sigmoid, value_at_margin=value_at_margin)
    if variant == "total":
        return float(tolerance(assignment.cost, **kw))
    if assignment.num_pairs == 0:
        return 1.0
    return float(np.mean(tolerance(assignment.pair_costs(cost), **kw)))


def ot_reward(fingertips: np.ndarray, keys: np.ndarray, *, method: str = "jv",
              variant: Variant = "total",
              bounds: tuple[float, float] = (0.0, FINGER_CLOSE_ENOUGH),
              margin: float = OT_MARGIN, sigmoid: str = "gaussian",
              value_at_margin: float = DEFAULT_VALUE_AT_MARGIN,
              **cost_kw: Any) -> tuple[float, Assignment]:
    """RP1M's OT reward for fingertips (F, 3) and the keys to press now (K, 3).

    ``cost_kw`` goes to ``cost_matrix`` (finger_mask, key_hand, finger_hand,
    finger_weights). Returns (reward in [0, 1], the assignment that defines it).
    """
    _check_variant(variant)
    cost = cost_matrix(fingertips, keys, **cost_kw)
    assignment = solve(cost, method=method)
    return reward_from_assignment(assignment, cost, variant=variant, bounds=bounds,
                                  margin=margin, sigmoid=sigmoid,
                                  value_at_margin=value_at_margin), assignment


def batch_ot_reward(costs: np.ndarray, key_valid: np.ndarray | None = None,
                    finger_valid: np.ndarray | None = None, *, method: str = "jax",
                    variant: Variant = "total",
                    bounds: tuple[float, float] = (0.0, FINGER_CLOSE_ENOUGH),
                    margin: float = OT_MARGIN, sigmoid: str = "gaussian",
                    value_at_margin: float = DEFAULT_VALUE_AT_MARGIN,
                    ) -> tuple[np.ndarray, BatchAssignment]:
    """``ot_reward`` for a padded batch of cost matrices (B, K, F), e.g. many environments.

    Padding follows ``solve_batch``. An infeasible problem raises (see ``solve_batch``).
    """
    _check_variant(variant)
    kw = dict(bounds=bounds, margin=margin, sigmoid=sigmoid, value_at_margin=value_at_margin)
    batch = solve_batch(costs, key_valid, finger_valid, method=method)
    if variant == "total":
        return np.asarray(tolerance(batch.cost, **kw), dtype=np.float64), batch
    c = np.asarray(costs, dtype=np.float64)
    has = batch.finger_of_key >= 0
    safe = np.where(has, batch.finger_of_key, 0)
    per_pair = np.take_along_axis(c, safe[..., None], axis=2)[..., 0]
    per_key = np.where(has, tolerance(np.where(has, per_pair, 0.0), **kw), 0.0)
    count = has.sum(axis=1)
    rewards = np.where(count > 0, per_key.sum(axis=1) / np.maximum(count, 1), 1.0)
    return rewards, batch
