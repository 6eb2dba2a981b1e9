"""Roll out a policy and write the episodes as an RP1M-style demonstration file.

The collector works with any ``pianoenv.policy.Policy`` (actions in the environment's own
units): a trained DroQ specialist loaded from its run directory (``load_policy``), or any
registered policy (``registered_policy``: random, zero, the kinematic pianist, ...). Each
episode is one ``pianoenv.episode.run_episode(..., record=True)``; the policy and the
environment are reseeded with the episode's seed, so episode ``i`` is the same whether the
collection ran in one go or was killed and resumed.

    source = load_policy("runs/twinkle0")
    collect(source, "data/twinkle0.h5", episodes=500)

``collect`` is resumable: it continues after the demos already committed to ``out`` (see
``training.data.DemoWriter`` for the crash-safety argument).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from handspec.errors import InputError
from handspec.load import spec_hash
from pianoenv.env import PianoEnv
from pianoenv.episode import run_episode
from pianoenv.interface import PianoEnvironment
from pianoenv.piano import PRESSED_THRESHOLD
from pianoenv.policy import Policy, make_policy
from pianoenv.residual import ResidualEnv
from training.data import CONTACT_DTYPE, DatasetMeta, DemoWriter, Episode, episode_seed
from training.rl.envwrap import make_env
from training.rl.policy import load_run

BASELINES = ("random", "zero")


@dataclass
class PolicySource:
    """A policy with the environment it acts in and what to record about it."""

    env: PianoEnvironment         # the raw pianoenv environment
    policy: Policy
    info: dict[str, Any]          # provenance, stored as the file's ``policy`` attribute
    song: str
    hand: str
    env_kwargs: dict[str, Any]


def load_policy(run_dir: str | Path, *, deterministic: bool = False,
                checkpoint: str | Path | None = None) -> PolicySource:
    """The environment and policy of a training run directory (``training.rl.loop.Trainer``).

    Gives the raw pianoenv environment the run trained on (same song, hand, fingering and
    ``env_kwargs``), the policy from the newest readable checkpoint (or ``checkpoint``),
    and provenance for the dataset (run, checkpoint step, eval F1). Loading goes through
    ``training.rl.policy.load_run``; missing or unreadable runs are ``InputError``s.
    """
    run = Path(run_dir)
    loaded = load_run(run, Path(checkpoint) if checkpoint is not None else None)
    found, config = loaded.checkpoint, loaded.config
    last_eval = found.meta.get("last_eval") or {}
    info = {"kind": "droq", "run": str(run.resolve()), "checkpoint": found.path.name,
            "step": int(found.step), "deterministic": bool(deterministic),
            "train_seed": int(config.seed), "eval_f1": last_eval.get("f1")}
    return PolicySource(loaded.env.env, loaded.policy(deterministic=deterministic), info,
                        config.song, config.hand, dict(config.env_kwargs))


def registered_policy(song: str, hand: str, name: str, *, fingering: str = "ot",
                      env_kwargs: dict[str, Any] | None = None) -> PolicySource:
    """Any policy of the registry (``pianoenv.policy``) in its environment.

    Provenance is ``baseline:random`` / ``baseline:zero`` for the two baselines (the
    ``RUN`` spelling of the collect command) and ``policy:<name>`` for the others.
    """
    env_kwargs = dict(env_kwargs or {})
    env = make_env(song, hand, fingering, 0, env_kwargs).env
    policy = make_policy(name, env, 0)
    kind = f"baseline:{name}" if name in BASELINES else f"policy:{name}"
    return PolicySource(env, policy, {"kind": kind}, song, hand, env_kwargs)


# --------------------------------------------------------------------------- rollouts
def dataset_meta(env: PianoEnv | ResidualEnv, *, song: str, hand: str, seed: int, policy_info: dict[str, Any],
                 env_kwargs: dict[str, Any] | None = None) -> DatasetMeta:
    """Provenance of a collection from the environment it runs in (the CPU ``PianoEnv``:
    the file records its hand spec and fingering mode; with a residual run, the actions
    stored are the absolute ones of the wrapped ``PianoEnv``)."""
    obs_spec = env.observation_spec()
    if isinstance(env, ResidualEnv):
        env = env.env
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


def rollout(env: PianoEnvironment, policy: Policy, seed: int) -> Episode:
    """One episode of ``policy`` in ``env`` (seeded), as arrays for the dataset.

    The environment's random state and the policy are both seeded with ``seed``; actions
    are stored as the environment applied them (clipped to the action spec).
    """
    env.set_random_state(seed)
    result = run_episode(env, policy, seed=seed, record=True)
    rec = result.record
    if isinstance(env, ResidualEnv):  # store the absolute actions, not the corrections
        actions = np.stack(env.applied_actions)
    else:
        spec = env.action_spec()
        lo = np.broadcast_to(np.asarray(spec.minimum, np.float32), spec.shape)
        hi = np.broadcast_to(np.asarray(spec.maximum, np.float32), spec.shape)
        actions = np.clip(np.stack([a.reshape(spec.shape) for a in rec.actions]), lo, hi)
    binary = set(env.binary_observation_keys)
    obs, final = OrderedDict(), OrderedDict()
    for k in rec.observations[0]:
        stacked = np.stack([o[k] for o in rec.observations])
        stacked = stacked.astype(np.uint8 if k in binary else np.float32)
        obs[k], final[k] = stacked[:-1], stacked[-1]
    terms = {name: np.asarray([step[name] for step in rec.reward_terms], np.float32)
             for name in rec.reward_terms[0]}
    index = {name: i for i, name in enumerate(env.finger_names)}
    contacts = np.array([(t, index[(side, finger)], key)
                         for t, side, finger, key in result.contact_log], dtype=CONTACT_DTYPE)
    return Episode(obs=obs, final_obs=final, actions=actions.astype(np.float32),
                   rewards=np.asarray(rec.rewards, np.float32), reward_terms=terms,
                   contacts=contacts, seed=int(seed),
                   metrics={k: float(result.metrics[k]) for k in ("f1", "precision", "recall")})


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
