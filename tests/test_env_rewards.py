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


def test_press_reward_per_key_charges_each_wrong_key_like_a_missed_one():
    goal, state, pressed = np.zeros(88, bool), np.zeros(88), np.zeros(88, bool)
    goal[[39, 43, 46, 51]] = True
    state[[39, 43, 46, 51]] = 1.0
    pressed[[39, 43, 46, 51]] = True
    assert rewards.press_reward(goal, state, pressed, "per_key") == pytest.approx(1.0)
    pressed[40] = True  # one wrong key among four goal keys: 0.5 / 4 off, not 0.5
    assert rewards.press_reward(goal, state, pressed, "step") == pytest.approx(0.5)
    assert rewards.press_reward(goal, state, pressed, "per_key") == pytest.approx(0.875)
    # ... which is what missing one of the four goal keys costs instead
    pressed[40], state[51], pressed[51] = False, 0.0, False
    assert rewards.press_reward(goal, state, pressed, "per_key") == pytest.approx(
        0.5 * (3 + np.exp(np.log(0.1) * (0.95 / 0.5) ** 2)) / 4 + 0.5)
    # nothing to press: any wrong key costs the whole half, as under "step"
    empty = np.zeros(88, bool)
    wrong = np.zeros(88, bool)
    wrong[3] = True
    assert rewards.press_reward(empty, np.zeros(88), wrong, "per_key") == 0.0


_KEYS = st.lists(st.integers(0, 87), max_size=10, unique=True)


@given(_KEYS, _KEYS, st.lists(st.floats(0.0, 1.0), min_size=88, max_size=88))
@settings(max_examples=60, deadline=None)
def test_press_variants_agree_without_wrong_keys_and_per_key_never_pays_less(goal_keys, down,
                                                                             levels):
    goal, pressed = np.zeros(88, bool), np.zeros(88, bool)
    goal[goal_keys], pressed[down] = True, True
    state = np.asarray(levels)
    step = rewards.press_reward(goal, state, pressed, "step")
    per_key = rewards.press_reward(goal, state, pressed, "per_key")
    assert 0.0 <= step <= per_key <= 1.0
    wrong = np.count_nonzero(pressed & ~goal)
    if wrong == 0:
        assert per_key == pytest.approx(step)
    else:  # one more wrong key never pays more
        extra = np.flatnonzero(~goal & ~pressed)
        if len(extra):
            more = pressed.copy()
            more[extra[0]] = True
            assert rewards.press_reward(goal, state, more, "per_key") <= per_key + 1e-12


@given(_KEYS, _KEYS, st.lists(st.floats(0.0, 1.0), min_size=88, max_size=88),
       st.sampled_from(rewards.PRESS_VARIANTS))
@settings(max_examples=40, deadline=None)
def test_press_reward_of_the_mjx_env_is_the_cpu_one(goal_keys, down, levels, variant):
    pytest.importorskip("jax")
    from pianoenv.mjx import rewards as mjx_rewards

    goal, pressed = np.zeros(88, bool), np.zeros(88, bool)
    goal[goal_keys], pressed[down] = True, True
    state = np.asarray(levels, np.float32)
    cpu = rewards.press_reward(goal, state, pressed, variant)
    assert float(mjx_rewards.press_reward(goal, state, pressed, variant)) == pytest.approx(
        cpu, abs=1e-5)


def test_unknown_press_variant_is_an_input_error():
    from handspec.errors import InputError

    with pytest.raises(InputError, match="press reward variant") as info:
        suite.load("twinkle", press_variant="any")
    assert info.value.field == "press_variant"


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
