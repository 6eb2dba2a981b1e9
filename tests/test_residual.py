"""Residual control on top of a base policy (pianoenv.residual)."""

import numpy as np
import pytest

from handspec.errors import InputError
from pianoenv import suite
from pianoenv.episode import run_episode
from pianoenv.policy import make_policy
from pianoenv.interface import PianoEnvironment
from training.collect import PolicySource, collect
from training.data import DemoFile, verify_file
from training.rl.envwrap import TrainingEnv


@pytest.fixture(scope="module")
def envs():
    raw = suite.load("demo_short", hand="shadow_four", max_steps=15)
    res = suite.load("demo_short", hand="shadow_four", max_steps=15, base_policy="random",
                     residual_scale=0.5)
    yield raw, res
    raw.close()
    res.close()


def test_zero_residual_plays_the_base_policy_exactly(envs):
    raw, _ = envs
    alone = run_episode(raw, make_policy("random", raw), seed=0, record=True)
    # a fresh residual env resets its base policy with the episode index: 0 first
    res = suite.load("demo_short", hand="shadow_four", max_steps=15, base_policy="random",
                     residual_scale=0.5)
    corrected = run_episode(res, make_policy("zero", res), record=True)
    assert corrected.episode_return == pytest.approx(alone.episode_return)
    assert corrected.metrics == alone.metrics
    base_canonical = np.stack([o["base_action"] for o in corrected.record.observations[:-1]])
    lo, hi = raw.action_spec().minimum, raw.action_spec().maximum
    applied = lo + (base_canonical + 1) * 0.5 * (hi - lo)
    np.testing.assert_allclose(applied, np.stack(alone.record.actions), atol=1e-5)
    res.close()


def test_residual_range_is_a_fraction_of_each_actuator_span(envs):
    raw, res = envs
    spec, full = res.action_spec(), raw.action_spec()
    np.testing.assert_allclose(spec.maximum, 0.5 * 0.5 * (full.maximum - full.minimum), rtol=1e-6)
    np.testing.assert_allclose(spec.minimum, -spec.maximum)
    assert "base_action" in res.observation_spec()
    # applied actions stay inside the real action spec whatever the residual
    res.reset()
    res.step(spec.maximum * 10)
    applied = res.applied_actions[-1]
    assert np.all(applied <= full.maximum) and np.all(applied >= full.minimum)


def test_residual_env_trains_through_the_training_wrapper(envs):
    _, res = envs
    wrapped = TrainingEnv(res)
    ts = wrapped.reset()
    assert ts.observation.dense.shape[0] == wrapped.layout.dense_dim
    ts = wrapped.step(np.zeros(wrapped.action_dim, np.float32))
    assert np.isfinite(ts.reward)


@pytest.mark.parametrize("kwargs, field", [
    ({"base_policy": "telepathy"}, "--policy"),
    ({"base_policy": "zero", "residual_scale": 0.0}, "residual_scale"),
    ({"base_policy": "zero", "residual_scale": float("nan")}, "residual_scale"),
])
def test_bad_residual_options_are_input_errors(kwargs, field):
    with pytest.raises(InputError) as info:
        suite.load("demo_short", hand="shadow_four", max_steps=5, **kwargs)
    assert field in info.value.one_line()


def test_residual_env_implements_the_environment_protocol(envs):
    assert isinstance(envs[1], PianoEnvironment)


def test_collecting_a_residual_policy_stores_absolute_actions(tmp_path):
    env = suite.load("demo_short", hand="shadow_four", max_steps=10, base_policy="zero",
                     residual_scale=0.5)
    source = PolicySource(env, make_policy("random", env), {"kind": "test"}, "demo_short",
                          "shadow_four", {"max_steps": 10, "base_policy": "zero",
                                          "residual_scale": 0.5})
    out = tmp_path / "residual.h5"
    collect(source, out, episodes=2, progress=False)
    home = env.env.home_action()
    full = env.env.action_spec()
    with DemoFile(out) as demos:
        actions = demos.episode(0).actions
    assert actions.shape == (10, full.shape[0])
    # base (home pose) + a random residual: absolute, inside the real spec, not around 0
    assert np.all(actions >= full.minimum - 1e-6) and np.all(actions <= full.maximum + 1e-6)
    assert np.abs(actions - home).max() <= 0.5 * (full.maximum - full.minimum).max() + 1e-5
    assert np.abs(actions - home).max() > 0
    assert verify_file(out).ok
    env.close()
