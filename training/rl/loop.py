"""The training loop: act, store, update every ``update_interval`` steps, evaluate, checkpoint.

A run directory holds::

    config.json      the TrainConfig (read back by --resume)
    hand.json        the resolved hand spec, frozen with its hash (handspec.freeze_spec):
                     later commands rebuild the run's env from it, not from the YAML
    .lock            held (``training.locks.FileLock``) by the process training here
    train.csv        losses, temperature, steps/s, updates/s every log_interval steps
    episodes.csv     return, F1 and mean reward terms of every training episode
    eval.csv         deterministic-policy F1/precision/recall/return/terms every eval_interval
    tb/              TensorBoard: train/*, episode/*, reward/<term>, eval/*, eval/reward/<term>
    checkpoints/     the last keep_checkpoints checkpoints (+ replay when save_replay), and
                     best.ckpt: the agent of the best evaluation F1 so far (the run's policy
                     for ``eval --checkpoint best`` and the dataset pipeline)
    f1_curve.png     evaluation F1 against steps
    summary.json     what happened, written at the end (and on Ctrl-C)

Reproducibility: every random draw comes from generators seeded from ``config.seed``
(environment, evaluation environment, warm-up actions, replay sampling: numpy; updates and
acting: JAX keys). Checkpoints are taken right after a training episode ends, at the end of
a loop iteration, and save all generator states, so ``--resume`` (with ``save_replay``)
continues exactly as if the run had not stopped: same actions, same updates, same
parameters (tested). Without the replay the agent resumes from an empty buffer.

With ``env_workers = N >= 1`` the environment steps run in N worker processes and this
process is the learner: same update-to-data ratio and the same outputs, but a policy lag of
up to ``param_sync_interval`` updates (plus the queue) and seeded rather than bit-identical
runs (``training.rl.actors`` says exactly how it differs). ``env_workers = 0`` is the loop
above, unchanged.

Ctrl-C and SIGTERM stop at an iteration boundary (``GracefulInterrupt``): workers are
stopped, the checkpoint and ``summary.json`` written; then SIGTERM is delivered to the
handler that was installed before the run (``pianohands`` exits 143, an experiment raises
``KeyboardInterrupt``, no handler ends the process), Ctrl-C raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import signal
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dm_env
import jax
import numpy as np
from tqdm import tqdm

from handspec.atomic import write_text
from handspec.errors import InputError
from pianoenv.episode import EpisodeResult, run_episode
from training import checkpoint as ckpt
from training.locks import FileLock
from training.rl.actors import (FIRST, EnvWorkers, EpisodeStats, PolicyLag, ReplayStreams,
                                check_picklable)
from training.rl.agent import DroQ
from training.rl.config import TrainConfig
from training.rl.envwrap import TrainingEnv, make_env
from training.rl.policy import ActiveCapacity, DroQPolicy, obs_batch
from training.signals import GracefulInterrupt
from training.rl.replay import ReplayBuffer
from training.runlog import CsvLog, Scalars, plot_f1_curve
from training.seeds import ACT, derive_seed, seed_streams

EnvFactory = Callable[[TrainConfig, np.random.Generator], TrainingEnv]

TRAIN_METRICS = ("critic_loss", "actor_loss", "q", "entropy", "temperature", "temp_loss")


def default_env_factory(config: TrainConfig, rng: np.random.Generator, *,
                        hand: str | None = None) -> TrainingEnv:
    """The run's environment; ``hand`` (a frozen ``hand.json``) replaces ``config.hand``."""
    return make_env(config.song, hand or config.hand, config.fingering, rng, config.env_kwargs)


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path: return self.root / "config.json"
    @property
    def hand(self) -> Path: return self.root / "hand.json"
    @property
    def lock(self) -> Path: return self.root / ".lock"
    @property
    def train_csv(self) -> Path: return self.root / "train.csv"
    @property
    def episodes_csv(self) -> Path: return self.root / "episodes.csv"
    @property
    def eval_csv(self) -> Path: return self.root / "eval.csv"
    @property
    def tensorboard(self) -> Path: return self.root / "tb"
    @property
    def checkpoints(self) -> Path: return ckpt.checkpoint_dir(self.root)
    @property
    def summary(self) -> Path: return self.root / "summary.json"
    @property
    def f1_curve(self) -> Path: return self.root / "f1_curve.png"


# A finished training episode: return, length, mean reward terms, episode_metrics().
EpisodeEnd = tuple[float, int, dict[str, float], dict[str, float]]


class Trainer:
    """One run: ``Trainer(config, out).run()`` or ``Trainer(config, out, resume=True).run()``."""

    def __init__(self, config: TrainConfig, out: str | Path, *, resume: bool = False,
                 env_factory: EnvFactory | None = None, progress: bool = True,
                 tensorboard: bool = True, time_budget_s: float | None = None,
                 on_eval: Callable[[int, EpisodeResult], None] | None = None,
                 eval_at_start: bool = False):
        self.paths = RunPaths(Path(out))
        self.config = config
        self.resume = resume
        self.progress = progress
        self.tensorboard = tensorboard
        self.time_budget_s = time_budget_s
        self.on_eval = on_eval
        self.eval_at_start = eval_at_start  # evaluate the untrained agent first (learn_bench)
        self._run_lock = FileLock(self.paths.lock, "another process is training in this directory",
                                  file=self.paths.root, field="out")
        self.workers: EnvWorkers | None = None
        self.restarted = False
        self._check_dir()
        try:
            self._set_up(config, env_factory)
        except BaseException:
            self.release()
            raise

    def _set_up(self, config: TrainConfig, env_factory: EnvFactory | None) -> None:
        hand = str(self.paths.hand) if self.resume and self.paths.hand.is_file() else None
        self.env_factory = env_factory or functools.partial(default_env_factory, hand=hand)
        self.rngs = seed_streams(config.seed)
        # bad song/hand fail here, before any write; env workers build their own env
        self.env = self.env_factory(config, self.rngs["env"]) if not config.env_workers else None
        self.eval_env = self.env_factory(config, self.rngs["eval_env"])
        layout, action_dim = self.eval_env.layout, self.eval_env.action_dim
        if config.env_workers:
            check_picklable(self.env_factory)
        self.agent = DroQ(config.agent, layout.dense_dim, layout.num_bits, action_dim)
        self.state = self.agent.init(config.seed)
        self.act_key = jax.random.PRNGKey(derive_seed(config.seed, ACT))
        self.replay = ReplayBuffer(config.buffer_size, layout, action_dim, seed=0,
                                   n_step=config.agent.n_step, discount=config.agent.discount)
        self.replay.rng = self.rngs["replay"]
        self.act_capacity = ActiveCapacity()  # K of the acting batch; grows, rarely recompiles
        self.step = 0
        self.episode = 0
        self.updates = 0
        self.elapsed = 0.0
        self.next_checkpoint = config.checkpoint_interval
        self.last_eval: dict[str, Any] | None = None
        self.best_f1 = -math.inf
        self.reached_stop_f1 = False  # this session ended at an evaluation >= config.stop_f1
        self.resumed_from: str | None = None
        if self.resume and not ckpt.list_checkpoints(self.paths.checkpoints):
            self._start_over()
        elif self.resume:
            self._restore()
        else:  # everything above succeeded: only now does the run exist on disk
            self._write_run_files()

    # ------------------------------------------------------------------ set-up
    def _check_dir(self) -> None:
        """Checks before anything is built or written; takes the directory's lock when it
        holds a run already (a fresh directory is locked in ``_write_run_files``)."""
        root = self.paths.root
        if root.exists() and not root.is_dir():
            raise InputError("exists and is not a directory", file=root, field="out")
        if self.resume:
            if not self.paths.config.is_file():
                raise InputError("nothing to resume: no config.json in the run directory",
                                 file=root, field="resume")
            self._lock()
            ckpt.check_intact(self.paths.checkpoints)
        elif self.paths.config.exists() or ckpt.list_checkpoints(self.paths.checkpoints):
            hint = "" if ckpt.list_checkpoints(self.paths.checkpoints) else \
                " (it has no checkpoint yet: --resume starts it over)"
            raise InputError("a run already exists here; pass --resume to continue it or "
                             f"choose a new --out{hint}", file=root, field="out")

    def _lock(self) -> None:
        """Hold ``.lock`` for as long as this trainer runs: a second ``train`` or ``--resume``
        on the same directory fails at once instead of interleaving rows and mixing
        checkpoints. Leftover temporaries are removed once the lock is ours."""
        if self._run_lock.held:
            return
        self._run_lock.acquire()  # creates the run directory
        for folder in (self.paths.root, self.paths.checkpoints):
            ckpt.remove_stale_temporaries(folder)

    def release(self) -> None:
        """Drop the run directory's lock (``run`` does it when it returns or fails)."""
        self._run_lock.release()

    def _write_run_files(self) -> None:
        """Create the run: lock, re-check under the lock (another ``train`` may have won the
        race), then ``config.json`` and ``hand.json``."""
        created = not self.paths.root.exists()
        try:
            self._lock()
            if self.paths.config.exists():
                raise InputError("a run already exists here (created while this one started); "
                                 "pass --resume to continue it or choose a new --out",
                                 file=self.paths.root, field="out")
            self._freeze_hand()
            self.config.save(self.paths.config)
        except BaseException:
            self.release()
            if created:
                shutil.rmtree(self.paths.root, ignore_errors=True)
            raise

    def _freeze_hand(self) -> None:
        from handspec.load import write_frozen

        spec = getattr(getattr(self.eval_env, "env", self.eval_env), "spec", None)
        if spec is not None and not callable(spec):
            write_frozen(spec, self.paths.hand)

    def _start_over(self) -> None:
        """``--resume`` of a run killed before its first checkpoint: there is nothing to
        resume, so the run starts again from step 0 with its saved config (its logs from
        the lost attempt are removed, so no row is counted twice)."""
        warnings.warn("no checkpoint yet: starting the run over from step 0",
                      ckpt.CheckpointWarning, stacklevel=3)
        for path in (self.paths.train_csv, self.paths.episodes_csv, self.paths.eval_csv,
                     self.paths.summary, self.paths.f1_curve):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.paths.tensorboard, ignore_errors=True)
        if not self.paths.hand.is_file():
            self._freeze_hand()
        self.config.save(self.paths.config)  # the config this attempt runs with
        self.resume = False
        self.restarted = True

    def _restore(self) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ckpt.CheckpointWarning)
            found = ckpt.load_latest(self.paths.checkpoints, self.state)
        self.restore_warnings = [str(w.message) for w in caught]
        for message in self.restore_warnings:
            warnings.warn(message, ckpt.CheckpointWarning, stacklevel=3)
        if found is None:
            raise InputError("nothing to resume: no checkpoint yet", file=self.paths.checkpoints,
                             field="resume")
        meta = found.meta
        self.state = found.agent
        self.step, self.episode = int(meta["step"]), int(meta["episode"])
        self.updates, self.elapsed = int(meta["updates"]), float(meta["elapsed"])
        self.next_checkpoint = int(meta["next_checkpoint"])
        self.best_f1 = float(meta.get("best_f1", -math.inf))
        best = ckpt.best_path(self.paths.checkpoints)
        if best is not None:  # a best evaluation after the checkpoint resumed from stays best
            try:
                self.best_f1 = max(self.best_f1, float(ckpt.read_meta(best)["best_f1"]))
            except (InputError, KeyError, TypeError, ValueError):
                warnings.warn(f"ignoring an unreadable {best.name}; the next evaluation "
                              "replaces it", ckpt.CheckpointWarning, stacklevel=2)
        self.last_eval = meta.get("last_eval")
        for name, state in meta["rngs"].items():
            ckpt.set_generator_state(self.rngs[name], state)
        if found.replay_path is not None:
            try:
                self.replay.load(found.replay_path)
            except InputError as exc:
                warnings.warn(f"replay not restored, starting with an empty buffer: "
                              f"{exc.one_line()}", ckpt.CheckpointWarning, stacklevel=3)
                self.replay = ReplayBuffer(self.config.buffer_size, self.eval_env.layout,
                                           self.eval_env.action_dim,
                                           n_step=self.config.agent.n_step,
                                           discount=self.config.agent.discount)
                self.replay.rng = self.rngs["replay"]
        self.resumed_from = str(found.path)

    # ------------------------------------------------------------------ the loop
    def run(self) -> dict[str, Any]:
        """Trains until ``config.steps`` (or the time budget, or Ctrl-C); returns the summary.

        Every exit but a crash writes a checkpoint and ``summary.json``: the first Ctrl-C (or
        a SIGTERM) finishes the current iteration, so the checkpoint holds a consistent
        state. Env workers are stopped and reaped, and the run directory's lock released,
        when it returns or fails.
        """
        try:
            self._open_logs()
            if self.config.env_workers:
                self._start_workers()
            return self._run()
        finally:
            try:
                if self.workers is not None:
                    self.workers.close()
            finally:
                self.release()

    def _start_workers(self) -> None:
        layout = self.eval_env.layout
        self.workers = EnvWorkers(self.config, self.env_factory,
                                  (layout.dense_dim, layout.num_bits, self.eval_env.action_dim),
                                  session=self.step)
        self.streams = ReplayStreams(self.replay)
        self.lag = PolicyLag()
        self._pending: deque[tuple] = deque()
        self._window = (0.0, 0, 0)  # learner wait, lag total, lag count at the last train row
        self.workers.start()
        self._sync_params()  # a resumed run past warm-up acts with its policy from the start

    def _run(self) -> dict[str, Any]:
        if self.eval_at_start and self.step == 0:
            self.evaluate()
        bar = self._progress_bar()
        t_start, step_start, updates_start = time.perf_counter(), self.step, self.updates
        elapsed_base = self.elapsed
        interrupted = False
        # SIGTERM too, unless it was ignored: finish the iteration and write the checkpoint,
        # then hand the signal to the handler that was there before (see the module doc)
        stop = GracefulInterrupt(sigterm=signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN)
        try:
            self._loop(bar, stop, t_start, elapsed_base)
            if not stop.requested and (self.last_eval is None
                                       or int(self.last_eval["step"]) != self.step):
                # a run that ends between evaluations (time budget, a step count off the
                # interval) evaluates its final policy too: summary.json's last_eval is the
                # policy the run ends with, and it may be the best
                self.evaluate()
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            stop.restore()
            self.elapsed = elapsed_base + time.perf_counter() - t_start
            if bar is not None:
                bar.update(self.step - bar.n)
                bar.close()
            self.scalars.close()
            if interrupted or sys.exc_info()[0] is None:
                if self.workers is not None:
                    self.workers.close()  # free their CPUs while the checkpoint is written
                try:
                    self.save_checkpoint()
                except RuntimeError as exc:  # Ctrl-C inside an update: its buffers are gone
                    warnings.warn(f"no checkpoint written at the interruption ({exc}); the "
                                  "previous one is intact", ckpt.CheckpointWarning, stacklevel=2)
                summary = self.write_summary(
                    interrupted=interrupted, session_steps=self.step - step_start,
                    session_updates=self.updates - updates_start,
                    session_seconds=time.perf_counter() - t_start)
            if stop.terminated:
                signal.raise_signal(signal.SIGTERM)  # now the previous handler's turn
        return summary

    def _open_logs(self) -> None:
        for path in (self.paths.train_csv, self.paths.episodes_csv, self.paths.eval_csv):
            if self.resume:
                CsvLog(path).truncate_after(self.step)
        self.train_log = CsvLog(self.paths.train_csv)
        self.episode_log = CsvLog(self.paths.episodes_csv)
        self.eval_log = CsvLog(self.paths.eval_csv)
        self.scalars = Scalars(self.paths.tensorboard, self.tensorboard,
                               purge_step=self.step + 1 if self.resume else None)

    def _loop(self, bar: Any, stop: GracefulInterrupt, t_start: float, elapsed_base: float) -> None:
        """One iteration = one environment step (taken here, or received from a worker),
        stored; then maybe update, log, evaluate, checkpoint."""
        cfg = self.config
        metrics: dict[str, Any] = {}
        self._timestep: dm_env.TimeStep | None = None
        last_log = (time.perf_counter(), self.step, self.updates)
        while self.step < cfg.steps:
            if stop.requested:  # Ctrl-C: finish at an iteration boundary, state intact
                raise KeyboardInterrupt
            ended = self._train_step() if self.workers is None else self._receive_step(stop)
            if ended is not None:
                self.episode += 1
                self._log_episode(*ended)
            metrics = self._maybe_update(metrics)
            if self.workers is not None:
                self._sync_params()
            now = time.perf_counter()
            if self.step % cfg.log_interval == 0:
                last_log = self._log_train(metrics, now, last_log)
            if self.step % cfg.eval_interval == 0:
                self.evaluate()
                if bar is not None:
                    bar.set_postfix_str(f"F1 {self.last_eval['f1']:.3f}", refresh=False)
                if cfg.stop_f1 is not None and self.last_eval["f1"] >= cfg.stop_f1:
                    self.reached_stop_f1 = True
                    break
            if bar is not None and self.step % 25 == 0:
                bar.update(self.step - bar.n)
            if ended is not None and self.step >= self.next_checkpoint:
                while self.next_checkpoint <= self.step:
                    self.next_checkpoint += cfg.checkpoint_interval
                self.elapsed = elapsed_base + time.perf_counter() - t_start
                self.save_checkpoint()
            if (self.time_budget_s is not None
                    and elapsed_base + now - t_start >= self.time_budget_s):
                break

    def _train_step(self) -> EpisodeEnd | None:
        """Act (uniformly during warm-up, else by sampling the actor), step, store; the
        episode's record when this step ended it."""
        if self._timestep is None:  # a new episode
            self._timestep = self.env.reset()
            self.replay.add_first(*self._timestep.observation)
            self._episode = EpisodeStats()
        if self.step < self.config.warmup_steps:
            action = self.rngs["warmup"].uniform(-1.0, 1.0, self.env.action_dim).astype(np.float32)
        else:
            obs = obs_batch(self._timestep.observation,
                            self.act_capacity(self._timestep.observation))
            action = np.asarray(self.agent.act(self.state, obs, self.act_key, self.step))[0]
        timestep = self.env.step(action)
        self.step += 1
        reward = float(timestep.reward or 0.0)
        self.replay.add(action, reward, float(timestep.discount), *timestep.observation)
        self._episode.add(reward, self.env.reward_terms)
        if not timestep.last():
            self._timestep = timestep
            return None
        self.replay.end_episode()
        self._timestep = None
        episode = self._episode
        return episode.ret, episode.length, episode.term_means(), self.env.episode_metrics()

    def _receive_step(self, stop: GracefulInterrupt) -> EpisodeEnd | None:
        """Store the next step sent by a worker, waiting for one if none is pending (the
        update-to-data ratio holds over received steps); the episode's record when it
        ended one."""
        while True:
            while self._pending:
                message = self._pending.popleft()
                if message[0] == FIRST:
                    self.streams.first(*message[1:])
                    continue
                _, worker, action, reward, discount, dense, bits, version, _, episode = message
                self.streams.add(worker, action, reward, discount, dense, bits,
                                 last=episode is not None)
                self.step += 1
                if version >= 0:
                    self.lag.add(self.updates - version)
                if episode is None:
                    return None
                return episode["return"], episode["length"], episode["terms"], episode["metrics"]
            if stop.requested:
                raise KeyboardInterrupt
            self._pending.extend(self.workers.receive())

    def _sync_params(self) -> None:
        """Send the actor's parameters to the workers at warm-up's end, then every
        ``param_sync_interval`` updates."""
        sent = self.workers.sent_version
        if self.step >= self.config.warmup_steps and (
                sent is None or self.updates - sent >= self.config.param_sync_interval):
            self.workers.send_params((self.state.actor, self.state.actor_stats), self.updates)

    def _maybe_update(self, metrics: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        if (self.step >= cfg.warmup_steps and self.step % cfg.update_interval == 0
                and len(self.replay) >= cfg.batch_size):
            batch = self.replay.sample(cfg.batch_size, cfg.updates_per_interval)
            self.state, metrics = self.agent.update(self.state, batch)
            self.updates += cfg.updates_per_interval
        return metrics

    # ------------------------------------------------------------------ pieces
    def _progress_bar(self) -> tqdm | None:
        if not self.progress:
            return None
        return tqdm(total=self.config.steps, initial=self.step, unit="step", dynamic_ncols=True,
                    desc=f"{self.config.song} {self.config.fingering}", smoothing=0.05,
                    mininterval=1.0)

    def _log_episode(self, ep_return: float, ep_len: int, term_means: dict[str, float],
                     metrics: dict[str, float]) -> None:
        row = {"step": self.step, "episode": self.episode, "return": ep_return, "length": ep_len,
               "f1": metrics.get("f1", float("nan")),
               "precision": metrics.get("precision", float("nan")),
               "recall": metrics.get("recall", float("nan")),
               **{f"reward/{k}": v for k, v in sorted(term_means.items())}}
        self.episode_log.write(row)
        self.scalars.add({"episode/return": ep_return, "episode/length": ep_len,
                          "episode/f1": row["f1"], "episode/precision": row["precision"],
                          "episode/recall": row["recall"],
                          **{f"reward/{k}": v for k, v in term_means.items()}}, self.step)

    def _log_train(self, metrics: dict[str, Any], now: float,
                   last: tuple[float, int, int]) -> tuple[float, int, int]:
        t0, s0, u0 = last
        dt = max(now - t0, 1e-9)
        values = {k: float(metrics[k]) if k in metrics else float("nan") for k in TRAIN_METRICS}
        row = {"step": self.step, "episodes": self.episode, "updates": self.updates,
               "steps_per_s": (self.step - s0) / dt, "updates_per_s": (self.updates - u0) / dt,
               "buffer": len(self.replay), **values}
        self.train_log.write(row)
        self.scalars.add({f"train/{k}": v for k, v in row.items() if k != "step"}, self.step)
        if self.workers is not None:
            self._log_workers(dt)
        return now, self.step, self.updates

    def _log_workers(self, dt: float) -> None:
        """TensorBoard ``workers/*`` over the last log interval: the fraction of time the
        learner waited for transitions, and the mean policy lag in updates."""
        wait, total, count = self._window
        lag = self.lag
        self.scalars.add({"workers/learner_wait_fraction": (self.workers.wait_s - wait) / dt,
                          "workers/policy_lag": (lag.total - total) / max(lag.count - count, 1),
                          "workers/replay_restarts": self.streams.restarts}, self.step)
        self._window = (self.workers.wait_s, lag.total, lag.count)

    def evaluate(self) -> dict[str, Any]:
        """Deterministic-policy episodes on the evaluation environment; logs and returns means."""
        policy = DroQPolicy(self.agent, self.state, self.eval_env, deterministic=True,
                            capacity=self.act_capacity)
        results = [run_episode(self.eval_env.env, policy, seed=0)
                   for _ in range(self.config.eval_episodes)]
        rows = [r.row() for r in results]
        mean = {k: float(np.mean([row[k] for row in rows])) for k in rows[0]}
        row = {"step": self.step, **mean}
        self.eval_log.write(row)
        self.scalars.add({f"eval/{k}": v for k, v in mean.items()}, self.step)
        self.last_eval = row
        if row["f1"] > self.best_f1:
            self.best_f1 = row["f1"]
            ckpt.save_best(self.paths.checkpoints, self.step, self.state,
                           {"last_eval": row, "best_f1": self.best_f1,
                            "config": self.config.to_dict()})
        if self.on_eval is not None:
            self.on_eval(self.step, results[-1])
        return row

    def save_checkpoint(self) -> Path:
        meta = {"episode": self.episode, "updates": self.updates, "elapsed": self.elapsed,
                "next_checkpoint": self.next_checkpoint, "best_f1": self.best_f1,
                "last_eval": self.last_eval, "config": self.config.to_dict(),
                "rngs": {name: ckpt.generator_state(g) for name, g in self.rngs.items()}}
        return ckpt.save_checkpoint(self.paths.checkpoints, self.step, self.state, meta,
                                    replay=self.replay if self.config.save_replay else None,
                                    keep=self.config.keep_checkpoints)

    def write_summary(self, **extra: Any) -> dict[str, Any]:
        cfg = self.config
        rows = self.eval_log.rows()
        plot = plot_f1_curve(rows, self.paths.f1_curve,
                             title=f"{cfg.song} / {cfg.hand} / fingering={cfg.fingering} / seed {cfg.seed}")
        seconds = extra.get("session_seconds") or 0.0
        summary = {
            "song": cfg.song, "hand": cfg.hand, "fingering": cfg.fingering, "seed": cfg.seed,
            "steps": self.step, "target_steps": cfg.steps, "episodes": self.episode,
            "updates": self.updates, "wall_time_s": round(self.elapsed, 2),
            "session_steps_per_s": round(extra.get("session_steps", 0) / seconds, 2) if seconds else None,
            "session_updates_per_s": round(extra.get("session_updates", 0) / seconds, 2) if seconds else None,
            "last_eval": self.last_eval, "best_eval_f1": None if self.best_f1 == -math.inf else self.best_f1,
            "eval_curve": [{"step": int(float(r["step"])), "f1": float(r["f1"])} for r in rows],
            "replay_bytes_per_transition": self.replay.bytes_per_transition,
            "replay_capacity_bytes": self.replay.nbytes,
            "resumed_from": self.resumed_from, "interrupted": bool(extra.get("interrupted")),
            "f1_curve": str(plot) if plot else None,
            "env_workers": cfg.env_workers,
            "reached_stop_f1": self.reached_stop_f1,
        }
        if self.workers is not None:
            summary["workers"] = {**self.workers.stats(seconds), **self.lag.stats(),
                                  "replay_restarts": self.streams.restarts}
        write_text(self.paths.summary, json.dumps(summary, indent=2) + "\n")
        return summary


def train(config: TrainConfig, out: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Convenience wrapper: ``Trainer(config, out, **kwargs).run()``."""
    return Trainer(config, out, **kwargs).run()
