"""DroQ agent: the update learns, the target EMA is exact, sparse == dense, log-probs are right."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.rl.agent import Batch, DroQ, ema
from training.rl.config import DroQConfig
from training.rl.networks import (
    CriticEnsemble,
    Obs,
    dropout_keep_mask,
    gather_rows_sum,
    tanh_gaussian_sample,
)
from training.rl.replay import active_indices

# The sizes of tests/fake_env.py (FakePianoEnv()) and the loop tests' batch, so the jitted
# update compiles once for the whole test session (agents with equal configs share it).
DENSE, BITS, ACTION, B, K = 26, 21, 7, 32, 16
SMALL = DroQConfig(hidden_dims=(32, 32))


def make_batch(seed: int = 0, n: int | None = None) -> Batch:
    rng = np.random.default_rng(seed)
    lead = (B,) if n is None else (n, B)

    def obs():
        bits = (rng.random(lead + (BITS,)) < 0.2).reshape(-1, BITS)
        act = active_indices(bits, K).reshape(lead + (K,))
        return Obs(rng.standard_normal(lead + (DENSE,)).astype(np.float32), act)

    return Batch(obs(), rng.uniform(-1, 1, lead + (ACTION,)).astype(np.float32),
                 rng.standard_normal(lead).astype(np.float32), np.ones(lead, np.float32), obs())


def leaves_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.fixture(scope="module")
def agent() -> DroQ:
    return DroQ(SMALL, DENSE, BITS, ACTION)


def test_one_update_changes_every_trained_part(agent):
    state = agent.init(0)
    before = jax.tree.map(np.array, state)
    batch = jax.tree.map(lambda x: x[None], make_batch())
    after, metrics = agent.update(state, batch)
    assert not leaves_equal(before.actor, after.actor)
    assert not leaves_equal(before.critic, after.critic)
    assert not leaves_equal(before.target_critic, after.target_critic)
    assert float(after.log_temp) != float(before.log_temp)
    assert int(after.step) == 1
    assert set(metrics) == {"critic_loss", "q", "actor_loss", "entropy", "temperature", "temp_loss"}
    assert all(np.isfinite(float(v)) for v in metrics.values())


def test_one_update_lowers_the_critic_loss_on_a_fixed_batch(agent):
    """The TD loss on the batch just used, with its target and dropout mask held fixed."""
    state = agent.init(4)
    batch = make_batch(10)
    key_a, key_b, key_c = jax.random.split(jax.random.PRNGKey(4), 3)
    target = jax.jit(agent.td_target)(state, batch, key_a, key_b)
    loss = jax.jit(lambda params: agent.critic_loss(params, batch, target, key_c)[0])
    before = float(loss(state.critic))
    after_state, _ = agent.update(state, jax.tree.map(lambda x: x[None], batch))
    assert float(loss(after_state.critic)) < before


def test_many_updates_fit_a_fixed_batch(agent):
    state = agent.init(1)
    batch = make_batch(3)
    single = jax.tree.map(lambda x: x[None], batch)
    state, first = agent.update(state, single)
    for _ in range(150):
        state, metrics = agent.update(state, single)
    assert float(metrics["critic_loss"]) < 0.5 * float(first["critic_loss"])


@pytest.mark.slow
def test_scan_of_n_equals_n_single_updates():
    agent = DroQ(DroQConfig(hidden_dims=(8,)), DENSE, BITS, ACTION)
    batches = make_batch(5, n=3)
    one_by_one = agent.init(2)
    for i in range(3):
        one_by_one, _ = agent.update(one_by_one, jax.tree.map(lambda x, i=i: x[i:i + 1], batches))
    scanned, _ = agent.update(agent.init(2), batches)
    for a, b in zip(jax.tree.leaves(one_by_one), jax.tree.leaves(scanned)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_target_network_is_the_ema_of_the_critic(agent):
    """target' = tau * critic' + (1 - tau) * target, with critic' the updated critic."""
    tau = agent.config.tau
    assert tau == 0.05  # Table 4's EMA momentum
    state = agent.init(3)
    state = state.replace(target_critic=jax.tree.map(lambda x: x + 0.5, state.target_critic))
    old_target = jax.tree.map(np.array, state.target_critic)
    new, _ = agent.update(state, jax.tree.map(lambda x: x[None], make_batch(1)))
    for c, t_old, t_new in zip(jax.tree.leaves(new.critic), jax.tree.leaves(old_target),
                               jax.tree.leaves(new.target_critic)):
        np.testing.assert_allclose(t_new, tau * np.asarray(c) + (1 - tau) * t_old, rtol=1e-6, atol=1e-7)


def test_ema_function_on_hand_values():
    out = ema({"w": jnp.array([1.0, 3.0])}, {"w": jnp.array([0.0, 1.0])}, 0.25)
    np.testing.assert_allclose(out["w"], [0.25, 1.5])


@pytest.mark.slow
def test_fixed_temperature_stays_put():
    agent = DroQ(DroQConfig(hidden_dims=(8,), learnable_temperature=False, init_temperature=0.3),
                 DENSE, BITS, ACTION)
    state, _ = agent.update(agent.init(0), jax.tree.map(lambda x: x[None], make_batch()))
    assert float(jnp.exp(state.log_temp)) == pytest.approx(0.3)


def test_sparse_and_dense_first_layers_compute_the_same_function():
    batch = make_batch(7)
    sparse = CriticEnsemble(2, (16,), BITS, sparse=True)
    dense = CriticEnsemble(2, (16,), BITS, sparse=False)
    params = sparse.init(jax.random.PRNGKey(0), batch.obs, batch.action)

    @jax.jit
    def values_and_grads(params):
        out = []
        for net in (sparse, dense):
            q, vjp = jax.vjp(lambda p, net=net: net.apply(p, batch.obs, batch.action), params)
            out.append((q, vjp(jnp.ones_like(q))[0]))
        return out

    (q_sparse, g_sparse), (q_dense, g_dense) = values_and_grads(params)
    np.testing.assert_allclose(q_sparse, q_dense, rtol=1e-5, atol=1e-5)
    for a, b in zip(jax.tree.leaves(g_sparse), jax.tree.leaves(g_dense)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


_KERNEL = np.random.default_rng(0).standard_normal((12, 5)).astype(np.float32)
_COT = np.random.default_rng(1).standard_normal((6, 5)).astype(np.float32)


@jax.jit
def _gather_and_grad(active):
    out, vjp = jax.vjp(lambda k: gather_rows_sum(k, active), jnp.asarray(_KERNEL))
    return out, vjp(jnp.asarray(_COT))[0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=72, max_size=72))
def test_gather_rows_sum_is_one_hot_matmul(flat):
    """Forward = bits @ kernel and backward = bits.T @ cotangent for any 0/1 pattern,
    including empty rows and full rows (K = 16 > 12 slots: padding is inert)."""
    bits = np.array(flat, bool).reshape(6, 12)
    out, grad = _gather_and_grad(jnp.asarray(active_indices(bits, 16)))
    np.testing.assert_allclose(out, bits.astype(np.float32) @ _KERNEL, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad, bits.astype(np.float32).T @ _COT, rtol=1e-5, atol=1e-5)


def test_tanh_gaussian_log_prob_matches_change_of_variables():
    """log p(a) = log N(atanh a) - sum log(1 - a^2), checked in float64 numpy."""
    key = jax.random.PRNGKey(0)
    mean = jnp.array([[0.3, -1.2, 2.0]])
    log_std = jnp.array([[-0.5, 0.1, -1.0]])
    action, logp = tanh_gaussian_sample(key, mean, log_std)
    a = np.asarray(action, np.float64)
    u = np.arctanh(a)
    std = np.exp(np.asarray(log_std, np.float64))
    ref = (-0.5 * ((u - np.asarray(mean)) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
           - np.log(1 - a**2)).sum(-1)
    np.testing.assert_allclose(np.asarray(logp), ref, rtol=1e-3)
    assert np.all(np.abs(a) < 1)


def test_dropout_mask_rate_and_key_dependence():
    keep = np.asarray(dropout_keep_mask(jax.random.PRNGKey(0), (200, 500), 0.01))
    assert abs(1 - keep.mean() - 0.01) < 0.002
    other = np.asarray(dropout_keep_mask(jax.random.PRNGKey(1), (200, 500), 0.01))
    assert (keep != other).mean() > 0.01
    assert np.asarray(dropout_keep_mask(jax.random.PRNGKey(0), (10,), 0.0)).all()


def test_act_is_in_bounds_deterministic_and_seeded(agent):
    state = agent.init(0)
    obs = jax.tree.map(lambda x: x[:4], make_batch().obs)
    key = jax.random.PRNGKey(9)
    a1 = np.asarray(agent.act(state, obs, key, step=5))
    a2 = np.asarray(agent.act(state, obs, key, step=5))
    a3 = np.asarray(agent.act(state, obs, key, step=6))
    assert a1.shape == (4, ACTION) and np.all(np.abs(a1) <= 1)
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, a3)
    mode = np.asarray(agent.act(state, obs, key, step=5, deterministic=True))
    np.testing.assert_array_equal(mode, np.asarray(agent.act(state, obs, key, 7, deterministic=True)))


def test_fused_layer_norm_gelu_matches_the_composition():
    from training.rl.networks import layer_norm, layer_norm_gelu

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((2, 5, 16)), jnp.float32)
    scale = jnp.asarray(rng.uniform(0.5, 1.5, (2, 1, 16)), jnp.float32)
    offset = jnp.asarray(rng.standard_normal((2, 1, 16)), jnp.float32)
    cot = jnp.asarray(rng.standard_normal((2, 5, 16)), jnp.float32)

    @jax.jit
    def both(x, scale, offset):
        out = []
        for fn in (layer_norm_gelu, lambda *a: jax.nn.gelu(layer_norm(*a))):
            y, vjp = jax.vjp(fn, x, scale, offset)
            out.append((y, vjp(cot)))
        return out

    (y1, g1), (y2, g2) = both(x, scale, offset)
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-6)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
