"""The OT reward (RP1M Eq. 2) and the numpy ``tolerance``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fingering.costs import cost_matrix
from fingering.reward import (FINGER_CLOSE_ENOUGH, OT_MARGIN, SIGMOIDS, batch_ot_reward,
                              ot_reward, tolerance)

C = np.log(0.1) / OT_MARGIN**2  # the constant of Eq. 2 implied by the margin


@pytest.mark.parametrize("sigmoid", sorted(SIGMOIDS))
@pytest.mark.parametrize("value_at_margin", [0.1, 0.5, 0.9])
def test_tolerance_matches_dm_control(sigmoid, value_at_margin):
    rewards = pytest.importorskip("dm_control.utils.rewards")
    x = np.linspace(-1.0, 1.5, 101)
    for bounds, margin in [((0.0, 0.01), 0.1), ((-0.2, 0.3), 0.5), ((0.0, 0.0), 0.0)]:
        ours = tolerance(x, bounds, margin, sigmoid, value_at_margin)
        ref = rewards.tolerance(x, bounds, margin, sigmoid, value_at_margin)
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    assert isinstance(tolerance(0.5, (0, 1)), float)


def test_tolerance_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Lower bound"):
        tolerance(0.0, (1.0, 0.0))
    with pytest.raises(ValueError, match="non-negative"):
        tolerance(0.0, (0.0, 1.0), margin=-1)
    with pytest.raises(ValueError, match="Unknown sigmoid"):
        tolerance(0.0, (0.0, 1.0), margin=1, sigmoid="logistic")
    with pytest.raises(ValueError, match="value_at_margin"):
        tolerance(2.0, (0.0, 1.0), margin=1, value_at_margin=1.0)


def _tips_at(keys: np.ndarray, offsets: np.ndarray, spare: int = 0) -> np.ndarray:
    tips = keys + offsets
    far = np.tile([[0.0, 0.0, 1.0]], (spare, 1))
    return np.vstack([tips, far])


@pytest.mark.parametrize("variant", ["total", "per_key"])
def test_reward_is_one_when_every_key_has_a_finger_within_bound(variant):
    keys = np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.2, 0.0]])
    offsets = np.array([[0.0, 0.001, 0.0], [0.002, 0.0, 0.0], [0.0, 0.0, 0.003]])
    r, a = ot_reward(_tips_at(keys, offsets, spare=2), keys, variant=variant)
    assert r == 1.0 and a.cost == pytest.approx(0.006)
    assert ot_reward(np.zeros((5, 3)), np.zeros((0, 3)), variant=variant)[0] == 1.0


def test_hand_checked_values():
    key = np.array([[0.0, 0.0, 0.0]])
    # one key 0.11 m away: exactly one margin beyond the bound -> value_at_margin = 0.1
    r, _ = ot_reward(np.array([[0.11, 0.0, 0.0]]), key)
    assert r == pytest.approx(0.1)
    # Eq. 2 written out: exp(c * (d - 0.01)^2)
    d = 0.05
    r, _ = ot_reward(np.array([[0.0, d, 0.0]]), key)
    assert r == pytest.approx(np.exp(C * (d - FINGER_CLOSE_ENOUGH) ** 2))
    # Variants differ: three keys each 6 mm away -> total uses d_OT = 18 mm.
    keys = np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.2, 0.0]])
    tips = keys + np.array([0.006, 0.0, 0.0])
    total, _ = ot_reward(tips, keys, variant="total")
    per_key, _ = ot_reward(tips, keys, variant="per_key")
    assert per_key == 1.0
    assert total == pytest.approx(np.exp(C * (0.018 - 0.01) ** 2))
    # per_key: one exact key, one key 0.11 m away -> mean(1, 0.1)
    tips2 = np.array([[0.0, 0.0, 0.0], [0.11, 0.1, 0.0]])
    assert ot_reward(tips2, keys[:2], variant="per_key")[0] == pytest.approx(0.55)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0105, 0.8), st.floats(1e-4, 0.2), st.sampled_from(["total", "per_key"]))
def test_reward_strictly_decreases_with_distance(d, step, variant):
    key = np.array([[0.0, 0.0, 0.0]])
    near, _ = ot_reward(np.array([[0.0, 0.0, d]]), key, variant=variant)
    far, _ = ot_reward(np.array([[0.0, 0.0, d + step]]), key, variant=variant)
    assert 0.0 <= far < near < 1.0


def test_reward_uses_hand_restrictions_and_unknown_variant():
    keys = np.array([[0.0, 0.0, 0.0]])
    tips = np.array([[0.0, 0.0, 0.0], [0.0, 0.2, 0.0]])
    r, a = ot_reward(tips, keys, key_hand=["left"], finger_hand=["right", "left"])
    assert a.fingers.tolist() == [1] and r < 0.1
    with pytest.raises(ValueError, match="variant"):
        ot_reward(tips, keys, variant="mean")


@pytest.mark.parametrize("variant", ["total", "per_key"])
def test_batch_reward_matches_single(variant):
    rng = np.random.default_rng(3)
    tips = rng.uniform(-0.05, 0.05, size=(8, 10, 3))  # (8, 4, 10): a shape already compiled
    keys = rng.uniform(-0.05, 0.05, size=(8, 4, 3))
    kv = np.ones((8, 4), bool)
    kv[2, 1:] = False
    kv[4] = False
    costs = np.stack([cost_matrix(t, k) for t, k in zip(tips, keys)])
    got, _ = batch_ot_reward(costs, kv, variant=variant)
    for b in range(8):
        ref, _ = ot_reward(tips[b], keys[b][kv[b]], variant=variant)
        assert got[b] == pytest.approx(ref, abs=1e-12)


def test_more_keys_than_fingers_counts_only_assigned_pairs():
    keys = np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.5, 0.0]])
    tips = np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.03]])  # key 2 is left without a finger
    per_key, a = ot_reward(tips, keys, variant="per_key")
    assert a.unassigned.tolist() == [2]
    assert per_key == pytest.approx((1.0 + np.exp(C * 0.02**2)) / 2)
    total, _ = ot_reward(tips, keys, variant="total")
    assert total == pytest.approx(np.exp(C * (0.03 - 0.01) ** 2))
