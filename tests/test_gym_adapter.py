"""The gymnasium side: registered ids, the env checker, and a vector of worker processes."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import pianoenv.gym_adapter  # noqa: F401  (registers the ids)


def test_registered_env_passes_the_gymnasium_checker():
    env = gym.make("pianohands/DemoShort-v0", hand="shadow_four")
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape and obs.dtype == np.float32
    assert "f1" in info
    env.close()


def test_flat_observation_matches_rp1m_size_and_episode_truncates():
    env = gym.make("pianohands/Piano-v0", song="demo_short", hand="shadow_five")
    obs, _ = env.reset(seed=1)
    assert obs.shape == (1144,) and env.action_space.shape == (39,)
    steps, truncated, terminated = 0, False, False
    while not (truncated or terminated):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        steps += 1
    assert truncated and not terminated and steps == 100
    assert {"reward/ot", "reward/press", "f1", "precision", "recall"} <= set(info)
    env.close()


def test_dict_observations_when_not_flattened():
    env = gym.make("pianohands/DemoShort-v0", flatten=False)
    obs, _ = env.reset(seed=0)
    assert isinstance(obs, dict) and obs["goal"].shape == (11 * 88,)
    env.close()


@pytest.mark.slow
def test_async_vector_env_with_two_workers():
    # spawn, not fork: the test process may already hold JAX's threads (fork would deadlock)
    envs = gym.vector.AsyncVectorEnv(
        [lambda: gym.make("pianoenv.gym_adapter:pianohands/DemoShort-v0", hand="shadow_four")
         for _ in range(2)], context="spawn")  # "module:id" imports the registering module
    obs, _ = envs.reset(seed=[0, 1])
    assert obs.shape == (2, envs.single_observation_space.shape[0])
    for _ in range(5):
        obs, rewards, term, trunc, infos = envs.step(envs.action_space.sample())
    assert rewards.shape == (2,) and np.isfinite(rewards).all()
    envs.close()
