"""The DroQ actor as a ``pianoenv.policy.Policy`` on raw timesteps (``training.rl.policy``)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from fake_env import FakePianoEnv
from pianoenv.episode import run_episode
from pianoenv.policy import Policy
from training.rl.agent import DroQ
from training.rl.config import DroQConfig
from training.rl.envwrap import TrainingEnv
from training.rl.policy import ActiveCapacity, DroQPolicy, obs_batch


@pytest.fixture(scope="module")
def setup():
    env = TrainingEnv(FakePianoEnv(seed=0))
    agent = DroQ(DroQConfig(hidden_dims=(32, 32)), env.layout.dense_dim, env.layout.num_bits,
                 env.action_dim)
    return env, agent, agent.init(0)


def test_deterministic_policy_plays_what_the_trainer_would(setup):
    """run_episode on the raw environment == stepping the training view with agent.act."""
    env, agent, state = setup
    policy = DroQPolicy(agent, state, env, deterministic=True)
    assert isinstance(policy, Policy)
    env.env.set_random_state(7)  # the same initial key states for both episodes
    result = run_episode(env.env, policy, seed=0)
    env.env.set_random_state(7)
    ts, total, width = env.reset(), 0.0, ActiveCapacity()
    while not ts.last():
        obs = obs_batch(ts.observation, width(ts.observation))
        action = agent.act(state, obs, jax.random.PRNGKey(9), 0, deterministic=True)
        ts = env.step(np.asarray(action)[0])
        total += float(ts.reward)
    assert result.episode_return == pytest.approx(total, rel=1e-6)
    assert result.metrics == env.episode_metrics()


def test_stochastic_policy_is_reproducible_per_episode_seed(setup):
    env, agent, state = setup
    policy = DroQPolicy(agent, state, env, deterministic=False)
    def actions(seed):
        env.env.set_random_state(seed)
        return run_episode(env.env, policy, seed=seed, record=True).record.actions

    a, b, c = actions(4), actions(4), actions(5)
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    assert not np.array_equal(np.stack(a), np.stack(c))
    spec = env.env.action_spec()  # actions come out in the environment's units
    assert np.all(np.stack(a) >= spec.minimum) and np.all(np.stack(a) <= spec.maximum)
