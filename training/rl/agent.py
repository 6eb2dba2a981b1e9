"""The agent: a pytree state and one jitted update (critic + actor + temperature [+ EMA]).

The math follows robopianist-rl's SAC/DroQ (itself jaxrl/RLPD): the TD target uses the min
over the target critics, evaluated with dropout on, and the entropy backup; the actor step
uses the freshly updated critics (mean over the ensemble); the temperature step uses the
actor step's entropy. ``update`` runs ``n`` such updates in one ``jax.lax.scan`` over a
stacked batch, so a UTD > 1 costs one dispatch, not ``n``.

``DroQConfig.algorithm="crossq"`` swaps in CrossQ (Bhatt et al., ICLR 2024): the critics
and the actor carry batch renormalisation, there are no target critics, and the critic step
runs the current (s, a) and next (s', a') pairs through the critics in ONE forward pass in
training mode, so the normalisation statistics cover both; the target is the stop-gradient
of the next half (min over the critics). The next action and the actor step's Q-values use
the other network in inference mode (running statistics), as in the reference code; the
actor step takes the min over the critics. Acting always uses the running statistics.

Everything that changes during training lives in ``AgentState`` (a flax struct, so it can be
``jit``-ed, scanned and serialised with ``flax.serialization``); everything static (sizes,
the config, the module definitions) lives in ``DroQ``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, ClassVar, NamedTuple

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
    target_critic: Params   # {} for CrossQ: it has no target critics
    log_temp: jax.Array
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    temp_opt: optax.OptState
    rng: jax.Array   # raw uint32[2] key (serialisable)
    step: jax.Array  # int32: gradient updates done
    # Batch-renorm running statistics (flax "batch_stats"); {} without batch norm.
    actor_stats: Params = flax.struct.field(default_factory=dict)
    critic_stats: Params = flax.struct.field(default_factory=dict)
    # Metrics of the latest actor/temperature step (logged on critic-only updates too).
    actor_metrics: dict = flax.struct.field(default_factory=dict)

    # Fields that checkpoints written before they existed lack; loading takes them from a
    # fresh state (training.checkpoint.read_checkpoint).
    ADDED_FIELDS: ClassVar[tuple[str, ...]] = ("actor_stats", "critic_stats", "actor_metrics")
    # What acting needs: a policy-only checkpoint (``best.ckpt``) stores just these, a tenth
    # of the whole state (1.8 of 19 MB for shadow_five: no critics, targets or optimisers).
    POLICY_FIELDS: ClassVar[tuple[str, ...]] = ("actor", "actor_stats", "log_temp", "rng", "step")


class Batch(NamedTuple):
    """Transitions; every leaf has a leading batch axis (and an update axis when stacked).

    With n-step returns (``training.rl.replay``) ``reward`` is the discounted sum of up to
    ``n`` rewards, ``next_obs`` the observation after them, and ``discount`` the bootstrap
    factor divided by gamma (``gamma**(m-1)`` times the environment discounts of the ``m``
    steps), so the TD target is ``reward + gamma * discount * V(next_obs)`` for every n.
    """

    obs: Obs
    action: jax.Array
    reward: jax.Array
    discount: jax.Array
    next_obs: Obs


_ACTOR_METRICS = ("actor_loss", "entropy", "temp_loss")


class DroQ:
    """Static part of the agent; its methods are pure functions of an ``AgentState``."""

    def __init__(self, config: DroQConfig, dense_dim: int, num_bits: int, action_dim: int):
        self.config = config
        self.dense_dim = dense_dim
        self.num_bits = num_bits
        self.action_dim = action_dim
        self.target_entropy = (config.target_entropy if config.target_entropy is not None
                               else -0.5 * action_dim)
        self.crossq = config.algorithm == "crossq"
        bn = dict(batch_norm=self.crossq, bn_momentum=config.bn_momentum,
                  bn_warmup=config.bn_warmup)
        self.actor_def = Actor(tuple(config.hidden_dims), num_bits, action_dim, config.activation,
                               config.log_std_min, config.log_std_max, config.sparse_goals,
                               zero_mean_init=config.actor_zero_init,
                               init_log_std=(None if config.actor_init_std is None
                                             else math.log(config.actor_init_std)), **bn)
        self.critic_def = CriticEnsemble(config.num_qs, tuple(config.critic_widths), num_bits,
                                         config.activation, config.critic_dropout,
                                         config.critic_layer_norm, config.sparse_goals, **bn)

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
        actor_vars = self.actor_def.init(actor_key, obs)
        critic_vars = self.critic_def.init(critic_key, obs, action)
        actor, critic = actor_vars["params"], critic_vars["params"]
        log_temp = jnp.asarray(np.log(self.config.init_temperature), jnp.float32)
        return AgentState(
            actor=actor, critic=critic, log_temp=log_temp,
            # own buffers (the update donates); CrossQ has no target critics
            target_critic={} if self.crossq else jax.tree.map(jnp.copy, critic),
            actor_opt=self.actor_tx.init(actor), critic_opt=self.critic_tx.init(critic),
            temp_opt=self.temp_tx.init(log_temp), rng=rng, step=jnp.zeros((), jnp.int32),
            actor_stats=dict(actor_vars.get("batch_stats", {})),
            critic_stats=dict(critic_vars.get("batch_stats", {})),
            # (the first update is an actor step: these zeros are never reported)
            actor_metrics={k: jnp.zeros((), jnp.float32) for k in _ACTOR_METRICS})

    # ------------------------------------------------------------------ networks
    def actor_apply(self, params: Params, stats: Params, obs: Obs, training: bool = False
                    ) -> tuple[tuple[jax.Array, jax.Array], Params]:
        """(mean, log_std) and the batch statistics after the call (unchanged unless
        ``training`` with batch norm: then the batch's statistics normalise and update them)."""
        if training and self.crossq:
            out, updates = self.actor_def.apply({"params": params, "batch_stats": stats}, obs,
                                                True, mutable=["batch_stats"])
            return out, updates["batch_stats"]
        return self.actor_def.apply(_variables(params, stats), obs), stats

    def critic_apply(self, params: Params, stats: Params, obs: Obs, action: jax.Array,
                     training: bool, key: jax.Array | None = None
                     ) -> tuple[jax.Array, Params]:
        """Q-values (num_qs, B) and the batch statistics after the call (see ``actor_apply``);
        ``training`` also turns dropout on (``key``)."""
        rngs = {"dropout": key} if key is not None else {}
        if training and self.crossq:
            qs, updates = self.critic_def.apply({"params": params, "batch_stats": stats}, obs,
                                                action, True, rngs=rngs, mutable=["batch_stats"])
            return qs, updates["batch_stats"]
        return self.critic_def.apply(_variables(params, stats), obs, action, training,
                                     rngs=rngs), stats

    # ------------------------------------------------------------------ acting
    def act(self, state: AgentState, obs: Obs, key: jax.Array, step: int = 0,
            deterministic: bool = False) -> jax.Array:
        """Actions in [-1, 1] for a batch of observations (the policy's mode if deterministic).

        The sampling key is ``fold_in(key, step)`` inside the jitted call: acting needs no
        mutable RNG state, so a resumed run draws the same actions as an uninterrupted one.
        Batch norm (CrossQ) uses its running statistics: an action never depends on the
        other observations of the batch.
        """
        return _act_jit(self, state.actor, state.actor_stats, obs, key,
                        np.asarray(step, np.uint32), deterministic)

    def _act_impl(self, actor: Params, stats: Params, obs: Obs, key: jax.Array,
                  step: jax.Array, deterministic: bool) -> jax.Array:
        (mean, log_std), _ = self.actor_apply(actor, stats, obs)
        if deterministic:
            return jnp.tanh(mean)
        action, _ = tanh_gaussian_sample(jax.random.fold_in(key, step), mean, log_std)
        return action

    # ------------------------------------------------------------------ learning
    def _update_many(self, state: AgentState, batches: Batch) -> tuple[AgentState, dict]:
        """``n`` updates, one per slice of ``batches``' leading axis; metrics of the last."""
        state, metrics = jax.lax.scan(self._update_one, state, batches)
        return state, jax.tree.map(lambda m: m[-1], metrics)

    def backup(self, batch: Batch, next_q: jax.Array, next_logp: jax.Array,
               temp: jax.Array) -> jax.Array:
        """r + gamma * d * (next_q - temp * log pi(a'|s')), without gradient.

        ``d`` is the batch's discount: the environment's (1 at a time-limit end, so such
        ends bootstrap; 0 at a terminal), times gamma**(n-1) for n-step returns.
        """
        bootstrap = self.config.discount * batch.discount
        target = batch.reward + bootstrap * next_q
        if self.config.backup_entropy:
            target = target - bootstrap * temp * next_logp
        return jax.lax.stop_gradient(target)

    def td_target(self, state: AgentState, batch: Batch, key: jax.Array,
                  dropout_key: jax.Array) -> jax.Array:
        """DroQ: r + gamma * d * (min_i Q'_i(s', a') - temp * log pi(a'|s')), a' ~ pi(s').

        The target critics run with dropout on (as in DroQ / robopianist-rl).
        """
        (mean, log_std), _ = self.actor_apply(state.actor, state.actor_stats, batch.next_obs)
        next_action, next_logp = tanh_gaussian_sample(key, mean, log_std)
        next_qs, _ = self.critic_apply(state.target_critic, {}, batch.next_obs, next_action,
                                       True, dropout_key)
        return self.backup(batch, next_qs.min(axis=0), next_logp, jnp.exp(state.log_temp))

    def critic_loss(self, params: Params, batch: Batch, target: jax.Array, key: jax.Array
                    ) -> tuple[jax.Array, jax.Array]:
        """DroQ: mean squared TD error over the ensemble and the batch; aux: mean Q."""
        qs, _ = self.critic_apply(params, {}, batch.obs, batch.action, True, key)
        return ((qs - target) ** 2).mean(), qs.mean()

    def crossq_critic_loss(self, params: Params, stats: Params, batch: Batch,
                           next_action: jax.Array, next_logp: jax.Array, temp: jax.Array,
                           key: jax.Array) -> tuple[jax.Array, tuple[jax.Array, Params]]:
        """CrossQ: one training-mode pass over [(s, a); (s', a')], target from the second
        half (stop-gradient); aux: mean Q and the updated batch statistics."""
        joint_obs = jax.tree.map(lambda x, y: jnp.concatenate([x, y]), batch.obs, batch.next_obs)
        joint_action = jnp.concatenate([batch.action, next_action])
        qs, stats = self.critic_apply(params, stats, joint_obs, joint_action, True, key)
        n = batch.action.shape[0]
        q, next_q = qs[:, :n], qs[:, n:]
        target = self.backup(batch, next_q.min(axis=0), next_logp, temp)
        return ((q - target) ** 2).mean(), (q.mean(), stats)

    def _critic_step(self, state: AgentState, batch: Batch, keys: jax.Array
                     ) -> tuple[AgentState, dict]:
        k_next, k_target_drop, k_critic_drop = keys
        if self.crossq:
            (mean, log_std), _ = self.actor_apply(state.actor, state.actor_stats, batch.next_obs)
            next_action, next_logp = tanh_gaussian_sample(k_next, mean, log_std)
            loss_fn = partial(self.crossq_critic_loss, stats=state.critic_stats, batch=batch,
                              next_action=next_action, next_logp=next_logp,
                              temp=jnp.exp(state.log_temp), key=k_critic_drop)
            (loss, (q_mean, critic_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                state.critic)
        else:
            target = self.td_target(state, batch, k_next, k_target_drop)
            loss_fn = partial(self.critic_loss, batch=batch, target=target, key=k_critic_drop)
            (loss, q_mean), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.critic)
            critic_stats = state.critic_stats
        updates, critic_opt = self.critic_tx.update(grads, state.critic_opt, state.critic)
        critic = optax.apply_updates(state.critic, updates)
        target_critic = (state.target_critic if self.crossq
                         else ema(critic, state.target_critic, self.config.tau))
        state = state.replace(critic=critic, critic_opt=critic_opt, target_critic=target_critic,
                              critic_stats=critic_stats)
        return state, {"critic_loss": loss, "q": q_mean}

    def _actor_step(self, state: AgentState, obs: Obs, keys: jax.Array) -> AgentState:
        """Actor step on the (updated) critics, then the temperature step."""
        k_actor, k_actor_drop = keys
        temp = jnp.exp(state.log_temp)

        # maximise E[Q - temp * log pi]: DroQ averages its (dropout-on) critics, CrossQ takes
        # the min of its critics in inference mode
        def actor_loss_fn(params: Params) -> tuple[jax.Array, tuple[jax.Array, Params]]:
            (mean, log_std), stats = self.actor_apply(params, state.actor_stats, obs, True)
            action, logp = tanh_gaussian_sample(k_actor, mean, log_std)
            qs, _ = self.critic_apply(state.critic, state.critic_stats, obs, action,
                                      not self.crossq, k_actor_drop)
            q = qs.min(axis=0) if self.crossq else qs.mean(axis=0)
            return (temp * logp - q).mean(), (-logp.mean(), stats)

        (actor_loss, (entropy, actor_stats)), grads = jax.value_and_grad(
            actor_loss_fn, has_aux=True)(state.actor)
        updates, actor_opt = self.actor_tx.update(grads, state.actor_opt, state.actor)
        actor = optax.apply_updates(state.actor, updates)

        # --- temperature: drive the entropy toward the target.
        def temp_loss_fn(log_temp: jax.Array) -> jax.Array:
            return jnp.exp(log_temp) * (entropy - self.target_entropy)

        temp_loss, grad = jax.value_and_grad(temp_loss_fn)(state.log_temp)
        if self.config.learnable_temperature:
            updates, temp_opt = self.temp_tx.update(grad, state.temp_opt, state.log_temp)
            log_temp = optax.apply_updates(state.log_temp, updates)
        else:
            temp_opt, log_temp = state.temp_opt, state.log_temp
        return state.replace(
            actor=actor, actor_opt=actor_opt, actor_stats=actor_stats, log_temp=log_temp,
            temp_opt=temp_opt,
            actor_metrics={"actor_loss": actor_loss, "entropy": entropy, "temp_loss": temp_loss})

    def _update_one(self, state: AgentState, batch: Batch) -> tuple[AgentState, dict]:
        rng, k_next, k_target_drop, k_critic_drop, k_actor, k_actor_drop = jax.random.split(
            state.rng, 6)
        temp = jnp.exp(state.log_temp)
        new, metrics = self._critic_step(state, batch, (k_next, k_target_drop, k_critic_drop))
        delay, burn_in = self.config.policy_delay, self.config.actor_burn_in
        if delay == 1 and burn_in == 0:
            new = self._actor_step(new, batch.obs, (k_actor, k_actor_drop))
        else:  # the actor and temperature learn on every ``delay``-th update (0, d, 2d, ...)
            # once the first ``burn_in`` updates (critics only) are done
            new = jax.lax.cond((state.step % delay == 0) & (state.step >= burn_in),
                               lambda s: self._actor_step(s, batch.obs, (k_actor, k_actor_drop)),
                               lambda s: s, new)
        new = new.replace(rng=rng, step=state.step + 1)
        return new, {**metrics, **new.actor_metrics, "temperature": temp}


def _variables(params: Params, stats: Params) -> dict[str, Params]:
    return {"params": params, "batch_stats": stats} if stats else {"params": params}


def ema(online: Params, target: Params, tau: float) -> Params:
    """Target-network update: target <- tau * online + (1 - tau) * target."""
    return jax.tree.map(lambda o, t: tau * o + (1.0 - tau) * t, online, target)


_init_jit = jax.jit(DroQ._init_impl, static_argnums=(0,))
_update_jit = jax.jit(DroQ._update_many, static_argnums=(0,), donate_argnums=(1,))
_act_jit = jax.jit(DroQ._act_impl, static_argnums=(0, 6))
