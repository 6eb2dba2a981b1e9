"""A trained DroQ actor as a ``pianoenv.policy.Policy``, and loading one from a run directory.

``DroQPolicy`` acts on raw pianoenv timesteps like every other policy: it splits the
observation as in training (``TrainingEnv.split``), runs the actor on a batch of one, and
maps the [-1, 1] action to the actuators' range (``TrainingEnv.to_env_action``). So
training evaluation, ``pianohands eval``, collection, the demo and the experiments all play
it through ``pianoenv.episode.run_episode``.

Sampling (``deterministic=False``, the 500 stochastic rollouts of RP1M): the key of step t
of an episode is ``fold_in(PRNGKey(episode seed), t)``, so an episode is reproducible from
its seed alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dm_env
import jax
import numpy as np

from handspec.errors import InputError
from pianoenv.interface import PianoEnvironment
from training import checkpoint as ckpt
from training.rl.agent import AgentState, DroQ
from training.rl.config import TrainConfig
from training.rl.envwrap import SplitObs, TrainingEnv, make_env
from training.rl.networks import Obs
from training.rl.replay import active_capacity, active_indices


def obs_batch(obs: SplitObs, capacity: int | None = None) -> Obs:
    """One environment observation as a batch of one for the networks (K = ``capacity``)."""
    return Obs(obs.dense[None], active_indices(obs.bits[None], capacity))


class ActiveCapacity:
    """Running K for acting: only grows, so a policy compiles for a handful of widths."""

    def __init__(self, start: int = 0):
        self.value = active_capacity(start)

    def __call__(self, obs: SplitObs) -> int:
        count = int(np.count_nonzero(obs.bits))
        if count > self.value:
            self.value = active_capacity(count)
        return self.value


class DroQPolicy:
    """The actor of ``state`` acting in the environment wrapped by ``wrapper``.

    ``capacity`` may be shared with the trainer's acting (the same compiled widths).
    """

    def __init__(self, agent: DroQ, state: AgentState, wrapper: TrainingEnv, *,
                 deterministic: bool = False, capacity: ActiveCapacity | None = None):
        self.agent, self.state, self.wrapper = agent, state, wrapper
        self.deterministic = deterministic
        self.capacity = capacity or ActiveCapacity()
        self._key = jax.random.PRNGKey(0)
        self._t = 0

    def reset(self, seed: int) -> None:
        self._key = jax.random.PRNGKey(seed % (2 ** 32))
        self._t = 0

    def __call__(self, timestep: dm_env.TimeStep) -> np.ndarray:
        obs = self.wrapper.split(timestep.observation)
        batch = obs_batch(obs, self.capacity(obs))
        action = np.asarray(self.agent.act(self.state, batch, self._key, self._t,
                                           self.deterministic))[0]
        self._t += 1
        return self.wrapper.to_env_action(action)


@dataclass
class LoadedRun:
    """A training run read back: its config, environment, agent and checkpoint."""

    config: TrainConfig
    env: TrainingEnv              # the run's environment (``env.env`` is the raw one)
    agent: DroQ
    state: AgentState
    checkpoint: ckpt.Checkpoint

    def policy(self, *, deterministic: bool = True,
               env: PianoEnvironment | None = None) -> DroQPolicy:
        """The run's actor as a policy for ``env`` (default: the run's own environment)."""
        wrapper = self.env if env is None else TrainingEnv(env)
        return DroQPolicy(self.agent, self.state, wrapper, deterministic=deterministic)


def check_run_dir(run: str | Path) -> Path:
    """``run`` if it holds a config.json, else an ``InputError``."""
    run = Path(run)
    if not (run / "config.json").is_file():
        raise InputError("not a run directory (no config.json)", file=run, field="RUN")
    return run


def run_hand(run_dir: str | Path, typed: str) -> str:
    """The hand to rebuild a run's environment with: its frozen ``hand.json`` when the run
    has one (the exact hand it trained with, from any directory, even after the YAML was
    edited), else the name as typed (runs from before hands were frozen)."""
    frozen = Path(run_dir) / "hand.json"
    return str(frozen) if frozen.is_file() else typed


def load_run(run: str | Path, checkpoint: str | Path | None = None, *,
             env: TrainingEnv | None = None) -> LoadedRun:
    """The config, environment and agent of a ``pianohands train`` run directory.

    The newest readable checkpoint is used unless ``checkpoint`` names a file, or is
    "best": the run's ``best.ckpt`` (the agent of its best evaluation F1). ``env``
    replaces the environment built from the run's config (an experiment's own factory).
    A directory without config.json, without a checkpoint, or with only corrupt ones is an
    ``InputError`` naming the file, raised before the environment is built.
    """
    run = check_run_dir(run)
    config = TrainConfig.load(run / "config.json")
    directory = ckpt.checkpoint_dir(run)
    if checkpoint is not None and str(checkpoint) == "best":
        checkpoint = ckpt.best_path(directory)
        if checkpoint is None:
            raise InputError("no best.ckpt (every evaluation that raises the run's best F1 "
                             "writes it; runs of versions before it have none)",
                             file=directory, field="--checkpoint")
    if checkpoint is None:  # fail before building the environment and compiling
        if not ckpt.list_checkpoints(directory):
            raise InputError("no checkpoint yet (train first)", file=directory, field="checkpoint")
        ckpt.check_intact(directory)
    elif not Path(checkpoint).is_file():
        raise InputError("no such file", file=checkpoint, field="--checkpoint")
    if env is None:
        env = make_env(config.song, run_hand(run, config.hand), config.fingering,
                       np.random.default_rng(config.seed), config.env_kwargs)
    agent = DroQ(config.agent, env.layout.dense_dim, env.layout.num_bits, env.action_dim)
    template = agent.init(config.seed)
    if checkpoint is not None:
        found = ckpt.read_checkpoint(Path(checkpoint), template)
    else:
        found = ckpt.load_latest(directory, template)
    return LoadedRun(config, env, agent, found.agent, found)
