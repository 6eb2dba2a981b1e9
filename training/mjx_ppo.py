"""PPO on the MJX piano environment (RP1M Fig. 5's "PPO + MJX" arm), in one module.

purejaxrl / Brax style: an iteration is two jitted functions, a rollout of
``rollout_length`` steps in ``num_envs`` parallel pianos and the update (GAE, then
``update_epochs`` x ``num_minibatches`` clipped-PPO steps); Python only loops over
iterations, logs, evaluates and checkpoints between them.

Run directory: the CPU trainer's layout (``training.rl.loop.RunPaths``): ``config.json`` (a
``TrainConfig`` naming song, hand, fingering, seed, env arguments and the actor's network
sizes), ``train.csv``, ``episodes.csv``, ``eval.csv``, ``tb/``, ``checkpoints/``,
``f1_curve.png``, ``summary.json``, plus ``ppo_config.json`` (this module's config).

Evaluation: one deterministic episode in the MJX environment every ``eval_interval`` steps
(``eval.csv``), run through the same jitted rollout as training (XLA compiles the physics
once per program: minutes on a small CPU). That rollout steps all ``num_envs`` pianos, so
an evaluation costs ``num_envs x song length`` simulated steps (identical copies without
initial noise; they are not counted as training steps): keep ``eval_interval`` well above
that (the default 4M against 1024 x 600 for Twinkle).

Checkpoints and ``pianohands eval``: the policy is the DroQ actor of
``training.rl.networks.Actor`` (MLP, tanh-squashed Gaussian), so a checkpoint is a DroQ
``AgentState`` whose ``actor`` holds the PPO-trained parameters (the critic fields hold a
fresh initialisation and are not used by a policy). ``pianohands eval RUN`` therefore
plays a PPO run's policy on the CPU environment (full solver) without knowing it came
from MJX: a sim-to-sim check of the RP1M physics settings for free. The PPO value network
and optimiser state live in ``checkpoints/ppo_<step>.msgpack`` next to it.

Choices (Brax PPO's defaults where RP1M is silent): the log-probability ratio uses the
pre-tanh sample (the tanh Jacobian cancels in the ratio); the entropy bonus is the
Gaussian's; time-limit truncation (every piano episode ends by time) is not bootstrapped
across the reset and the truncated step's TD error is masked (Brax's ``compute_gae``);
observations are not normalised (goals are 0/1, key states in [0, 1], positions in
metres and radians, all O(1)). Not resumable (a new run each time).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from handspec.atomic import write_bytes as atomic_write_bytes
from handspec.atomic import write_text as atomic_write_text
from handspec.errors import InputError
from training import checkpoint as ckpt
from training.rl.agent import DroQ
from training.rl.config import FINGERING_MODES, DroQConfig, TrainConfig
from training.rl.loop import RunPaths
from training.rl.networks import Actor, Obs
from training.runlog import CsvLog, Scalars, plot_f1_curve


@dataclass(frozen=True)
class PPOConfig:
    """One PPO run on the MJX environment. Sizes are Brax PPO's usual ones for 1-4k envs."""

    song: str = "twinkle"
    hand: str = "shadow_five"
    fingering: str = "ot"
    seed: int = 0
    steps: int = 40_000_000            # environment steps in total (RP1M Fig. 5: 40M)
    num_envs: int = 1024               # RP1M A.4's batch
    rollout_length: int = 20
    num_minibatches: int = 32
    update_epochs: int = 4
    learning_rate: float = 3e-4
    discount: float = 0.95
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    entropy_coef: float = 1e-3
    value_coef: float = 0.5
    max_grad_norm: float = 1.0
    reward_scale: float = 1.0
    hidden_dims: tuple[int, ...] = (256, 256, 256)
    activation: str = "silu"
    init_log_std: float = -0.5         # bias of the actor's log-std head at the start
    eval_interval: int = 4_000_000     # environment steps between deterministic evaluations
    checkpoint_interval: int = 5_000_000
    keep_checkpoints: int = 2
    mjx_iterations: int = 2            # RP1M A.4 (pianoenv.mjx.MjxConfig)
    mjx_ls_iterations: int = 6
    max_contact_points: int = 20
    max_geom_pairs: int = 256
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> PPOConfig:
        for name in ("steps", "num_envs", "rollout_length", "num_minibatches", "update_epochs",
                     "eval_interval", "checkpoint_interval", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise InputError(f"must be >= 1, got {getattr(self, name)}", field=name)
        if (self.num_envs * self.rollout_length) % self.num_minibatches:
            raise InputError(f"num_envs x rollout_length ({self.num_envs * self.rollout_length}) "
                             f"must divide into {self.num_minibatches} minibatches",
                             field="num_minibatches")
        if self.fingering not in FINGERING_MODES:
            raise InputError(f"unknown fingering {self.fingering!r}", field="fingering")
        return self

    @property
    def steps_per_iteration(self) -> int:
        return self.num_envs * self.rollout_length

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"hidden_dims": list(self.hidden_dims)}

    def train_config(self) -> TrainConfig:
        """The ``TrainConfig`` written as ``config.json``: what ``pianohands eval`` reads."""
        agent = DroQConfig(hidden_dims=tuple(self.hidden_dims), activation=self.activation)
        return TrainConfig(song=self.song, hand=self.hand, fingering=self.fingering,
                           seed=self.seed, steps=self.steps, env_kwargs=dict(self.env_kwargs),
                           agent=agent)


class ValueNet(nn.Module):
    hidden_dims: tuple[int, ...]
    activation: str

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        act = {"silu": nn.silu, "gelu": nn.gelu, "relu": nn.relu, "tanh": jnp.tanh,
               "elu": nn.elu}[self.activation]
        x = obs
        for width in self.hidden_dims:
            x = act(nn.Dense(width)(x))
        return nn.Dense(1)(x)[..., 0]


class Transition(NamedTuple):
    obs: jax.Array
    pre_tanh: jax.Array
    logp: jax.Array
    value: jax.Array
    reward: jax.Array
    truncation: jax.Array


@flax.struct.dataclass
class TrainState:
    actor: Any
    critic: Any
    opt: Any
    env_state: Any
    rng: jax.Array


def _gaussian_logp(u: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    z = (u - mean) * jnp.exp(-log_std)
    return (-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


class PPO:
    """The static parts (environment, networks, optimiser) and the jitted iteration."""

    def __init__(self, config: PPOConfig, env):
        self.config, self.env = config.validate(), env
        sizes, binary = env.observation_sizes, set(env.binary_observation_keys)
        index, dense_idx, bit_idx = 0, [], []
        for key, n in sizes.items():
            (bit_idx if key in binary else dense_idx).extend(range(index, index + n))
            index += n
        self.dense_idx, self.bit_idx = np.asarray(dense_idx), np.asarray(bit_idx)
        self.num_bits = len(bit_idx)
        self.capacity = max(1, _max_active_bits(env))
        self.actor_def = Actor(tuple(config.hidden_dims), self.num_bits, env.action_dim,
                               config.activation, sparse=False)
        self.critic_def = ValueNet(tuple(config.hidden_dims), config.activation)
        self.tx = optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                              optax.adam(config.learning_rate))
        self.low, self.high = jnp.asarray(env.action_min), jnp.asarray(env.action_max)
        self.rollout = jax.jit(self._rollout)
        self.update = jax.jit(self._update)
        self.reset_batch = jax.jit(jax.vmap(env.reset))

    # ----------------------------------------------------------------- pieces
    def split(self, obs: jax.Array) -> Obs:
        """Flat observations (B, D) -> the actor's (dense, active bit indices)."""
        dense = obs[:, self.dense_idx]
        if self.num_bits == 0:
            return Obs(dense, jnp.zeros((obs.shape[0], 1), jnp.int32))
        bits = obs[:, self.bit_idx]
        values, idx = jax.lax.top_k(bits, self.capacity)
        return Obs(dense, jnp.where(values > 0.5, idx, self.num_bits).astype(jnp.int32))

    def to_env_action(self, canonical: jax.Array) -> jax.Array:
        return self.low + (jnp.clip(canonical, -1, 1) + 1.0) * 0.5 * (self.high - self.low)

    def init(self, seed: int) -> TrainState:
        rng = jax.random.PRNGKey(seed)
        rng, k_actor, k_critic, k_env = jax.random.split(rng, 4)
        obs = jnp.zeros((1, self.env.obs_dim))
        actor = self.actor_def.init(k_actor, self.split(obs))["params"]
        actor["log_std"]["bias"] = jnp.full_like(actor["log_std"]["bias"], self.config.init_log_std)
        critic = self.critic_def.init(k_critic, obs)["params"]
        env_state = self.reset_batch(jax.random.split(k_env, self.config.num_envs))
        return TrainState(actor, critic, self.tx.init((actor, critic)), env_state, rng)

    def _env_step(self, env_state, action, key):
        """vmapped step; envs whose episode ended restart (all at once: same song length)."""
        nxt = jax.vmap(self.env.step)(env_state, action)
        done = nxt.done > 0

        def restart(_):
            fresh = jax.vmap(self.env.reset)(jax.random.split(key, done.shape[0]))
            keep = lambda new, old: jnp.where(  # noqa: E731
                done.reshape(done.shape + (1,) * (new.ndim - 1)), new, old)
            return jax.tree.map(keep, fresh.replace(reward=nxt.reward, done=nxt.done,
                                                    metrics=nxt.metrics), nxt)

        return jax.lax.cond(done.any(), restart, lambda _: nxt, None), nxt

    # ----------------------------------------------------------------- one iteration
    def _rollout(self, actor, critic, env_state, rng, deterministic):
        """``rollout_length`` steps in every env: the only program holding the physics, so
        training and evaluation share one compilation (minutes on a CPU)."""
        cfg = self.config

        def rollout_step(carry, _):
            env_state, rng = carry
            rng, k_act, k_reset = jax.random.split(rng, 3)
            obs = env_state.obs
            mean, log_std = self.actor_def.apply({"params": actor}, self.split(obs))
            noise = jax.random.normal(k_act, mean.shape) * (1.0 - deterministic)
            u = mean + jnp.exp(log_std) * noise
            value = self.critic_def.apply({"params": critic}, obs)
            env_state, ended = self._env_step(env_state, self.to_env_action(jnp.tanh(u)), k_reset)
            info, steps = ended.info, jnp.maximum(ended.info["t"], 1)
            episode = {"done": ended.done, "f1": info["sum_f1"] / steps,
                       "precision": info["sum_precision"] / steps,
                       "recall": info["sum_recall"] / steps,
                       **{f"reward/{k}": v for k, v in ended.metrics.items()}}
            tr = Transition(obs, u, _gaussian_logp(u, mean, log_std), value,
                            ended.reward * cfg.reward_scale, info["truncation"])
            return (env_state, rng), (tr, episode)

        (env_state, rng), (traj, episode) = jax.lax.scan(
            rollout_step, (env_state, rng), None, cfg.rollout_length)
        last_value = self.critic_def.apply({"params": critic}, env_state.obs)
        return env_state, rng, traj, episode, last_value

    def iteration(self, ts: TrainState):
        """Collect ``num_envs x rollout_length`` steps, then update: (new state, metrics)."""
        env_state, rng, traj, episode, last_value = self.rollout(
            ts.actor, ts.critic, ts.env_state, ts.rng, jnp.float32(0.0))
        params, opt, rng, metrics = self.update(ts.actor, ts.critic, ts.opt, rng, traj, episode,
                                                last_value)
        return TrainState(params[0], params[1], opt, env_state, rng), metrics

    def _update(self, actor, critic, opt, rng, traj, episode, last_value):
        cfg = self.config
        advantages, targets = _gae(traj, last_value, cfg.discount, cfg.gae_lambda)

        def epoch(carry, _):
            params, opt, rng = carry
            rng, k_perm = jax.random.split(rng)
            n = cfg.steps_per_iteration
            perm = jax.random.permutation(k_perm, n)
            flat = jax.tree.map(lambda x: x.reshape((n,) + x.shape[2:]),
                                (traj, advantages, targets))
            batches = jax.tree.map(
                lambda x: x[perm].reshape((cfg.num_minibatches, -1) + x.shape[1:]), flat)

            def minibatch(carry, batch):
                params, opt = carry
                (_, aux), grads = jax.value_and_grad(self._loss, has_aux=True)(params, *batch)
                updates, opt = self.tx.update(grads, opt, params)
                return (optax.apply_updates(params, updates), opt), aux

            (params, opt), aux = jax.lax.scan(minibatch, (params, opt), batches)
            return (params, opt, rng), aux

        (params, opt, rng), aux = jax.lax.scan(epoch, ((actor, critic), opt, rng), None,
                                               cfg.update_epochs)
        ended = episode["done"] > 0
        count = ended.sum()
        ep_stats = {k: jnp.where(ended, v, 0.0).sum() / jnp.maximum(count, 1)
                    for k, v in episode.items() if k != "done"}
        step_terms = {k: v.mean() for k, v in episode.items() if k.startswith("reward/")}
        return params, opt, rng, {"losses": jax.tree.map(jnp.mean, aux), "episodes": count,
                                  "episode": ep_stats, "terms": step_terms}

    def _loss(self, params, traj: Transition, advantages, targets):
        cfg = self.config
        actor, critic = params
        mean, log_std = self.actor_def.apply({"params": actor}, self.split(traj.obs))
        logp = _gaussian_logp(traj.pre_tanh, mean, log_std)
        ratio = jnp.exp(logp - traj.logp)
        adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy = -jnp.minimum(ratio * adv,
                              jnp.clip(ratio, 1 - cfg.clip_eps, 1 + cfg.clip_eps) * adv).mean()
        value = self.critic_def.apply({"params": critic}, traj.obs)
        value_loss = 0.5 * jnp.square(value - targets).mean()
        entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1).mean()
        loss = policy + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
        return loss, {"policy_loss": policy, "value_loss": value_loss, "entropy": entropy,
                      "approx_kl": ((ratio - 1) - jnp.log(ratio)).mean(),
                      "clip_frac": (jnp.abs(ratio - 1) > cfg.clip_eps).mean()}

    # ----------------------------------------------------------------- evaluation
    def evaluate_policy(self, actor, critic, key) -> dict[str, float]:
        """One deterministic episode (tanh of the mean) per env, through the training
        rollout program; the metrics and mean reward terms of env 0's first episode."""
        env_state = self.reset_batch(jax.random.split(key, self.config.num_envs))
        rewards, terms, ended = [], [], None
        for _ in range(-(-self.env.num_steps // self.config.rollout_length)):
            env_state, key, traj, episode, _ = self.rollout(actor, critic, env_state, key,
                                                            jnp.float32(1.0))
            episode = jax.device_get(episode)
            done = np.flatnonzero(episode["done"][:, 0] > 0)
            stop = int(done[0]) + 1 if done.size else self.config.rollout_length
            rewards.append(np.asarray(traj.reward)[:stop, 0])
            terms.append({k: v[:stop, 0] for k, v in episode.items() if k.startswith("reward/")})
            if done.size:
                ended = {k: float(v[done[0], 0]) for k, v in episode.items()}
                break
        if ended is None:
            raise RuntimeError("the evaluation episode did not end")  # num_steps is finite
        length = sum(len(r) for r in rewards)
        return {"f1": ended["f1"], "precision": ended["precision"], "recall": ended["recall"],
                "return": float(np.concatenate(rewards).sum()) / self.config.reward_scale,
                "length": length,
                **{k: float(np.concatenate([t[k] for t in terms]).mean())
                   for k in sorted(terms[0])}}


def _gae(traj: Transition, last_value, discount: float, lam: float):
    """GAE with truncation masking (Brax): no bootstrapping across an episode's time limit."""
    def body(carry, x):
        adv, next_value = carry
        reward, value, trunc = x
        mask = 1.0 - trunc
        delta = (reward + discount * next_value - value) * mask
        adv = delta + discount * lam * mask * adv
        return (adv, value), adv

    _, adv = jax.lax.scan(body, (jnp.zeros_like(last_value), last_value),
                          (traj.reward, traj.value, traj.truncation), reverse=True)
    return adv, adv + traj.value


def _max_active_bits(env) -> int:
    """The most 1s any observation of this song has in its binary parts (top-k capacity)."""
    sizes, binary = env.observation_sizes, env.binary_observation_keys
    ref = env.reference
    L = env.lookahead + 1
    windows = np.lib.stride_tricks.sliding_window_view
    count = windows(ref._goal_pad.sum(axis=1), L).sum(axis=1)
    if "sustain_goal" in binary:
        count = count + windows(ref._sustain_pad, L).sum(axis=1)
    if "fingering" in binary and sizes.get("fingering"):
        count = count + windows(ref._finger_pad.sum(axis=1), L).sum(axis=1)
    return int(count.max(initial=0))


def make_env(config: PPOConfig):
    """The MJX environment for a config (bad song/hand names are ``InputError``s)."""
    from handspec.load import load_hand
    from pianoenv.mjx import MjxConfig, MjxPianoEnv
    from pianoenv.songs import load_goals

    kwargs = dict(config.env_kwargs)
    max_steps = kwargs.pop("max_steps", None)
    goals = load_goals(config.song).head(max_steps)
    mjx_config = MjxConfig(config.mjx_iterations, config.mjx_ls_iterations,
                           config.max_contact_points, config.max_geom_pairs)
    try:
        return MjxPianoEnv(goals, load_hand(config.hand), fingering=config.fingering,
                           config=mjx_config, **kwargs)
    except TypeError as exc:
        raise InputError(str(exc), field="env_kwargs") from None


def train(config: PPOConfig, out: str | Path, *, progress: bool = True,
          tensorboard: bool = True, time_budget_s: float | None = None) -> dict[str, Any]:
    """Train PPO on MJX into run directory ``out`` (the CPU trainer's layout).

    ``time_budget_s`` stops after the iteration that crosses it (then evaluates and saves).
    """
    config = config.validate()
    paths = RunPaths(Path(out))
    if paths.config.exists():
        raise InputError("run directory already holds a run (PPO runs do not resume); "
                         "choose another --out", file=paths.root, field="--out")
    env = make_env(config)
    ppo = PPO(config, env)
    paths.root.mkdir(parents=True, exist_ok=True)
    train_cfg = config.train_config()
    train_cfg.save(paths.config)
    atomic_write_text(paths.root / "ppo_config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    droq = DroQ(train_cfg.agent, len(ppo.dense_idx), ppo.num_bits, env.action_dim)
    template = droq.init(config.seed)

    train_log, episode_log, eval_log = (CsvLog(paths.train_csv), CsvLog(paths.episodes_csv),
                                        CsvLog(paths.eval_csv))
    scalars = Scalars(paths.tensorboard, enabled=tensorboard)
    start = time.perf_counter()
    ts = ppo.init(config.seed)
    iterations = max(1, config.steps // config.steps_per_iteration)
    step, next_eval, next_ckpt, best_f1, last_eval = 0, 0, config.checkpoint_interval, -1.0, None
    eval_key = jax.random.PRNGKey(config.seed + 1)

    def evaluate() -> dict[str, Any]:
        nonlocal best_f1, last_eval
        row = {"step": step, **ppo.evaluate_policy(ts.actor, ts.critic, eval_key)}
        eval_log.write(row)
        scalars.add({f"eval/{k}": v for k, v in row.items() if k != "step"}, step)
        best_f1, last_eval = max(best_f1, row["f1"]), row
        return row

    def save() -> None:
        state = template.replace(actor=ts.actor)
        meta = {"episode": 0, "updates": it + 1, "elapsed": time.perf_counter() - start,
                "best_f1": best_f1, "last_eval": last_eval, "config": train_cfg.to_dict(),
                "backend": "mjx", "algorithm": "ppo", "ppo_config": config.to_dict()}
        ckpt.save_checkpoint(paths.checkpoints, step, state, meta, keep=config.keep_checkpoints)
        blob = flax.serialization.msgpack_serialize(jax.tree.map(
            np.asarray, flax.serialization.to_state_dict({"critic": ts.critic, "opt": ts.opt})))
        atomic_write_bytes(paths.checkpoints / f"ppo_{step:010d}.msgpack", blob)
        for old in sorted(paths.checkpoints.glob("ppo_*.msgpack"))[:-config.keep_checkpoints]:
            old.unlink(missing_ok=True)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=iterations * config.steps_per_iteration, unit="step", dynamic_ncols=True)
    compile_s, it = None, -1
    try:
        for it in range(iterations):
            if step >= next_eval:
                evaluate()
                next_eval += config.eval_interval
            t0 = time.perf_counter()
            ts, out_metrics = ppo.iteration(ts)
            out_metrics = jax.tree.map(float, jax.device_get(out_metrics))
            if compile_s is None:
                compile_s = time.perf_counter() - t0
            step += config.steps_per_iteration
            elapsed = time.perf_counter() - start
            row = {"step": step, "iteration": it + 1, "wall_s": elapsed,
                   "steps_per_s": config.steps_per_iteration / (time.perf_counter() - t0),
                   **out_metrics["losses"], **out_metrics["terms"]}
            train_log.write(row)
            scalars.add({f"train/{k}": v for k, v in row.items() if k != "step"}, step)
            if out_metrics["episodes"] > 0:
                ep = {"step": step, "episodes": int(out_metrics["episodes"]), "wall_s": elapsed,
                      **out_metrics["episode"]}
                episode_log.write(ep)
                scalars.add({f"episode/{k}": v for k, v in ep.items() if k != "step"}, step)
            if bar is not None:
                bar.update(config.steps_per_iteration)
                bar.set_postfix(f1=None if last_eval is None else round(last_eval["f1"], 3))
            if step >= next_ckpt:
                save()
                next_ckpt += config.checkpoint_interval
            if time_budget_s is not None and elapsed >= time_budget_s:
                break
        evaluate()
        save()
    finally:
        if bar is not None:
            bar.close()
        scalars.close()
    rows = eval_log.rows()
    plot = plot_f1_curve(rows, paths.f1_curve,
                         title=f"{config.song} / {config.hand} / PPO+MJX / seed {config.seed}")
    elapsed = time.perf_counter() - start
    summary = {"song": config.song, "hand": config.hand, "fingering": config.fingering,
               "seed": config.seed, "backend": "mjx", "algorithm": "ppo", "steps": step,
               "target_steps": config.steps, "iterations": it + 1, "num_envs": config.num_envs,
               "wall_time_s": round(elapsed, 2), "first_iteration_s": round(compile_s or 0.0, 2),
               "steps_per_s": round(step / elapsed, 1), "last_eval": last_eval,
               "best_eval_f1": best_f1,
               "eval_curve": [{"step": int(float(r["step"])), "f1": float(r["f1"]),
                               } for r in rows],
               "device": str(jax.devices()[0]), "f1_curve": str(plot) if plot else None}
    atomic_write_text(paths.summary, json.dumps(summary, indent=2) + "\n")
    return summary


def from_train_config(train_config: TrainConfig, **overrides: Any) -> PPOConfig:
    """A PPO config for ``pianohands train --backend mjx``: the run fields (song, hand,
    fingering, seed, steps, evaluation and checkpoint schedule, env arguments) and the
    network's hidden sizes and activation come from the CPU trainer's config; the PPO and
    MJX settings are this module's defaults (``python -m training.mjx_ppo`` sets them all)."""
    tc = train_config
    return PPOConfig(song=tc.song, hand=tc.hand, fingering=tc.fingering, seed=tc.seed,
                     steps=tc.steps, hidden_dims=tuple(tc.agent.hidden_dims),
                     activation=tc.agent.activation, eval_interval=tc.eval_interval,
                     checkpoint_interval=tc.checkpoint_interval,
                     keep_checkpoints=tc.keep_checkpoints, env_kwargs=dict(tc.env_kwargs),
                     **overrides).validate()


def main(argv: list[str] | None = None) -> int:
    """``python -m training.mjx_ppo --out DIR [--FIELD VALUE ...]``: every PPOConfig field."""
    import argparse

    from training.jaxcache import enable_compilation_cache

    parser = argparse.ArgumentParser(description="PPO on the MJX piano environment")
    parser.add_argument("--out", required=True)
    parser.add_argument("--time-budget", type=float, default=None, help="seconds")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--no-tensorboard", action="store_true")
    defaults = PPOConfig()
    for f in dataclasses.fields(PPOConfig):
        value = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if f.name == "hidden_dims":
            parser.add_argument(flag, default=",".join(map(str, value)))
        elif f.name == "env_kwargs":
            parser.add_argument("--env-arg", action="append", default=[], metavar="KEY=JSON")
        else:
            parser.add_argument(flag, type=type(value), default=value)
    args = vars(parser.parse_args(argv))
    enable_compilation_cache()
    fields = {f.name for f in dataclasses.fields(PPOConfig)}
    kwargs = {k: v for k, v in args.items() if k in fields}
    kwargs["hidden_dims"] = tuple(int(x) for x in args["hidden_dims"].split(","))
    kwargs["env_kwargs"] = {k: json.loads(v) for k, _, v in (a.partition("=") for a in args["env_arg"])}
    try:
        summary = train(PPOConfig(**kwargs), args["out"], progress=not args["no_progress"],
                        tensorboard=not args["no_tensorboard"], time_budget_s=args["time_budget"])
    except InputError as exc:
        print(f"error: {exc.one_line()}", flush=True)
        return 2
    print(json.dumps({k: summary[k] for k in ("steps", "wall_time_s", "steps_per_s",
                                              "first_iteration_s", "best_eval_f1")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
