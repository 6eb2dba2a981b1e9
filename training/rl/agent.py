"""DroQ agent: a pytree state and one jitted update (critic + actor + temperature + EMA).

The math follows robopianist-rl's SAC/DroQ (itself jaxrl/RLPD): the TD target uses the min
over the target critics, evaluated with dropout on, and the entropy backup; the actor step
uses the freshly updated critics (mean over the ensemble); the temperature step uses the
actor step's entropy. ``update`` runs ``n`` such updates in one ``jax.lax.scan`` over a
stacked batch, so a UTD > 1 costs one dispatch, not ``n``.

Everything that changes during training lives in ``AgentState`` (a flax struct, so it can be
``jit``-ed, scanned and serialised with ``flax.serialization``); everything static (sizes,
the config, the module definitions) lives in ``DroQ``.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from training.rl.config import DroQConfig
from training.rl.networks import Actor, CriticEnsemble, Obs, tanh_gaussian_sample

Params = Any


@flax.struct.dataclass
class AgentState:
    actor: Params
    critic: Params
    target_critic: Params
    log_temp: jax.Array
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    temp_opt: optax.OptState
    rng: jax.Array   # raw uint32[2] key (serialisable)
    step: jax.Array  # int32: gradient updates done


class Batch(NamedTuple):
    """Transitions; every leaf has a leading batch axis (and an update axis when stacked)."""

    obs: Obs
    action: jax.Array
    reward: jax.Array
    discount: jax.Array
    next_obs: Obs


class DroQ:
    """Static part of the agent; its methods are pure functions of an ``AgentState``."""

    def __init__(self, config: DroQConfig, dense_dim: int, num_bits: int, action_dim: int):
        self.config = config
        self.dense_dim = dense_dim
        self.num_bits = num_bits
        self.action_dim = action_dim
        self.target_entropy = (config.target_entropy if config.target_entropy is not None
                               else -0.5 * action_dim)
        self.actor_def = Actor(tuple(config.hidden_dims), num_bits, action_dim, config.activation,
                               config.log_std_min, config.log_std_max, config.sparse_goals)
        self.critic_def = CriticEnsemble(config.num_qs, tuple(config.hidden_dims), num_bits,
                                         config.activation, config.critic_dropout,
                                         config.critic_layer_norm, config.sparse_goals)

        def adam(lr: float) -> optax.GradientTransformation:
            return optax.adam(lr, b1=config.adam_b1, b2=config.adam_b2, eps=config.adam_eps)

        self.actor_tx = adam(config.actor_lr)
        self.critic_tx = adam(config.critic_lr)
        self.temp_tx = adam(config.temp_lr)

    # Agents with equal configs and sizes are interchangeable: they share jit caches (the
    # jitted functions below take the agent as a static argument), so a second agent with the
    # same config, e.g. in a test or an evaluation, does not compile again.
    def _key(self) -> tuple:
        return (self.config, self.dense_dim, self.num_bits, self.action_dim)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DroQ) and self._key() == other._key()

    def update(self, state: AgentState, batches: Batch) -> tuple[AgentState, dict]:
        """``n`` gradient updates (one per slice of the batches' leading axis) in one call.

        ``state`` is donated: its buffers are reused for the result, so do not use it again.
        """
        return _update_jit(self, state, batches)

    # ------------------------------------------------------------------ construction
    def dummy_obs(self, batch: int = 1) -> Obs:
        return Obs(jnp.zeros((batch, self.dense_dim), jnp.float32),
                   jnp.full((batch, 1), self.num_bits, jnp.int32))

    def init(self, seed: int) -> AgentState:
        """Fresh parameters and optimiser states from ``seed`` (jitted: one compile per config)."""
        return _init_jit(self, jnp.asarray(seed, jnp.uint32))

    def _init_impl(self, seed: jax.Array) -> AgentState:
        rng = jax.random.PRNGKey(seed)
        rng, actor_key, critic_key = jax.random.split(rng, 3)
        obs = self.dummy_obs()
        action = jnp.zeros((1, self.action_dim), jnp.float32)
        actor = self.actor_def.init(actor_key, obs)["params"]
        critic = self.critic_def.init(critic_key, obs, action)["params"]
        log_temp = jnp.asarray(np.log(self.config.init_temperature), jnp.float32)
        return AgentState(
            actor=actor, critic=critic, log_temp=log_temp,
            target_critic=jax.tree.map(jnp.copy, critic),  # own buffers: the update donates
            actor_opt=self.actor_tx.init(actor), critic_opt=self.critic_tx.init(critic),
            temp_opt=self.temp_tx.init(log_temp), rng=rng, step=jnp.zeros((), jnp.int32))

    # ------------------------------------------------------------------ acting
    def act(self, state: AgentState, obs: Obs, key: jax.Array, step: int = 0,
            deterministic: bool = False) -> jax.Array:
        """Actions in [-1, 1] for a batch of observations (the policy's mode if deterministic).

        The sampling key is ``fold_in(key, step)`` inside the jitted call: acting needs no
        mutable RNG state, so a resumed run draws the same actions as an uninterrupted one.
        """
        return _act_jit(self, state.actor, obs, key, np.asarray(step, np.uint32), deterministic)

    def _act_impl(self, actor: Params, obs: Obs, key: jax.Array, step: jax.Array,
                  deterministic: bool) -> jax.Array:
        mean, log_std = self.actor_def.apply({"params": actor}, obs)
        if deterministic:
            return jnp.tanh(mean)
        action, _ = tanh_gaussian_sample(jax.random.fold_in(key, step), mean, log_std)
        return action

    # ------------------------------------------------------------------ learning
    def _update_many(self, state: AgentState, batches: Batch) -> tuple[AgentState, dict]:
        """``n`` updates, one per slice of ``batches``' leading axis; metrics of the last."""
        state, metrics = jax.lax.scan(self._update_one, state, batches)
        return state, jax.tree.map(lambda m: m[-1], metrics)

    def td_target(self, state: AgentState, batch: Batch, key: jax.Array,
                  dropout_key: jax.Array) -> jax.Array:
        """r + gamma * d * (min_i Q'_i(s', a') - temp * log pi(a'|s')), a' ~ pi(s').

        The target critics run with dropout on (as in DroQ / robopianist-rl); ``d`` is the
        environment's discount (1 at a time-limit end, so such ends bootstrap).
        """
        mean, log_std = self.actor_def.apply({"params": state.actor}, batch.next_obs)
        next_action, next_logp = tanh_gaussian_sample(key, mean, log_std)
        next_qs = self.critic_def.apply({"params": state.target_critic}, batch.next_obs,
                                        next_action, True, rngs={"dropout": dropout_key})
        bootstrap = self.config.discount * batch.discount
        target = batch.reward + bootstrap * next_qs.min(axis=0)
        if self.config.backup_entropy:
            target = target - bootstrap * jnp.exp(state.log_temp) * next_logp
        return jax.lax.stop_gradient(target)

    def critic_loss(self, params: Params, batch: Batch, target: jax.Array, key: jax.Array
                    ) -> tuple[jax.Array, jax.Array]:
        """Mean squared TD error over the ensemble and the batch; aux: mean Q."""
        qs = self.critic_def.apply({"params": params}, batch.obs, batch.action, True,
                                   rngs={"dropout": key})
        return ((qs - target) ** 2).mean(), qs.mean()

    def _update_one(self, state: AgentState, batch: Batch) -> tuple[AgentState, dict]:
        cfg = self.config
        rng, k_next, k_target_drop, k_critic_drop, k_actor, k_actor_drop = jax.random.split(
            state.rng, 6)
        temp = jnp.exp(state.log_temp)

        # --- critic: regress on the TD target of the target critics.
        target = self.td_target(state, batch, k_next, k_target_drop)
        critic_loss_fn = partial(self.critic_loss, batch=batch, target=target, key=k_critic_drop)
        (critic_loss, q_mean), grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(
            state.critic)
        updates, critic_opt = self.critic_tx.update(grads, state.critic_opt, state.critic)
        critic = optax.apply_updates(state.critic, updates)
        target_critic = ema(critic, state.target_critic, cfg.tau)

        # --- actor: maximise E[min-free mean Q - temp * log pi] with the updated critics.
        def actor_loss_fn(params: Params) -> tuple[jax.Array, jax.Array]:
            mean, log_std = self.actor_def.apply({"params": params}, batch.obs)
            action, logp = tanh_gaussian_sample(k_actor, mean, log_std)
            qs = self.critic_def.apply({"params": critic}, batch.obs, action, True,
                                       rngs={"dropout": k_actor_drop})
            return (temp * logp - qs.mean(axis=0)).mean(), -logp.mean()

        (actor_loss, entropy), grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(
            state.actor)
        updates, actor_opt = self.actor_tx.update(grads, state.actor_opt, state.actor)
        actor = optax.apply_updates(state.actor, updates)

        # --- temperature: drive the entropy toward the target.
        def temp_loss_fn(log_temp: jax.Array) -> jax.Array:
            return jnp.exp(log_temp) * (entropy - self.target_entropy)

        temp_loss, grad = jax.value_and_grad(temp_loss_fn)(state.log_temp)
        if cfg.learnable_temperature:
            updates, temp_opt = self.temp_tx.update(grad, state.temp_opt, state.log_temp)
            log_temp = optax.apply_updates(state.log_temp, updates)
        else:
            temp_opt, log_temp = state.temp_opt, state.log_temp

        new_state = AgentState(actor=actor, critic=critic, target_critic=target_critic,
                               log_temp=log_temp, actor_opt=actor_opt, critic_opt=critic_opt,
                               temp_opt=temp_opt, rng=rng, step=state.step + 1)
        metrics = {"critic_loss": critic_loss, "q": q_mean, "actor_loss": actor_loss,
                   "entropy": entropy, "temperature": temp, "temp_loss": temp_loss}
        return new_state, metrics


def ema(online: Params, target: Params, tau: float) -> Params:
    """Target-network update: target <- tau * online + (1 - tau) * target."""
    return jax.tree.map(lambda o, t: tau * o + (1.0 - tau) * t, online, target)


_init_jit = jax.jit(DroQ._init_impl, static_argnums=(0,))
_update_jit = jax.jit(DroQ._update_many, static_argnums=(0,), donate_argnums=(1,))
_act_jit = jax.jit(DroQ._act_impl, static_argnums=(0, 5))
