"""Zero-initialised actor mean: the untrained agent's mode is 0, i.e. the base policy exactly."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from pianoenv import suite
from pianoenv.episode import run_episode
from pianoenv.policy import make_policy
from training.rl.agent import DroQ
from training.rl.config import DroQConfig
from training.rl.envwrap import TrainingEnv
from training.rl.policy import DroQPolicy

from test_droq_agent import ACTION, BITS, DENSE, make_batch

ZERO = DroQConfig(hidden_dims=(32, 32), actor_zero_init=True)


@pytest.mark.parametrize("algorithm", ["droq", "crossq"])
def test_deterministic_action_is_exactly_zero_at_init(algorithm):
    agent = DroQ(ZERO.replace(algorithm=algorithm), DENSE, BITS, ACTION)
    state = agent.init(0)
    obs = make_batch(0).obs
    np.testing.assert_array_equal(agent.act(state, obs, jax.random.PRNGKey(0), 0, True),
                                  np.zeros((obs.dense.shape[0], ACTION), np.float32))
    # sampling still explores around it (the log-std head is untouched)
    sampled = np.asarray(agent.act(state, obs, jax.random.PRNGKey(0), 0, False))
    assert np.abs(sampled).mean() > 0.1


def test_only_the_mean_kernel_changes():
    plain = DroQ(DroQConfig(hidden_dims=(32, 32)), DENSE, BITS, ACTION).init(0)
    zero = DroQ(ZERO, DENSE, BITS, ACTION).init(0)
    assert not np.any(np.asarray(zero.actor["mean"]["kernel"]))
    assert np.any(np.asarray(plain.actor["mean"]["kernel"]))
    for part in ("log_std", "trunk"):
        for a, b in zip(jax.tree.leaves(plain.actor[part]), jax.tree.leaves(zero.actor[part])):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(plain.critic), jax.tree.leaves(zero.critic)):
        np.testing.assert_array_equal(a, b)


def test_the_mean_head_learns_from_zero():
    agent = DroQ(ZERO, DENSE, BITS, ACTION)
    state, _ = agent.update(agent.init(0), jax.tree.map(lambda x: x[None], make_batch(1)))
    assert np.any(np.asarray(state.actor["mean"]["kernel"]))


def test_first_deterministic_episode_on_a_residual_env_plays_the_base_policy():
    """Residual on the kinematic pianist: the untrained zero-init agent's applied actions are
    the IK policy's own actions, step for step, and so are its notes (F1)."""
    kwargs = {"hand": "shadow_five", "max_steps": 12}
    raw = suite.load("demo_short", **kwargs)
    alone = run_episode(raw, make_policy("ik", raw), seed=0, record=True)
    res = suite.load("demo_short", base_policy="ik", **kwargs)  # resets its base with 0 first
    wrapper = TrainingEnv(res)
    agent = DroQ(ZERO, wrapper.layout.dense_dim, wrapper.layout.num_bits, wrapper.action_dim)
    played = run_episode(res, DroQPolicy(agent, agent.init(0), wrapper, deterministic=True),
                         seed=0)
    spec = raw.action_spec()
    expected = np.clip(np.stack(alone.record.actions), spec.minimum, spec.maximum)
    np.testing.assert_array_equal(np.stack(res.applied_actions), expected)
    assert played.metrics == alone.metrics
    # a randomly initialised actor does perturb the base policy
    plain = DroQ(ZERO.replace(actor_zero_init=False), wrapper.layout.dense_dim,
                 wrapper.layout.num_bits, wrapper.action_dim)
    run_episode(res, DroQPolicy(plain, plain.init(0), wrapper, deterministic=True), seed=0)
    assert not np.array_equal(np.stack(res.applied_actions), expected)
    raw.close()
    res.close()


def test_actor_init_std_sets_the_untrained_std_everywhere():
    agent = DroQ(ZERO.replace(actor_init_std=0.1), DENSE, BITS, ACTION)
    state = agent.init(0)
    for seed in (0, 1):
        (mean, log_std), _ = agent.actor_apply(state.actor, state.actor_stats,
                                               make_batch(seed).obs)
        np.testing.assert_allclose(np.asarray(log_std), np.log(0.1), rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(mean), 0.0)
    # exploration then stays near the base policy: |tanh(0.1 * eps)| is ~0.08 on average
    sampled = np.asarray(agent.act(state, make_batch(0).obs, jax.random.PRNGKey(0), 0, False))
    assert 0.03 < np.abs(sampled).mean() < 0.15


def test_actor_burn_in_trains_only_the_critics_for_its_updates():
    """Three updates with a burn-in of 2: the actor and temperature stay at their initial
    values for updates 0 and 1 while the critics learn, and move at update 2."""
    agent = DroQ(ZERO.replace(actor_burn_in=2), DENSE, BITS, ACTION)
    start = agent.init(0)
    keep = [np.asarray(x).copy() for x in jax.tree.leaves((start.actor, start.log_temp))]
    critic0 = [np.asarray(x).copy() for x in jax.tree.leaves(start.critic)]
    state, _ = agent.update(start, jax.tree.map(lambda *x: np.stack(x),
                                                make_batch(1), make_batch(2)))
    for a, b in zip(keep, jax.tree.leaves((state.actor, state.log_temp))):
        np.testing.assert_array_equal(a, np.asarray(b))
    assert any(np.any(a != np.asarray(b)) for a, b in zip(critic0, jax.tree.leaves(state.critic)))
    state, _ = agent.update(state, jax.tree.map(lambda x: x[None], make_batch(3)))
    assert np.any(np.asarray(state.actor["mean"]["kernel"]))
    assert float(state.log_temp) != float(keep[-1])
