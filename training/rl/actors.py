"""Environment workers: actor processes that step environments and feed one learner.

With ``TrainConfig.env_workers = N >= 1`` the trainer (``training.rl.loop.Trainer``, the
learner, in the main process) starts N actor processes (``spawn``: JAX and fork do not mix).
Each actor builds its own environment with the run's factory, acts with the latest actor
parameters it has received (sampling the stochastic policy; uniform actions until the
first parameters arrive, i.e. during warm-up) and sends every transition to the learner
over one bounded ``multiprocessing`` queue. The learner adds them to the one replay buffer,
updates, evaluates and checkpoints as in the single-process loop, and sends the actor's
parameters (a numpy pytree) to every worker every ``param_sync_interval`` updates.

How it differs from the single-process loop (``env_workers = 0``):

* **Same update-to-data ratio.** The learner counts the steps it has *received* and updates
  exactly when the synchronous loop would (every ``update_interval`` received steps, after
  warm-up); when it has used every step received it blocks on the queue. So a run with
  workers does the same number of updates per environment step, and its learning curve
  against steps is comparable; only wall-clock changes.
* **Policy lag.** An action is sampled with parameters that are up to
  ``param_sync_interval`` updates old when they are sent, plus the updates done while the
  transition waits in the queue (at most ``QUEUE_STEPS`` steps per worker). The measured lag
  (updates between the parameters an action was sampled with and the learner's state when
  the transition is stored) is in ``summary.json`` (``workers.policy_lag_mean/max``).
  The synchronous loop has no lag.
* **Reproducibility.** Seeded, not bit-identical: worker ``i``'s environment, warm-up actions
  and sampling key are ``derive_seed(seed, ACT, i, stream, session)`` (``training.seeds``;
  ``session`` is the step the session starts from, so a resumed run does not replay the
  first session's streams), but which parameters an action sees depends on timing.
* **Warm-up** lasts until the first parameters reach a worker: a few more uniform steps than
  ``warmup_steps`` (the ones in flight).
* **Episodes of several workers** share the one replay ring (``ReplayStreams``): when the
  stream switches from one worker's open episode to another's, the episode that resumes
  later re-stores its latest observation as a new first observation. Every stored transition
  is exact; each switch costs one slot (counted as ``replay_restarts``; none with N = 1).
* **Checkpoints** hold the learner (agent, replay, counters) as today; the workers'
  episodes in progress are not saved: a resumed run starts fresh worker episodes.

Robustness: a worker that raises sends its error (and prints its traceback on stderr); one
that dies without a word (a segfault, SIGKILL) is found by its exit code; either way the
learner raises ``EnvWorkerError`` naming the worker, never waits forever (queue reads time
out every ``POLL_S``). Workers ignore SIGINT and SIGTERM (a Ctrl-C on the terminal reaches
the whole process group): the learner decides, and on any exit tells them to stop, joins
them, kills what does not stop within ``JOIN_TIMEOUT_S``, and reaps every one (no zombies).
A worker whose learner died (even by SIGKILL) notices the change of parent and exits.

CPUs: with at least N + 1 CPUs available, the learner is pinned to the first and worker i to
the (i + 2)-th (``os.sched_setaffinity``); the learner's affinity is restored on close.
Workers run single-threaded XLA on the CPU backend (acting is a batch of one), as the
benchmarks' worker processes do.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import numpy as np

from handspec.errors import InputError
from training.rl.agent import DroQ
from training.rl.config import TrainConfig
from training.rl.policy import ActiveCapacity, obs_batch
from training.rl.replay import ReplayBuffer
from training.seeds import ACT, derive_seed

QUEUE_STEPS = 8       # transitions per worker the queue holds before a worker blocks (lag)
POLL_S = 0.25         # longest wait on a queue before checking the other side is alive
JOIN_TIMEOUT_S = 10.0
START_TIMEOUT_S = 300.0  # a worker's first message (imports, env build, compiles)
STALL_TIMEOUT_S = 600.0  # the learner waited this long without a message from any worker

# message kinds, worker -> learner (plain tuples: cheap to pickle)
FIRST, STEP, ERROR = "first", "step", "error"
# seed streams of a worker (the ``stream`` index of derive_seed(seed, ACT, worker, stream, session))
ENV_STREAM, WARMUP_STREAM, KEY_STREAM = range(3)


class EnvWorkerError(RuntimeError):
    """An environment worker failed; the learner stops (no checkpoint, like any crash)."""


@dataclass
class EpisodeStats:
    """The training episode in progress: its return, length and summed reward terms."""

    ret: float = 0.0
    length: int = 0
    term_sums: dict[str, float] = field(default_factory=dict)

    def add(self, reward: float, terms: Any) -> None:
        self.ret += reward
        self.length += 1
        for k, v in terms.items():
            self.term_sums[k] = self.term_sums.get(k, 0.0) + float(v)

    def term_means(self) -> dict[str, float]:
        return {k: v / max(self.length, 1) for k, v in self.term_sums.items()}


class ActorParams(NamedTuple):
    """What ``DroQ.act`` reads of an ``AgentState``: the actor's parameters and its
    batch-norm statistics (empty for DroQ, used by CrossQ)."""

    actor: Any
    actor_stats: Any


def worker_seed(seed: int, worker: int, stream: int, session: int) -> int:
    return derive_seed(seed, ACT, worker, stream, session)


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs (pickled once, at spawn)."""

    index: int
    config: TrainConfig
    env_factory: Callable[[TrainConfig, np.random.Generator], Any]
    dims: tuple[int, int, int]  # dense_dim, num_bits, action_dim
    session: int                # the step this session started from (seeds)
    parent: int                 # the learner's pid


# ------------------------------------------------------------------ the worker process
def worker_main(spec: WorkerSpec, transitions: Any, params: Any, stop: Any) -> None:
    """Entry point of a worker process: act until told to stop or the learner is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the learner decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    worker = _Worker(spec, transitions, params, stop)
    try:
        worker.run()
    except BaseException as exc:  # noqa: BLE001 - reported to the learner, then exit 1
        text = traceback.format_exc()
        sys.stderr.write(f"env worker {spec.index} failed at its step {worker.t}:\n{text}")
        sys.stderr.flush()
        worker.send((ERROR, spec.index, f"{type(exc).__name__}: {exc}", worker.t))
        raise SystemExit(1) from None
    transitions.cancel_join_thread()  # stopping: steps still buffered are not wanted


class _Worker:
    def __init__(self, spec: WorkerSpec, transitions: Any, params: Any, stop: Any):
        self.spec, self.transitions, self.params_queue, self.stop = spec, transitions, params, stop
        self.t = 0             # steps taken by this worker in this session
        self.put_wait = 0.0    # seconds blocked on a full queue
        self.params: Any = None
        self.version = -1      # the learner's update count when the parameters were sent

    def alive(self) -> bool:
        """False once the learner asked to stop or is gone (re-parented)."""
        return not self.stop.is_set() and os.getppid() == self.spec.parent

    def send(self, message: tuple) -> bool:
        """Put ``message``, waiting while the queue is full; False if we must stop instead."""
        start = time.perf_counter()
        try:
            while True:
                try:
                    self.transitions.put(message, timeout=POLL_S)
                    return True
                except queue.Full:
                    if not self.alive():
                        return False
        finally:
            self.put_wait += time.perf_counter() - start

    def _poll_params(self) -> None:
        while True:
            try:
                self.version, self.params = self.params_queue.get_nowait()
            except queue.Empty:
                return

    def run(self) -> None:
        spec, cfg = self.spec, self.spec.config
        seeds = [worker_seed(cfg.seed, spec.index, s, spec.session)
                 for s in (ENV_STREAM, WARMUP_STREAM, KEY_STREAM)]
        env = spec.env_factory(cfg, np.random.default_rng(seeds[ENV_STREAM]))
        if (env.layout.dense_dim, env.layout.num_bits, env.action_dim) != spec.dims:
            raise RuntimeError(f"the worker's environment has sizes {env.layout}, "
                               f"{env.action_dim}; the learner's {spec.dims}")
        agent = DroQ(cfg.agent, *spec.dims)
        warmup = np.random.default_rng(seeds[WARMUP_STREAM])
        key = jax.random.PRNGKey(seeds[KEY_STREAM])
        capacity = ActiveCapacity()
        try:
            while self.alive():
                timestep = env.reset()
                if not self.send((FIRST, spec.index, *timestep.observation)):
                    return
                episode = EpisodeStats()
                while not timestep.last():
                    if not self.alive():  # each step: a long episode must not delay a stop
                        return
                    self._poll_params()
                    if self.params is None:
                        action = warmup.uniform(-1.0, 1.0, env.action_dim).astype(np.float32)
                    else:
                        obs = obs_batch(timestep.observation, capacity(timestep.observation))
                        action = np.asarray(agent.act(ActorParams(*self.params), obs, key,
                                                      self.t))[0]
                    timestep = env.step(action)
                    self.t += 1
                    reward = float(timestep.reward or 0.0)
                    episode.add(reward, env.reward_terms)
                    summary = None
                    if timestep.last():
                        summary = {"return": episode.ret, "length": episode.length,
                                   "terms": episode.term_means(),
                                   "metrics": env.episode_metrics()}
                    message = (STEP, spec.index, action, reward, float(timestep.discount),
                               *timestep.observation, self.version, self.put_wait, summary)
                    if not self.send(message):
                        return
        finally:
            env.close()


# ------------------------------------------------------------------ the learner's side
@contextlib.contextmanager
def _child_environment() -> Iterator[None]:
    """Environment variables a worker starts with: single-threaded XLA on the CPU (read when
    its JAX starts, so they are set in the parent around ``start``); SIGINT and SIGTERM
    ignored from the first instruction (SIG_IGN survives exec; the worker's own handlers
    only come after its imports)."""
    saved = {k: os.environ.get(k) for k in ("XLA_FLAGS", "JAX_PLATFORMS")}
    os.environ["XLA_FLAGS"] = (f"{saved['XLA_FLAGS'] or ''} "
                               "--xla_cpu_multi_thread_eigen=false").strip()
    os.environ["JAX_PLATFORMS"] = "cpu"
    main = threading.current_thread() is threading.main_thread()
    handlers = {}
    if main:
        for signum in (signal.SIGINT, signal.SIGTERM):
            handlers[signum] = signal.signal(signum, signal.SIG_IGN)
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_picklable(env_factory: Any) -> None:
    """Workers rebuild the environment in their own process: the factory must pickle."""
    try:
        pickle.dumps(env_factory)
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the same
        raise InputError(f"env_workers needs an environment factory that can be pickled (a "
                         f"module-level function or a functools.partial of one), got "
                         f"{env_factory!r} ({exc})", field="env_workers") from None


class EnvWorkers:
    """The learner's handle on N worker processes: start, receive, send parameters, close."""

    def __init__(self, config: TrainConfig, env_factory: Callable, dims: tuple[int, int, int],
                 *, session: int):
        check_picklable(env_factory)
        self.config = config
        self.count = config.env_workers
        self.ctx = mp.get_context("spawn")
        self.stop = self.ctx.Event()
        self.transitions = self.ctx.Queue(maxsize=QUEUE_STEPS * self.count)
        self.params = [self.ctx.Queue() for _ in range(self.count)]
        self.specs = [WorkerSpec(i, config, env_factory, dims, session, os.getpid())
                      for i in range(self.count)]
        self.procs: list[Any] = []
        self.pids: list[int] = []
        self.pinned: dict[str, Any] | None = None
        self._affinity: set[int] | None = None
        self.wait_s = 0.0                       # learner blocked on an empty queue
        self.put_wait = [0.0] * self.count      # each worker blocked on a full queue
        self.broadcasts = 0
        self.sent_version: int | None = None
        self._heard: set[int] = set()
        self.started = self.last_message = time.monotonic()
        self._closed = False

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        pin = len(cpus) >= self.count + 1
        with _child_environment():
            for spec, params in zip(self.specs, self.params):
                proc = self.ctx.Process(target=worker_main, name=f"env-worker-{spec.index}",
                                        args=(spec, self.transitions, params, self.stop),
                                        daemon=True)
                proc.start()
                self.procs.append(proc)
                self.pids.append(proc.pid)
                if pin:
                    with contextlib.suppress(OSError):  # it may be gone already
                        os.sched_setaffinity(proc.pid, {cpus[spec.index + 1]})
        self.started = self.last_message = time.monotonic()
        if pin:
            self._affinity = set(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {cpus[0]})
            self.pinned = {"learner": cpus[0], "workers": cpus[1:self.count + 1]}

    def close(self) -> None:
        """Stop, join (kill what does not stop) and reap every worker; restore affinity.
        Idempotent; safe after a failed start."""
        if self._closed:
            return
        self._closed = True
        self.stop.set()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for proc in self.procs:
            # drain while waiting: a worker blocked on a full queue sees the stop at once
            while proc.is_alive() and time.monotonic() < deadline:
                self._drain_nowait()
                proc.join(timeout=0.05)
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
            proc.join()
        for q in self.params:  # written by us: do not wait to flush what nobody will read
            q.cancel_join_thread()
            q.close()
        self._drain_nowait()
        self.transitions.close()
        if self._affinity is not None:
            os.sched_setaffinity(0, self._affinity)
            self._affinity = None

    def _drain_nowait(self) -> None:
        with contextlib.suppress(queue.Empty, OSError, EOFError, ValueError):
            while True:
                self.transitions.get_nowait()

    # -------------------------------------------------------------- traffic
    def send_params(self, actor_params: Any, version: int) -> None:
        """Send the actor's parameters (copied to numpy now: the queue pickles later, in its
        feeder thread, and the update donates the device buffers)."""
        host = jax.tree.map(lambda x: np.array(x, copy=True), actor_params)
        for q in self.params:
            q.put((version, host))
        self.sent_version = version
        self.broadcasts += 1

    def receive(self, timeout: float = POLL_S) -> list[tuple]:
        """Every message waiting (blocking up to ``timeout`` for the first), grouped by worker
        (each worker's order kept: fewer stream switches in the replay). Raises
        ``EnvWorkerError`` for a worker's error or a dead worker; [] on a timeout."""
        start = time.perf_counter()
        try:
            messages = [self.transitions.get(timeout=timeout)]
        except queue.Empty:
            self.wait_s += time.perf_counter() - start
            self.check_alive()
            return []
        self.wait_s += time.perf_counter() - start
        self.last_message = time.monotonic()
        with contextlib.suppress(queue.Empty):
            while len(messages) < QUEUE_STEPS * self.count:
                messages.append(self.transitions.get_nowait())
        for message in messages:
            if message[0] == ERROR:
                self._raise(message)
            self._heard.add(message[1])
            if message[0] == STEP:
                self.put_wait[message[1]] = message[-2]
        self.check_alive()
        return sorted(messages, key=lambda m: m[1])

    def check_alive(self) -> None:
        """Raise ``EnvWorkerError`` for a dead worker, one silent since its start, or when no
        worker has sent anything for ``STALL_TIMEOUT_S`` (alive but stuck)."""
        for i, proc in enumerate(self.procs):
            if not proc.is_alive():
                self._raise_dead(i, proc)
        now = time.monotonic()
        if len(self._heard) < self.count and now - self.started > START_TIMEOUT_S:
            silent = sorted(set(range(self.count)) - self._heard)
            raise EnvWorkerError(f"env worker {silent[0]} sent nothing in {START_TIMEOUT_S:.0f} s "
                                 "after its start")
        if now - self.last_message > STALL_TIMEOUT_S:
            raise EnvWorkerError(f"no transition from any env worker in {STALL_TIMEOUT_S:.0f} s")

    def _raise(self, message: tuple) -> None:
        _, index, error, step = message
        raise EnvWorkerError(f"env worker {index} failed at its step {step}: {error} "
                             "(its traceback is above)")

    def _raise_dead(self, index: int, proc: Any) -> None:
        # its last words may still be in the queue (behind the other workers' steps)
        with contextlib.suppress(queue.Empty, OSError, EOFError):
            for _ in range(2 * QUEUE_STEPS * self.count):
                message = self.transitions.get(timeout=0.1)
                if message[0] == ERROR:
                    self._raise(message)
        code = proc.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        raise EnvWorkerError(f"env worker {index} (pid {proc.pid}) died ({how})")

    def stats(self, session_seconds: float) -> dict[str, Any]:
        return {"count": self.count, "param_sync_interval": self.config.param_sync_interval,
                "learner_wait_s": round(self.wait_s, 2),
                "learner_wait_fraction": round(self.wait_s / session_seconds, 3)
                if session_seconds else None,
                "worker_put_wait_s": [round(w, 2) for w in self.put_wait],
                "param_broadcasts": self.broadcasts, "pinned_cpus": self.pinned,
                "pids": self.pids}


class ReplayStreams:
    """Several workers' episodes into one replay ring, every transition exact.

    The replay stores one episode at a time (an observation, then steps that each store the
    next one). When a step arrives from a worker other than the one whose episode is open,
    that worker's latest observation is stored again as a first observation (``restarts``).
    """

    def __init__(self, replay: ReplayBuffer):
        self.replay = replay
        self.current: int | None = None
        self.latest: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.restarts = 0

    def first(self, worker: int, dense: np.ndarray, bits: np.ndarray) -> None:
        self.replay.add_first(dense, bits)
        self.current = worker
        self.latest[worker] = (dense, bits)

    def add(self, worker: int, action: np.ndarray, reward: float, discount: float,
            dense: np.ndarray, bits: np.ndarray, last: bool) -> None:
        if worker not in self.latest:
            raise RuntimeError(f"a step of worker {worker} before its episode's first observation")
        if self.current != worker:
            self.replay.add_first(*self.latest[worker])
            self.current = worker
            self.restarts += 1
        self.replay.add(action, reward, discount, dense, bits)
        if last:
            self.replay.end_episode()
            self.current = None
            del self.latest[worker]
        else:
            self.latest[worker] = (dense, bits)


class PolicyLag:
    """Updates between the parameters a stored action was sampled with and the learner's."""

    def __init__(self) -> None:
        self.total = 0
        self.count = 0
        self.max = 0

    def add(self, lag: int) -> None:
        self.total += lag
        self.count += 1
        self.max = max(self.max, lag)

    def stats(self) -> dict[str, Any]:
        return {"policy_lag_mean": round(self.total / self.count, 2) if self.count else None,
                "policy_lag_max": self.max if self.count else None,
                "policy_lag_samples": self.count}
