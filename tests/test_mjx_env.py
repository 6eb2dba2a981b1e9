"""The MJX environment against the CPU PianoEnv: same state, same actions, same numbers.

One MJX environment is compiled per module (XLA:CPU needs ~1-2 min for the physics step on
a 2-vCPU machine) and a batch of 2 shares it. The CPU reference gets the MJX solver
settings (``apply_physics_settings``: Newton, 2 iterations, 6 line searches, no sleeping),
so what is compared is the environment logic and float32 vs float64 physics, not two
different solvers.

Tolerances (stated once, used below): after STEPS control steps of random actions from a
noisy start, fingertips within 2 mm, hand joints within 0.02 rad/m, key states within 0.05
of full travel, each reward term within 0.02 (energy: 1e-3 absolute or 2% relative), and
the pressed keys, collision flags and contact log identical.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("mujoco.mjx")

import jax.numpy as jnp  # noqa: E402

from handspec.load import load_hand  # noqa: E402
from pianoenv.env import PianoEnv  # noqa: E402
from pianoenv.mjx import MjxConfig, MjxPianoEnv, apply_physics_settings  # noqa: E402
from pianoenv.songs import load_goals  # noqa: E402
from training.jaxcache import enable_compilation_cache  # noqa: E402

STEPS = 12
SONG_STEPS = 14
TIP_TOL, JOINT_TOL, KEY_TOL, TERM_TOL = 2e-3, 2e-2, 5e-2, 2e-2


@pytest.fixture(scope="module")
def envs():
    enable_compilation_cache()
    goals = load_goals("demo_short").head(SONG_STEPS)
    spec = load_hand("shadow_five")
    mjx_env = MjxPianoEnv(goals, spec, fingering="ot", initial_noise=0.05)
    cpu = PianoEnv(goals, spec, fingering="ot")
    apply_physics_settings(cpu.model, mjx_env.config)
    reset = jax.jit(jax.vmap(mjx_env.reset))
    step = jax.jit(jax.vmap(mjx_env.step))
    return mjx_env, cpu, reset, step


def _actions(env: MjxPianoEnv, steps: int, seed: int) -> np.ndarray:
    """Home pose plus smooth random offsets: fingers move, press and release keys."""
    rng = np.random.default_rng(seed)
    home = env.home_action()
    span = env.action_max - env.action_min
    walk = np.cumsum(rng.normal(0, 0.08, (steps, home.size)), axis=0)
    actions = np.clip(home + walk * span, env.action_min, env.action_max).astype(np.float32)
    actions[:, -1] = rng.uniform(0, 1, steps)
    return actions


def _cpu_from_mjx_state(cpu: PianoEnv, qpos: np.ndarray) -> None:
    """Start the CPU env from the MJX env's (noisy) initial positions."""
    import mujoco

    cpu.reset()
    cpu.data.qpos[:] = qpos
    mujoco.mj_forward(cpu.model, cpu.data)  # keys are not noised: reset's key state holds


@pytest.fixture(scope="module")
def rollout(envs):
    """Both environments stepped from the same two initial states with the same actions."""
    env, cpu, reset, step = envs
    keys = jax.random.split(jax.random.PRNGKey(3), 2)
    state = reset(keys)
    initial = jax.tree.map(np.asarray, state)
    actions = np.stack([_actions(env, STEPS, seed) for seed in (0, 1)], axis=1)  # (T, B, A)
    mjx_states = []
    for t in range(STEPS):
        state = step(state, jnp.asarray(actions[t]))
        mjx_states.append(jax.tree.map(np.asarray, state))
    cpu_runs = []
    for b in range(2):
        _cpu_from_mjx_state(cpu, initial.data.qpos[b].astype(np.float64))
        first_obs = np.concatenate(list(cpu._observation().values()))
        run = []
        for t in range(STEPS):
            ts = cpu.step(actions[t, b])
            run.append((np.concatenate(list(ts.observation.values())), dict(cpu.reward_terms),
                        cpu._key_state.copy(), [c for c in cpu.contact_log if c[0] == t]))
        cpu_runs.append((first_obs, run, cpu.episode_metrics()))
    return initial, mjx_states, cpu_runs


def test_observation_layout_and_specs_match(envs):
    env, cpu, reset, _ = envs
    assert env.obs_dim == sum(s.shape[0] for s in cpu.observation_spec().values()) == 1144
    assert env.action_dim == cpu.action_spec().shape[0] == 39
    assert tuple(env.observation_sizes) == tuple(cpu.observation_spec())
    np.testing.assert_array_equal(env.action_min, cpu.action_spec().minimum)
    state = reset(jax.random.split(jax.random.PRNGKey(0), 2))
    assert state.obs.shape == (2, 1144) and state.obs.dtype == jnp.float32
    # different keys draw different initial noise
    assert not np.allclose(state.obs[0], state.obs[1])


def test_initial_observation_matches(rollout, envs):
    env = envs[0]
    initial, _, cpu_runs = rollout
    for b in range(2):
        got = env.split_observation(initial.obs[b])
        want = env.split_observation(cpu_runs[b][0])
        for key in got:
            np.testing.assert_allclose(got[key], want[key], atol=1e-5, err_msg=key)


def test_observations_keys_and_terms_follow_the_cpu_env(rollout, envs):
    env = envs[0]
    _, mjx_states, cpu_runs = rollout
    for b in range(2):
        for t in range(STEPS):
            s = jax.tree.map(lambda x: x[b], mjx_states[t])
            cpu_obs, cpu_terms, cpu_keys, _ = cpu_runs[b][1][t]
            got, want = env.split_observation(s.obs), env.split_observation(cpu_obs)
            where = f"env {b} step {t}"
            np.testing.assert_array_equal(got["goal"], want["goal"], err_msg=where)
            np.testing.assert_array_equal(got["sustain_goal"], want["sustain_goal"], err_msg=where)
            np.testing.assert_array_equal(got["piano/sustain"], want["piano/sustain"], err_msg=where)
            np.testing.assert_allclose(got["fingertips"], want["fingertips"], atol=TIP_TOL, err_msg=where)
            np.testing.assert_allclose(got["hands/joints"], want["hands/joints"], atol=JOINT_TOL,
                                       err_msg=where)
            np.testing.assert_allclose(s.info["key_state"], cpu_keys, atol=KEY_TOL, err_msg=where)
            assert set(s.metrics) == set(cpu_terms)
            for name, value in cpu_terms.items():
                tol = max(1e-3, 0.02 * abs(value)) if name in ("energy", "total") else TERM_TOL
                assert abs(float(s.metrics[name]) - value) <= tol + (TERM_TOL if name == "total" else 0), \
                    f"{where} {name}: mjx {float(s.metrics[name])} cpu {value}"
            assert float(s.reward) == pytest.approx(float(s.metrics["total"]))


def test_keys_were_pressed_and_metrics_agree(rollout, envs):
    """The rollout must exercise contacts, presses and the contact log, not only free motion."""
    env = envs[0]
    _, mjx_states, cpu_runs = rollout
    pressed_any = sum(int(np.asarray(s.info["pressed"]).sum()) for s in mjx_states)
    assert pressed_any > 0
    last = jax.tree.map(lambda x: x[0], mjx_states[-1])
    cpu_metrics = cpu_runs[0][2]
    got = env.episode_metrics(last)
    assert got["steps"] == cpu_metrics["steps"] == STEPS
    for key in ("precision", "recall", "f1"):
        assert got[key] == pytest.approx(cpu_metrics[key], abs=0.1)
    for b in range(2):
        mjx_log = [c for t, s in enumerate(mjx_states)
                   for c in env.contact_log(t, np.asarray(s.info["contacts"][b]))]
        cpu_log = [c for step in cpu_runs[b][1] for c in step[3]]
        assert len(mjx_log) > 0 or len(cpu_log) == 0
        # identical up to the steps where a key sits at the pressed threshold
        assert len(set(mjx_log) ^ set(cpu_log)) <= max(1, len(cpu_log) // 5)


def test_episode_truncates_after_the_last_step(envs):
    env, _, reset, step = envs
    state = reset(jax.random.split(jax.random.PRNGKey(1), 2))
    home = jnp.broadcast_to(jnp.asarray(env.home_action()), (2, env.action_dim))
    for _ in range(SONG_STEPS - 1):
        state = step(state, home)
        assert not np.any(np.asarray(state.done))
    state = step(state, home)
    assert np.all(np.asarray(state.done) == 1.0)
    assert np.all(np.asarray(state.info["truncation"]) == 1.0)
    assert np.all(np.asarray(state.info["t"]) == SONG_STEPS)


def test_physics_settings_are_rp1m():
    config = MjxConfig()
    assert (config.iterations, config.ls_iterations, config.max_contact_points) == (2, 6, 20)
