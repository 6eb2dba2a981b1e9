"""DroQ speed on this machine: gradient updates/s and full training steps/s.

Prints one table. Every row is measured in the same run, interleaved (A, B, C, A, B, C, ...)
so that load from other processes hits all variants alike; ratios are against the
``robopianist-rl`` row, a faithful re-implementation of robopianist-rl's SAC/DroQ update
(``nn.vmap`` critic ensemble, dense first layer over the 1144-d observation + action,
flax ``Dropout`` with threefry masks, update order critic -> actor -> temperature) with the
same shapes: batch 256, obs 1144 (165 real-valued + 979 binary goal bits), action 39.

    python benchmarks/droq_bench.py [--rounds 5] [--env fake|real] [--song twinkle] [--crossq]

``--crossq`` adds CrossQ rows (``DroQConfig.algorithm="crossq"``): the paper preset (critics
2x2048, actor 2x256, batch renorm, one joint critic pass over 2x256 rows) and the same with
2x256 critics. Note the schedules differ: RP1M's DroQ updates every 2 environment steps,
CrossQ every step (UTD 1), so per environment step CrossQ needs twice the updates/s.

The training-steps/s rows time ``training.rl.loop`` on an environment (default: the real
``pianoenv`` when it exists, else the fake one) with updates every ``update_interval`` steps.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from training.rl.agent import Batch, DroQ
from training.rl.config import PRESETS, DroQConfig
from training.rl.networks import Obs
from training.rl.replay import active_capacity, active_indices

BATCH, DENSE, BITS, ACTION = 256, 165, 979, 39


# ----------------------------------------------------------------- robopianist-rl reference
class _RefMLP(nn.Module):
    hidden_dims: tuple[int, ...]
    dropout_rate: float = 0.0
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x, training=False):
        for width in self.hidden_dims:
            x = nn.Dense(width, kernel_init=nn.initializers.xavier_uniform())(x)
            if self.dropout_rate > 0:
                x = nn.Dropout(self.dropout_rate)(x, deterministic=not training)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = nn.gelu(x)
        return x


class _RefQ(nn.Module):
    hidden_dims: tuple[int, ...]

    @nn.compact
    def __call__(self, obs, action, training=False):
        x = _RefMLP(self.hidden_dims, 0.01, True)(jnp.concatenate([obs, action], -1), training)
        return nn.Dense(1, kernel_init=nn.initializers.xavier_uniform())(x).squeeze(-1)


class _RefEnsemble(nn.Module):
    hidden_dims: tuple[int, ...]

    @nn.compact
    def __call__(self, obs, action, training=False):
        ens = nn.vmap(_RefQ, variable_axes={"params": 0}, split_rngs={"params": True, "dropout": True},
                      in_axes=None, out_axes=0, axis_size=2)
        return ens(self.hidden_dims)(obs, action, training)


class _RefActor(nn.Module):
    hidden_dims: tuple[int, ...]

    @nn.compact
    def __call__(self, obs):
        x = _RefMLP(self.hidden_dims)(obs)
        mean = nn.Dense(ACTION, kernel_init=nn.initializers.xavier_uniform())(x)
        log_std = jnp.clip(nn.Dense(ACTION, kernel_init=nn.initializers.xavier_uniform())(x), -20, 2)
        return mean, log_std


def _ref_sample(key, mean, log_std):
    eps = jax.random.normal(key, mean.shape)
    u = mean + jnp.exp(log_std) * eps
    logp = (-0.5 * eps**2 - log_std - 0.5 * jnp.log(2 * jnp.pi)).sum(-1)
    logp -= (2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))).sum(-1)
    return jnp.tanh(u), logp


def make_reference(seed: int = 0):
    """Returns (state, update) with robopianist-rl's update math and layout."""
    hidden = (256, 256, 256)
    actor_def, critic_def = _RefActor(hidden), _RefEnsemble(hidden)
    obs0, act0 = jnp.zeros((1, DENSE + BITS)), jnp.zeros((1, ACTION))
    k = jax.random.split(jax.random.PRNGKey(seed), 3)
    actor = actor_def.init(k[0], obs0)["params"]
    critic = critic_def.init(k[1], obs0, act0)["params"]
    tx = optax.adam(3e-4)
    state = {"actor": actor, "critic": critic, "target": jax.tree.map(jnp.copy, critic),
             "log_temp": jnp.zeros(()), "actor_opt": tx.init(actor), "critic_opt": tx.init(critic),
             "temp_opt": tx.init(jnp.zeros(())), "rng": k[2]}

    @jax.jit
    def update(s, obs, action, reward, discount, next_obs):
        rng, k1, k2, k3, k4, k5 = jax.random.split(s["rng"], 6)
        temp = jnp.exp(s["log_temp"])
        next_a, next_logp = _ref_sample(k1, *actor_def.apply({"params": s["actor"]}, next_obs))
        next_q = critic_def.apply({"params": s["target"]}, next_obs, next_a, True,
                                  rngs={"dropout": k2}).min(0)
        target = reward + 0.88 * discount * (next_q - temp * next_logp)

        def critic_loss(p):
            return ((critic_def.apply({"params": p}, obs, action, True, rngs={"dropout": k3})
                     - target) ** 2).mean()

        g = jax.grad(critic_loss)(s["critic"])
        upd, critic_opt = tx.update(g, s["critic_opt"])
        critic = optax.apply_updates(s["critic"], upd)
        target_p = optax.incremental_update(critic, s["target"], 0.05)

        def actor_loss(p):
            a, logp = _ref_sample(k4, *actor_def.apply({"params": p}, obs))
            q = critic_def.apply({"params": critic}, obs, a, True, rngs={"dropout": k5}).mean(0)
            return (logp * temp - q).mean(), -logp.mean()

        g, entropy = jax.grad(actor_loss, has_aux=True)(s["actor"])
        upd, actor_opt = tx.update(g, s["actor_opt"])
        actor = optax.apply_updates(s["actor"], upd)
        g = jax.grad(lambda lt: jnp.exp(lt) * (entropy + ACTION / 2))(s["log_temp"])
        upd, temp_opt = tx.update(g, s["temp_opt"])
        return {"actor": actor, "critic": critic, "target": target_p,
                "log_temp": optax.apply_updates(s["log_temp"], upd), "actor_opt": actor_opt,
                "critic_opt": critic_opt, "temp_opt": temp_opt, "rng": rng}

    return state, update


# ----------------------------------------------------------------- data
def _goal_bits(rng: np.random.Generator, n: int, active: int) -> np.ndarray:
    """Goal-like bits: ``active`` ones among the 968 key-goal bits, plus sustain bits."""
    bits = np.zeros((n, BITS), bool)
    for row in bits:
        row[rng.choice(968, active, replace=False)] = True
        row[968 + rng.choice(11, 2, replace=False)] = True
    return bits


def make_batches(rng: np.random.Generator, n: int, active: int):
    out = []
    for _ in range(n):
        dense, nxt = (rng.random((BATCH, DENSE), np.float32) for _ in range(2))
        bits, nbits = _goal_bits(rng, BATCH, active), _goal_bits(rng, BATCH, active)
        action = rng.uniform(-1, 1, (BATCH, ACTION)).astype(np.float32)
        reward = rng.random(BATCH, np.float32)
        out.append((dense, bits, action, reward, np.ones(BATCH, np.float32), nxt, nbits))
    return out


def timed(fn, repeats: int) -> float:
    """Median seconds per call of ``fn`` (which must block)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def agent_rows(crossq: bool) -> list[tuple[str, DroQConfig, int]]:
    """(label, agent config, updates per call) of the rows timed with our agent."""
    rows = [("ours, dense first layer", DroQConfig(sparse_goals=False), 1),
            ("ours, sparse goals", DroQConfig(), 1),
            ("ours, sparse goals, scan of 2", DroQConfig(), 2)]
    if crossq:
        preset = DroQConfig(**PRESETS["crossq"].agent)
        rows += [("CrossQ preset (critics 2x2048), sparse goals", preset, 1),
                 ("CrossQ, critics 2x256, sparse goals",
                  preset.replace(critic_hidden_dims=(256, 256)), 1)]
    return rows


def bench_updates(rounds: int, repeats: int, active: int, crossq: bool = False
                  ) -> dict[str, float]:
    rng = np.random.default_rng(0)
    raw = make_batches(rng, 4, active)
    variants = {}

    ref_state, ref_update = make_reference()
    d, b, a, r, disc, nd, nb = raw[0]
    ref_args = tuple(jnp.asarray(x) for x in (np.concatenate([d, b], 1), a, r, disc,
                                              np.concatenate([nd, nb], 1)))
    holder = {"ref": ref_state}

    def run_ref():
        holder["ref"] = ref_update(holder["ref"], *ref_args)
        jax.block_until_ready(holder["ref"])
    variants["robopianist-rl (reference)"] = (run_ref, 1)

    for label, agent_config, n in agent_rows(crossq):
        agent = DroQ(agent_config, DENSE, BITS, ACTION)
        holder[label] = agent.init(0)
        batches = []
        for d, b, a, r, disc, nd, nb in raw[:n]:
            cap = active_capacity(max(int(b.sum(1).max()), int(nb.sum(1).max())))
            batches.append(Batch(Obs(d, active_indices(b, cap)), a, r, disc,
                                 Obs(nd, active_indices(nb, cap))))
        stacked = jax.tree.map(lambda *x: jnp.asarray(np.stack(x)), *batches)

        def run(agent=agent, label=label, stacked=stacked):
            holder[label], _ = agent.update(holder[label], stacked)
            jax.block_until_ready(holder[label])
        variants[label] = (run, n)

    for run, _ in variants.values():  # compile
        run()
    rates: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(rounds):
        for label, (run, n) in variants.items():
            rates[label].append(n / timed(run, repeats))
    return {label: statistics.median(v) for label, v in rates.items()}


def bench_training(song: str, steps: int, warmup: int) -> dict[str, float]:
    """Steps/s of the training loop's pieces on the real environment (Table 4 agent, one
    update every 2 steps), timed per piece; plus environment-only steps/s."""
    from training.rl.envwrap import make_env
    from training.rl.replay import ReplayBuffer
    from training.rl.policy import ActiveCapacity, obs_batch

    env = make_env(song, "shadow_five", "ot", np.random.default_rng(0))
    agent = DroQ(DroQConfig(), env.layout.dense_dim, env.layout.num_bits, env.action_dim)
    state = agent.init(0)
    replay = ReplayBuffer(steps + warmup + 100, env.layout, env.action_dim, seed=0)
    rng, key, width = np.random.default_rng(0), jax.random.PRNGKey(0), ActiveCapacity()
    timers = {"env.step": 0.0, "act": 0.0, "replay": 0.0, "update": 0.0}
    timestep = env.reset()
    replay.add_first(*timestep.observation)
    start = None
    for step in range(1, warmup + steps + 1):
        if step == warmup + 1:
            timers = dict.fromkeys(timers, 0.0)
            start = time.perf_counter()
        t0 = time.perf_counter()
        if step <= warmup // 2:
            action = rng.uniform(-1, 1, env.action_dim).astype(np.float32)
        else:
            obs = obs_batch(timestep.observation, width(timestep.observation))
            action = np.asarray(agent.act(state, obs, key, step))[0]
        t1 = time.perf_counter()
        timestep = env.step(action)
        t2 = time.perf_counter()
        replay.add(action, float(timestep.reward), float(timestep.discount), *timestep.observation)
        if timestep.last():
            replay.end_episode()
            timestep = env.reset()
            replay.add_first(*timestep.observation)
        t3 = time.perf_counter()
        if step > warmup // 2 and step % 2 == 0:
            state, _ = agent.update(state, replay.sample(BATCH, 1))
            jax.block_until_ready(state)
        t4 = time.perf_counter()
        for name, dt in zip(timers, (t2 - t1, t1 - t0, t3 - t2, t4 - t3)):
            timers[name] += dt
    total = time.perf_counter() - start
    out = {"training steps/s (env + act + replay + update every 2)": steps / total}
    out.update({f"  ms per step in {k}": 1e3 * v / steps for k, v in timers.items()})
    random_env = make_env(song, "shadow_five", "ot", np.random.default_rng(1))
    timestep, t0, n = random_env.reset(), time.perf_counter(), 0
    while n < 600:
        timestep = random_env.step(rng.uniform(-1, 1, random_env.action_dim))
        n += 1
        if timestep.last():
            random_env.reset()
    out["environment-only steps/s (random actions)"] = n / (time.perf_counter() - t0)
    out["replay bytes/transition"] = replay.bytes_per_transition
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--active", type=int, default=20, help="active goal bits per observation")
    parser.add_argument("--song", default="twinkle")
    parser.add_argument("--train-steps", type=int, default=600,
                        help="timed training steps on the real environment (0: skip)")
    parser.add_argument("--crossq", action="store_true",
                        help="also time CrossQ updates (paper preset and 2x256 critics)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs, "
          f"load average at start {load:.2f}")
    rates = bench_updates(args.rounds, args.repeats, args.active, args.crossq)
    base = rates["robopianist-rl (reference)"]
    print(f"\n{'gradient updates (batch 256, obs 1144, act 39)':<56} {'updates/s':>10} {'ratio':>7}")
    for label, rate in rates.items():
        print(f"{label:<56} {rate:10.1f} {rate / base:7.2f}")
    flops = update_flops()
    best = max(rates.values())
    print(f"{'  model FLOPs per update (ours / reference)':<56} {flops['ours'] / 1e9:6.2f} / "
          f"{flops['reference'] / 1e9:.2f} GFLOP")
    print(f"{'  achieved (fastest row)':<56} {best * flops['ours'] / 1e9:10.1f} GFLOP/s")
    if args.train_steps:
        print()
        for label, value in bench_training(args.song, args.train_steps, 400).items():
            print(f"{label:<56} {value:10.1f}")
        layout_bytes = 948
        print(f"{'1M-transition replay, shadow_five (ours)':<56} "
              f"{1e6 * (1 + 1 / 550) * layout_bytes / 2**30:9.2f} GiB")
        print(f"{'1M-transition replay, robopianist-rl (obs+next_obs f32)':<56} "
              f"{1e6 * (2 * 1144 * 4 + 39 * 4 + 8) / 2**30:9.2f} GiB")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


def update_flops(batch: int = BATCH, hidden: int = 256, active: int = 20) -> dict[str, float]:
    """Multiply-add FLOPs (x2) of one DroQ update, counted layer by layer.

    Passes per update: critics - target forward, forward + weight grads + input grads
    (critic loss), forward + input grads (actor loss); actor - forward on s', forward +
    weight grads + input grads on s. The first layer never needs input gradients.
    """
    def net(first_in: int, heads: int, members: int, fwd: int, wgrad: int, igrad: int) -> float:
        first = first_in * hidden
        rest = 2 * hidden * hidden + hidden * heads
        return 2 * batch * members * (first * (fwd + wgrad) + rest * (fwd + wgrad + igrad))

    ours_first_c, ours_first_a = (DENSE + ACTION) + active, DENSE + active  # gathered rows ~ adds
    ref_first_c, ref_first_a = DENSE + BITS + ACTION, DENSE + BITS
    ours = net(ours_first_c, 1, 2, 3, 1, 2) + net(ours_first_a, 2 * ACTION, 1, 2, 1, 1)
    ref = net(ref_first_c, 1, 2, 3, 1, 2) + net(ref_first_a, 2 * ACTION, 1, 2, 1, 1)
    return {"ours": ours, "reference": ref}


if __name__ == "__main__":
    main()
