"""Action normalisation and observation splitting around a pianoenv-style environment."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from training.rl.envwrap import TrainingEnv
from fake_env import FakePianoEnv


@pytest.fixture
def env() -> TrainingEnv:
    return TrainingEnv(FakePianoEnv(num_keys=6, lookahead=2, seed=0))


def test_layout_follows_the_spec_order_and_binary_keys(env):
    assert env.binary_keys == ("goal", "sustain_goal")
    assert env.dense_keys == ("piano/keys", "piano/sustain", "fingertips", "hands/joints")
    assert (env.layout.dense_dim, env.layout.num_bits, env.action_dim) == (26, 21, 7)
    spec = env.action_spec()
    assert spec.shape == (7,) and float(spec.minimum) == -1 and float(spec.maximum) == 1


def test_split_then_flatten_gives_the_concatenated_observation(env):
    ts = env.env.reset()
    flat = np.concatenate([ts.observation[k] for k in env.obs_keys])
    split = env.split(ts.observation)
    assert split.dense.dtype == np.float32 and split.bits.dtype == np.uint8
    np.testing.assert_array_equal(env.flatten(split), flat)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, 7, elements=st.floats(-1, 1, width=32)))
def test_action_mapping_is_affine_and_invertible(action):
    env = TrainingEnv(FakePianoEnv(action_low=-2.0, action_high=3.0))
    mapped = env.to_env_action(action)
    np.testing.assert_allclose(mapped, -2.0 + (action + 1) * 2.5, rtol=1e-6, atol=1e-6)
    assert np.all(mapped >= -2.0) and np.all(mapped <= 3.0)
    np.testing.assert_allclose(env.to_canonical_action(mapped), action, atol=1e-5)


def test_out_of_range_actions_are_clipped(env):
    np.testing.assert_allclose(env.to_env_action(np.full(7, 5.0)), np.full(7, 3.0))
    np.testing.assert_allclose(env.to_env_action(np.full(7, -9.0)), np.full(7, -2.0))


def test_timesteps_carry_split_observations_and_reward_terms_pass_through(env):
    ts = env.reset()
    assert ts.first() and ts.observation.dense.shape == (26,)
    ts = env.step(np.ones(7))
    assert set(env.reward_terms) >= {"press", "total"}
    assert isinstance(env.episode_metrics(), dict) and isinstance(env.env.contact_log, list)
