"""The environment's fast reward helpers agree with the reference ``tolerance``; the reward
is the named table of terms (``rewards.TERMS``, ``CompositeReward``); the environments
implement ``pianoenv.interface.PianoEnvironment``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_env import FakePianoEnv
from fingering.reward import tolerance
from pianoenv import rewards, suite
from pianoenv.interface import PianoEnvironment

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


# ----------------------------------------------------------------------------- the term table
def test_composite_reward_is_the_weighted_sum_of_named_terms():
    reward = rewards.CompositeReward()
    reward.add("a", lambda ctx: ctx * 2.0, weight=0.5)
    reward.add("b", lambda ctx: -1.0, weight=3.0)
    total, terms = reward.compute(4.0)
    assert terms == {"a": 8.0, "b": -1.0, "total": 1.0} and total == 1.0
    assert reward.names == ("a", "b")
    for name in ("a", "total"):
        with pytest.raises(ValueError):
            reward.add(name, lambda ctx: 0.0)


@pytest.mark.parametrize("fingering", ["ot", "human", "annotator", "none"])
def test_each_fingering_mode_reports_its_row_of_the_table(fingering):
    env = suite.load("demo_short", "shadow_five", fingering, max_steps=3)
    env.reset()
    ts = env.step(env.home_action())
    assert tuple(env.reward_terms) == (*rewards.TERMS[fingering], "total")
    weights = env.weights.as_dict()
    expected = sum(weights[k] * v for k, v in env.reward_terms.items() if k != "total")
    assert ts.reward == env.reward_terms["total"] == pytest.approx(expected)


def test_environments_implement_the_interface():
    env = suite.load("demo_short", max_steps=2)
    assert isinstance(env, PianoEnvironment)
    assert isinstance(FakePianoEnv(), PianoEnvironment)
    assert len(env.actuator_names) + 1 == env.action_spec().shape[0]
    assert set(env.binary_observation_keys) <= set(env.observation_spec())
