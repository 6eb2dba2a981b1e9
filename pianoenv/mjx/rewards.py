"""Reward terms of RP1M Eq. 3 and the musical metrics, in JAX, for one environment.

The same definitions as ``pianoenv.rewards`` and ``pianoenv.metrics`` (read their
docstrings for the conventions); each function here takes fixed-shape arrays so that it can
be jitted and vmapped over thousands of environments. Variable-length sets (the keys to
press now) arrive padded with a validity mask.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from fingering import jax_hungarian
from fingering.reward import FINGER_CLOSE_ENOUGH, OT_MARGIN
from pianoenv.rewards import KEY_CLOSE_ENOUGH

_LOG_VALUE_AT_MARGIN = math.log(0.1)


def gaussian_tolerance(x: jax.Array, upper: float, margin: float) -> jax.Array:
    """``pianoenv.rewards.gaussian_tolerance`` (bounds (0, upper), x >= 0)."""
    excess = jnp.maximum(x - upper, 0.0)
    return jnp.exp((_LOG_VALUE_AT_MARGIN / (margin * margin)) * excess * excess)


def ot_reward(tips: jax.Array, targets: jax.Array, valid: jax.Array, variant: str) -> jax.Array:
    """RP1M's OT reward: tips (F, 3), targets (K, 3) press points padded, valid (K,) bool.

    The assignment is the exact batched Hungarian of ``fingering.jax_hungarian`` (max
    cardinality, then min total distance: ``fingering.solvers.solve``'s rules).
    """
    cost = jnp.linalg.norm(targets[:, None, :] - tips[None, :, :], axis=-1)  # (K, F)
    finger_of_key, _ = jax_hungarian.assign(cost, valid, jnp.ones(tips.shape[0], bool))
    has = finger_of_key >= 0
    pair = jnp.take_along_axis(cost, jnp.maximum(finger_of_key, 0)[:, None], axis=1)[:, 0]
    pair = jnp.where(has, pair, 0.0)
    if variant == "total":
        return gaussian_tolerance(pair.sum(), FINGER_CLOSE_ENOUGH, OT_MARGIN)
    count = has.sum()
    per_key = jnp.where(has, gaussian_tolerance(pair, FINGER_CLOSE_ENOUGH, OT_MARGIN), 0.0)
    return jnp.where(count > 0, per_key.sum() / jnp.maximum(count, 1), 1.0)


def human_fingering_reward(tips: jax.Array, targets: jax.Array, valid: jax.Array) -> jax.Array:
    """tips (K, 3) of the annotated fingers, targets (K, 3), valid (K,); 0 with none."""
    dist = jnp.linalg.norm(tips - targets, axis=-1)
    close = jnp.where(valid, gaussian_tolerance(dist, FINGER_CLOSE_ENOUGH, OT_MARGIN), 0.0)
    count = valid.sum()
    return jnp.where(count > 0, close.sum() / jnp.maximum(count, 1), 0.0)


def press_reward(goal: jax.Array, key_state: jax.Array, pressed: jax.Array,
                 variant: str = "step") -> jax.Array:
    """goal (88,) bool, key_state (88,) in [0, 1], pressed (88,) bool; ``variant`` as in
    ``pianoenv.rewards.press_reward`` (a Python string: fixed when the step is traced)."""
    count = goal.sum()
    close = gaussian_tolerance(1.0 - key_state, KEY_CLOSE_ENOUGH, 10 * KEY_CLOSE_ENOUGH)
    active = jnp.where(count > 0, 0.5 * jnp.where(goal, close, 0.0).sum() / jnp.maximum(count, 1),
                       0.0)
    wrong = (pressed & ~goal).sum()
    if variant == "step":
        return active + 0.5 * (wrong == 0).astype(key_state.dtype)
    return active + 0.5 * jnp.maximum(0.0, 1.0 - wrong / jnp.maximum(count, 1)).astype(
        key_state.dtype)


def sustain_reward(goal: jax.Array, state: jax.Array) -> jax.Array:
    return gaussian_tolerance(jnp.abs(goal - state), KEY_CLOSE_ENOUGH, 10 * KEY_CLOSE_ENOUGH)


def energy_penalty(torques: jax.Array, velocities: jax.Array) -> jax.Array:
    return -jnp.abs(torques) @ jnp.abs(velocities)


def step_prf(goal: jax.Array, pressed: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``pianoenv.metrics.step_prf``: precision, recall, F1 with zero_division = 1."""
    tp = (goal & pressed).sum()
    n_pred, n_true = pressed.sum(), goal.sum()
    precision = jnp.where(n_pred > 0, tp / jnp.maximum(n_pred, 1), 1.0)
    recall = jnp.where(n_true > 0, tp / jnp.maximum(n_true, 1), 1.0)
    denom = precision + recall
    f1 = jnp.where(denom > 0, 2 * precision * recall / jnp.where(denom > 0, denom, 1.0), 0.0)
    return precision, recall, f1
