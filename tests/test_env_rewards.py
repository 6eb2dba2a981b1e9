"""The environment's fast reward helpers agree with the reference ``tolerance``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fingering.reward import tolerance
from pianoenv import rewards

distances = st.floats(0.0, 10.0, allow_nan=False)
bounds = st.floats(0.001, 1.0)


@settings(max_examples=200, deadline=None)
@given(x=distances, upper=bounds, margin=bounds)
def test_fast_gaussian_tolerance_matches_reference(x, upper, margin):
    ref = tolerance(x, bounds=(0.0, upper), margin=margin, sigmoid="gaussian")
    fast = rewards.gaussian_tolerance(np.array([x]), upper, margin)[0]
    assert fast == pytest.approx(ref, abs=1e-12)


def test_press_reward_hand_checked_values():
    goal = np.zeros(88, bool)
    state = np.zeros(88)
    pressed = np.zeros(88, bool)
    # nothing to press, nothing pressed: only the "no wrong key" half
    assert rewards.press_reward(goal, state, pressed) == 0.5
    goal[[39, 43]] = True
    state[[39, 43]] = 1.0
    pressed[[39, 43]] = True
    assert rewards.press_reward(goal, state, pressed) == pytest.approx(1.0)
    # one goal key only half way down: 1 - 0.5 = 0.5 past the 0.05 bound, margin 0.5
    state[43] = 0.5
    half = np.exp(np.log(0.1) * (0.45 / 0.5) ** 2)
    assert rewards.press_reward(goal, state, pressed) == pytest.approx(0.5 * (1 + half) / 2 + 0.5)
    # a wrong key down loses the second half
    pressed[0] = True
    assert rewards.press_reward(goal, state, pressed) == pytest.approx(0.5 * (1 + half) / 2)


def test_sustain_reward():
    assert rewards.sustain_reward(True, 1.0) == 1.0
    assert rewards.sustain_reward(False, 0.0) == 1.0
    pedal_up = np.exp(np.log(0.1) * (0.95 / 0.5) ** 2)  # 1 - 0.05 past the bound, margin 0.5
    assert rewards.sustain_reward(True, 0.0) == pytest.approx(pedal_up)
