"""CrossQ: batch renorm, no target critics, one joint critic pass, eval-mode acting."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from handspec.errors import InputError
from training import checkpoint as ckpt
from training.rl.agent import Batch, DroQ
from training.rl.config import PRESETS, DroQConfig, TrainConfig
from training.rl.networks import Obs

from test_droq_agent import ACTION, BITS, DENSE, make_batch

# small CrossQ: the preset's algorithm, optimiser and delay, tiny widths, renorm from update 2
SMALL = DroQConfig.preset("crossq").replace(hidden_dims=(32, 32), critic_hidden_dims=(48, 48),
                                            bn_warmup=2)


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def same(a, b) -> bool:
    la, lb = leaves(a), leaves(b)
    return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb))


@pytest.fixture(scope="module")
def agent() -> DroQ:
    return DroQ(SMALL, DENSE, BITS, ACTION)


def one(batch: Batch) -> Batch:
    return jax.tree.map(lambda x: x[None], batch)


def test_preset_is_the_papers_and_reachable_by_flags():
    preset = PRESETS["crossq"]
    cfg = DroQConfig.preset("crossq")
    assert cfg.algorithm == "crossq" and cfg.critic_widths == (2048, 2048)
    assert cfg.hidden_dims == (256, 256) and cfg.activation == "relu"
    assert (cfg.adam_b1, cfg.critic_lr, cfg.actor_lr, cfg.policy_delay) == (0.5, 1e-3, 1e-3, 3)
    assert cfg.critic_dropout == 0.0 and not cfg.critic_layer_norm and cfg.bn_momentum == 0.99
    assert preset.run == {"update_interval": 1, "updates_per_interval": 1}  # UTD 1
    TrainConfig(**preset.run, agent=cfg)  # valid together
    with pytest.raises(InputError) as err:
        DroQConfig.preset("crossr")
    assert err.value.field == "--agent-preset"


def test_no_target_critics_and_batch_stats_in_the_state(agent):
    state = agent.init(0)
    assert state.target_critic == {} and not jax.tree.leaves(state.target_critic)
    trunk = state.critic_stats["trunk"]
    assert trunk["bn_0_mean"].shape == (SMALL.num_qs, 1, 48)  # per critic and feature
    assert trunk["bn_in_mean"].shape == (1, DENSE + ACTION)  # real-valued input and action
    assert state.actor_stats["trunk"]["bn_1_var"].shape == (1, 1, 32)
    droq = DroQ(DroQConfig(hidden_dims=(32, 32)), DENSE, BITS, ACTION).init(0)
    assert droq.critic_stats == {} and droq.actor_stats == {} and droq.target_critic


def test_the_critic_pass_normalises_current_and_next_pairs_together(agent):
    """After one update the input's running mean moved toward the mean over BOTH halves
    (s and s'), not over s alone: one joint forward pass."""
    batch = make_batch(0)
    batch = batch._replace(next_obs=batch.next_obs._replace(dense=batch.next_obs.dense + 3.0))
    state, _ = agent.update(agent.init(0), one(batch))
    joint = np.concatenate([batch.obs.dense, batch.next_obs.dense]).mean(0)
    moved = np.asarray(state.critic_stats["trunk"]["bn_in_mean"])[0, :DENSE]
    np.testing.assert_allclose(moved, (1 - SMALL.bn_momentum) * joint, rtol=1e-4, atol=1e-6)
    assert int(state.critic_stats["trunk"]["count"]) == 1
    # the actor normalised the current observations only (its own training pass)
    actor_moved = np.asarray(state.actor_stats["trunk"]["bn_in_mean"])[0]
    np.testing.assert_allclose(actor_moved, (1 - SMALL.bn_momentum) * batch.obs.dense.mean(0),
                               rtol=1e-4, atol=1e-6)


def test_target_is_the_stop_gradient_of_the_next_half(agent):
    """The critic gradient equals the gradient of the loss with the target held fixed."""
    state = agent.init(1)
    batch = make_batch(1)
    key = jax.random.PRNGKey(0)
    next_action = jnp.zeros((batch.action.shape[0], ACTION))
    next_logp = jnp.zeros(batch.action.shape[0])
    temp = jnp.asarray(1.0)

    def loss(params):
        return agent.crossq_critic_loss(params, state.critic_stats, batch, next_action,
                                        next_logp, temp, key)[0]

    joint_obs = jax.tree.map(lambda x, y: jnp.concatenate([x, y]), batch.obs, batch.next_obs)
    joint_action = jnp.concatenate([batch.action, next_action])
    qs, _ = agent.critic_apply(state.critic, state.critic_stats, joint_obs, joint_action, True, key)
    n = batch.action.shape[0]
    fixed = batch.reward + SMALL.discount * batch.discount * qs[:, n:].min(0)

    def loss_fixed_target(params):
        q, _ = agent.critic_apply(params, state.critic_stats, joint_obs, joint_action, True, key)
        return ((q[:, :n] - fixed) ** 2).mean()

    for a, b in zip(jax.tree.leaves(jax.grad(loss)(state.critic)),
                    jax.tree.leaves(jax.grad(loss_fixed_target)(state.critic))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_updates_decrease_the_critic_loss_on_a_fixed_batch(agent):
    state = agent.init(0)
    batch = one(make_batch(2))
    losses = []
    for _ in range(60):
        state, metrics = agent.update(state, batch)
        losses.append(float(metrics["critic_loss"]))
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])
    assert int(state.step) == 60 and int(state.critic_stats["trunk"]["count"]) == 60
    assert int(state.actor_stats["trunk"]["count"]) == 20  # policy delay 3


def test_policy_delay_updates_actor_and_temperature_every_third_update(agent):
    state = agent.init(0)
    batch = one(make_batch(3))
    history = []
    for _ in range(4):
        before = jax.tree.map(np.array, (state.actor, state.log_temp, state.critic))
        state, metrics = agent.update(state, batch)
        history.append((not same(before[0], state.actor), float(before[1]) != float(state.log_temp),
                        not same(before[2], state.critic), float(metrics["actor_loss"])))
    assert [h[0] for h in history] == [True, False, False, True]
    assert [h[1] for h in history] == [True, False, False, True]
    assert all(h[2] for h in history)  # the critics learn on every update
    assert history[1][3] == history[0][3] and np.isfinite(history[1][3])  # latest actor step's


def test_acting_uses_running_statistics(agent):
    state = agent.init(0)
    for seed in range(3):  # move the statistics away from their initial values
        state, _ = agent.update(state, one(make_batch(seed)))
    batch = make_batch(7).obs
    key = jax.random.PRNGKey(1)
    for deterministic in (True, False):
        together = np.asarray(agent.act(state, batch, key, 5, deterministic))
        again = np.asarray(agent.act(state, batch, key, 5, deterministic))
        alone = np.concatenate([np.asarray(agent.act(
            state, Obs(batch.dense[i:i + 1], batch.active[i:i + 1]), key, 5, deterministic))
            for i in range(4)])
        np.testing.assert_array_equal(together, again)
        if deterministic:  # no dependence on the rest of the batch
            np.testing.assert_allclose(together[:4], alone, rtol=1e-5, atol=1e-6)
    (mean, _), _ = agent.actor_apply(state.actor, state.actor_stats, batch)
    np.testing.assert_allclose(agent.act(state, batch, key, 0, True), np.tanh(mean), atol=1e-6)
    (train_mean, _), _ = agent.actor_apply(state.actor, state.actor_stats, batch, True)
    assert not np.allclose(train_mean, mean, atol=1e-3)  # batch statistics differ from running


def test_checkpoint_round_trip_keeps_statistics_and_continues_identically(agent, tmp_path):
    state = agent.init(4)
    for seed in range(2):
        state, _ = agent.update(state, one(make_batch(seed)))
    ckpt.save_checkpoint(tmp_path, 2, state, {"episode": 0})
    loaded = ckpt.load_latest(tmp_path, agent.init(0)).agent
    assert same(loaded, state) and int(loaded.critic_stats["trunk"]["count"]) == 2
    obs = make_batch(5).obs
    key = jax.random.PRNGKey(0)
    np.testing.assert_array_equal(agent.act(loaded, obs, key, 0, True),
                                  agent.act(state, obs, key, 0, True))
    copy = jax.tree.map(jnp.array, state)  # update donates its input
    a, _ = agent.update(copy, one(make_batch(9)))
    b, _ = agent.update(loaded, one(make_batch(9)))
    assert same(a, b)


def test_a_droq_checkpoint_without_the_new_fields_still_loads(tmp_path):
    """Checkpoints written before batch statistics existed load into a DroQ state."""
    import flax.serialization

    droq = DroQ(DroQConfig(hidden_dims=(32, 32)), DENSE, BITS, ACTION)
    state = droq.init(3)
    old = flax.serialization.to_state_dict(state)
    for name in ("actor_stats", "critic_stats", "actor_metrics"):
        del old[name]
    ckpt.save_checkpoint(tmp_path, 7, old, {"episode": 1})
    loaded = ckpt.load_latest(tmp_path, droq.init(0)).agent
    assert same(loaded.actor, state.actor) and same(loaded.target_critic, state.target_critic)
    assert loaded.critic_stats == {}


def test_a_crossq_checkpoint_does_not_load_as_droq(agent, tmp_path):
    ckpt.save_checkpoint(tmp_path, 1, agent.init(0), {"episode": 0})
    droq = DroQ(SMALL.replace(algorithm="droq"), DENSE, BITS, ACTION)
    with pytest.raises(InputError):
        ckpt.read_checkpoint(ckpt.list_checkpoints(tmp_path)[0][1], droq.init(0))
