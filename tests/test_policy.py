"""The one policy protocol and the one episode loop (pianoenv.policy, pianoenv.episode)."""

import numpy as np
import pytest

from handspec.errors import InputError
from pianoenv import suite
from pianoenv.episode import run_episode
from pianoenv.policy import Policy, available_policies, make_policy, register_policy


@pytest.fixture(scope="module")
def env():
    env = suite.load("demo_short", hand="shadow_four", max_steps=12)
    yield env
    env.close()


def test_baselines_are_registered_and_follow_the_protocol(env):
    names = available_policies()
    assert {"random", "zero"} <= set(names)
    for name in ("random", "zero"):
        policy = make_policy(name, env, seed=0)
        assert isinstance(policy, Policy)
        action = policy(env.reset())
        spec = env.action_spec()
        assert action.shape == spec.shape
        assert np.all(action >= spec.minimum) and np.all(action <= spec.maximum)


def test_unknown_policy_is_an_input_error(env):
    with pytest.raises(InputError, match="clever"):
        make_policy("clever", env)


def test_home_policy_presses_nothing(env):
    result = run_episode(env, make_policy("zero", env))
    assert result.length == 12
    assert result.metrics["precision"] == 1.0   # no key pressed at any step
    assert result.contact_log == []


def test_run_episode_is_reproducible_per_seed_and_records(env):
    policy = make_policy("random", env)
    a = run_episode(env, policy, seed=3, record=True)
    b = run_episode(env, policy, seed=3, record=True)
    c = run_episode(env, policy, seed=4)
    np.testing.assert_array_equal(np.stack(a.record.actions), np.stack(b.record.actions))
    assert a.episode_return == b.episode_return
    assert a.episode_return != c.episode_return
    rec = a.record
    assert len(rec.observations) == a.length + 1 == len(rec.actions) + 1
    assert np.isclose(sum(rec.rewards), a.episode_return)
    # the per-step mean of each term is what the result reports
    for term, mean in a.reward_terms.items():
        assert np.isclose(np.mean([t[term] for t in rec.reward_terms]), mean)


def test_a_registered_policy_is_usable_by_name(env):
    class Constant:
        def __init__(self, env, seed, value=0.5):
            spec = env.action_spec()
            self.action = (spec.minimum + value * (spec.maximum - spec.minimum)).astype(np.float32)
            self.resets = []

        def reset(self, seed):
            self.resets.append(seed)

        def __call__(self, timestep):
            return self.action

    register_policy("test_constant", Constant, "a constant action")
    policy = make_policy("test_constant", env, seed=7, value=0.25)
    assert policy.resets == [7]
    run_episode(env, policy, seed=8)
    assert policy.resets == [7, 8]
