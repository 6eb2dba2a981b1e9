"""Roll out a policy and write the episodes as an RP1M-style demonstration file.

The collector works with any ``policy(timestep) -> action`` (actions in the environment's
own units, i.e. ``env.action_spec()``): a trained DroQ specialist loaded from its run
directory (``load_policy``), or a baseline (``baseline_policy``: random / zero). A policy
may define ``reset(seed)``; it is called before every episode with that episode's seed, so
episode ``i`` is the same whether the collection ran in one go or was killed and resumed.

    env, policy, info = load_policy("runs/twinkle0")
    collect(env, policy, "data/twinkle0.h5", episodes=500, policy_info=info)

``collect`` is resumable: it continues after the demos already committed to ``out`` (see
``training.dataset.DemoWriter`` for the crash-safety argument).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import dm_env
import numpy as np

from handspec.errors import InputError
from training.dataset import CONTACT_DTYPE, DatasetMeta, DemoWriter, Episode, episode_seed


@runtime_checkable
class Policy(Protocol):
    """Maps a dm_env ``TimeStep`` of a pianoenv environment to an action in its units."""

    def __call__(self, timestep: dm_env.TimeStep) -> np.ndarray: ...


# --------------------------------------------------------------------------- policies
class BaselinePolicy:
    """Uniform random actions, or holding the home pose (``pianoenv.env_cli.make_policy``),
    reseeded per episode so collections are reproducible."""

    def __init__(self, env: Any, kind: str):
        if kind not in ("random", "zero"):
            raise InputError(f"unknown baseline {kind!r}; one of random, zero", field="RUN")
        self.kind = kind
        spec = env.action_spec()
        self._lo, self._hi = np.asarray(spec.minimum, np.float32), np.asarray(spec.maximum, np.float32)
        self._rng = np.random.default_rng(0)
        self._hold: np.ndarray | None = None
        if kind == "zero":
            self._hold = np.asarray(env.home_action(), np.float32)

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def __call__(self, timestep: dm_env.TimeStep) -> np.ndarray:
        if self._hold is not None:
            return self._hold
        return self._rng.uniform(self._lo, self._hi).astype(np.float32)


class DroQPolicy:
    """A trained DroQ actor acting on raw pianoenv timesteps.

    Observations are split as in training (``training.rl.envwrap.TrainingEnv.split``) and the
    actor's [-1, 1] action is mapped to the actuators' range (``to_env_action``). Stochastic
    by default (samples of the tanh-Gaussian, like the 500 rollouts of RP1M); the sampling
    key of step t of an episode is ``fold_in(PRNGKey(episode seed), t)``.
    """

    def __init__(self, agent: Any, state: Any, wrapper: Any, *, deterministic: bool = False):
        import jax

        self.agent, self.state, self.wrapper = agent, state, wrapper
        self.deterministic = deterministic
        self._jax = jax
        self._key = jax.random.PRNGKey(0)
        self._t = 0

    def reset(self, seed: int) -> None:
        self._key = self._jax.random.PRNGKey(seed % (2 ** 32))
        self._t = 0

    def __call__(self, timestep: dm_env.TimeStep) -> np.ndarray:
        from training.rl.policy import obs_batch

        obs = self.wrapper.split(timestep.observation)
        action = np.asarray(self.agent.act(self.state, obs_batch(obs), self._key, self._t,
                                           self.deterministic))[0]
        self._t += 1
        return self.wrapper.to_env_action(action)


@dataclass
class PolicySource:
    """A policy with the environment it acts in and what to record about it."""

    env: Any                      # the raw pianoenv environment
    policy: Policy
    info: dict[str, Any]          # provenance, stored as the file's ``policy`` attribute
    song: str
    hand: str
    env_kwargs: dict[str, Any]


def load_policy(run_dir: str | Path, *, deterministic: bool = False,
                checkpoint: str | Path | None = None) -> PolicySource:
    """The environment and policy of a training run directory (``training.rl.loop.Trainer``).

    Gives the raw pianoenv environment the run trained on (same
    song, hand, fingering and ``env_kwargs``), the policy from the newest readable checkpoint
    (or ``checkpoint``), and provenance for the dataset (run, checkpoint step, eval F1).
    Loading goes through ``training.evaluate.load_agent``; missing or unreadable runs are
    ``InputError``s naming the file.
    """
    from training.evaluate import load_agent

    run = Path(run_dir)
    if not (run / "config.json").is_file():
        raise InputError("not a run directory (no config.json)", file=run, field="RUN")
    config, wrapper, agent, state, found = load_agent(
        run, Path(checkpoint) if checkpoint is not None else None)
    policy = DroQPolicy(agent, state, wrapper, deterministic=deterministic)
    last_eval = found.meta.get("last_eval") or {}
    info = {"kind": "droq", "run": str(run.resolve()), "checkpoint": found.path.name,
            "step": int(found.step), "deterministic": bool(deterministic),
            "train_seed": int(config.seed), "eval_f1": last_eval.get("f1")}
    return PolicySource(wrapper.env, policy, info, config.song, config.hand,
                        dict(config.env_kwargs))


def baseline_policy(song: str, hand: str, kind: str, *, fingering: str = "ot",
                    env_kwargs: dict[str, Any] | None = None) -> PolicySource:
    """A baseline in its environment: ``random`` or ``zero`` (hold the home pose)."""
    from pianoenv import suite

    if kind not in ("random", "zero"):
        raise InputError(f"unknown baseline {kind!r}; one of random, zero", field="RUN")
    env_kwargs = dict(env_kwargs or {})
    env = suite.load(song, hand=hand, fingering=fingering, seed=0, **env_kwargs)
    return PolicySource(env, BaselinePolicy(env, kind), {"kind": f"baseline:{kind}"}, song, hand,
                        env_kwargs)


# --------------------------------------------------------------------------- rollouts
def dataset_meta(env: Any, *, song: str, hand: str, seed: int, policy_info: dict[str, Any],
                 env_kwargs: dict[str, Any] | None = None) -> DatasetMeta:
    """Provenance of a collection from the environment it runs in."""
    from handspec.load import spec_hash
    from pianoenv.piano import PRESSED_THRESHOLD

    obs_spec = env.observation_spec()
    action = env.action_spec()
    goals = env.song_goals
    return DatasetMeta(
        song=song, song_name=goals.name, chunk=int(goals.metadata.get("chunk", -1)),
        num_steps=int(goals.num_steps), hand=hand, hand_hash=spec_hash(env.spec),
        hand_spec=env.spec.model_dump_json(by_alias=True), fingering=env.fingering,
        seed=int(seed), policy=dict(policy_info), obs_keys=tuple(obs_spec),
        obs_dims=tuple(int(s.shape[0]) for s in obs_spec.values()),
        binary_obs_keys=tuple(env.binary_observation_keys),
        action_min=tuple(float(x) for x in np.broadcast_to(action.minimum, action.shape)),
        action_max=tuple(float(x) for x in np.broadcast_to(action.maximum, action.shape)),
        finger_names=tuple(f"{side}/{name}" for side, name in env.finger_names),
        control_timestep=float(env.control_timestep),
        pressed_threshold=tuple(float(x) for x in PRESSED_THRESHOLD),
        env_kwargs=dict(env_kwargs or {}))


def rollout(env: Any, policy: Callable[[dm_env.TimeStep], np.ndarray], seed: int) -> Episode:
    """One episode of ``policy`` in ``env`` (seeded), as arrays for the dataset."""
    env.set_random_state(seed)
    reset = getattr(policy, "reset", None)
    if reset is not None:
        reset(seed)
    spec = env.action_spec()
    lo = np.broadcast_to(np.asarray(spec.minimum, np.float32), spec.shape)
    hi = np.broadcast_to(np.asarray(spec.maximum, np.float32), spec.shape)
    binary = set(env.binary_observation_keys)
    ts = env.reset()
    keys = tuple(ts.observation)
    frames: dict[str, list[np.ndarray]] = {k: [ts.observation[k]] for k in keys}
    actions, rewards, terms = [], [], {}
    while not ts.last():
        action = np.clip(np.asarray(policy(ts), np.float32).reshape(spec.shape), lo, hi)
        ts = env.step(action)
        actions.append(action)
        rewards.append(float(ts.reward or 0.0))
        for name, value in env.reward_terms.items():
            terms.setdefault(name, []).append(value)
        for k in keys:
            frames[k].append(ts.observation[k])
    obs, final = OrderedDict(), OrderedDict()
    for k in keys:
        stacked = np.stack(frames[k]).astype(np.uint8 if k in binary else np.float32)
        obs[k], final[k] = stacked[:-1], stacked[-1]
    index = {name: i for i, name in enumerate(env.finger_names)}
    contacts = np.array([(t, index[(side, finger)], key) for t, side, finger, key in env.contact_log],
                        dtype=CONTACT_DTYPE)
    metrics = env.episode_metrics()
    return Episode(obs=obs, final_obs=final, actions=np.stack(actions),
                   rewards=np.asarray(rewards, np.float32),
                   reward_terms={k: np.asarray(v, np.float32) for k, v in terms.items()},
                   contacts=contacts, seed=int(seed),
                   metrics={k: float(metrics[k]) for k in ("f1", "precision", "recall")})


@dataclass
class CollectResult:
    path: Path
    num_demos: int           # demos in the file now
    new_demos: int           # written by this call
    steps: int               # environment steps taken by this call
    seconds: float           # wall time of this call
    mean_f1: float           # over the episodes written by this call (nan if none)
    nbytes: int              # file size

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("nan")


def collect(source: PolicySource, out: str | Path, episodes: int, *, seed: int = 0,
            commit_every: int = 25, overwrite: bool = False, replace_mismatched: bool = False,
            compression: str | None = "gzip", progress: bool = True,
            on_episode: Callable[[int, Episode], None] | None = None) -> CollectResult:
    """Write ``episodes`` rollouts of ``source`` to ``out``, resuming after the demos there.

    Episode ``i`` is seeded with ``episode_seed(seed, i)``. Buffered episodes are committed
    every ``commit_every`` episodes, at the end, and when the loop is left by an exception
    (Ctrl-C, SIGTERM turned into SystemExit): a kill loses at most the uncommitted ones.
    An existing ``out`` from another collection (other policy, seed, song...) is an
    ``InputError``, unless ``overwrite`` (start afresh) or ``replace_mismatched`` (start
    afresh only if it differs; the pipeline's choice when a specialist was retrained).
    """
    env, policy = source.env, source.policy
    if episodes < 1:
        raise InputError(f"must be >= 1, got {episodes}", field="--episodes")
    meta = dataset_meta(env, song=source.song, hand=source.hand, seed=seed,
                        policy_info=source.info, env_kwargs=source.env_kwargs)
    out = Path(out)
    if out.suffix not in (".h5", ".hdf5"):
        raise InputError("must end in .h5 or .hdf5", file=out, field="--out")
    start = time.perf_counter()
    f1s: list[float] = []
    steps = 0
    writer = DemoWriter(out, meta, commit_every=commit_every, overwrite=overwrite,
                        replace_mismatched=replace_mismatched, compression=compression)
    with writer:  # commits buffered (complete) episodes even if the loop is interrupted
        first = writer.num_committed
        bar = None
        if progress and first < episodes:
            from tqdm import tqdm

            bar = tqdm(total=episodes, initial=first, unit="ep", dynamic_ncols=True,
                       desc=f"collect {meta.song_name}", smoothing=0.1, mininterval=1.0)
        try:
            for i in range(first, episodes):
                ep = rollout(env, policy, episode_seed(seed, i))
                writer.add(ep)
                steps += ep.num_steps
                f1s.append(ep.metrics["f1"])
                if on_episode is not None:
                    on_episode(i, ep)
                if bar is not None:
                    bar.set_postfix_str(f"F1 {np.mean(f1s):.3f} | "
                                        f"{steps / (time.perf_counter() - start):.0f} steps/s",
                                        refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    return CollectResult(out, writer.num_committed, writer.num_committed - first, steps,
                         time.perf_counter() - start,
                         float(np.mean(f1s)) if f1s else float("nan"), out.stat().st_size)
