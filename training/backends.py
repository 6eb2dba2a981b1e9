"""Where pipeline tasks run: in this process, in local worker processes, or on a Ray cluster.

A backend only runs ``fn(task) -> result`` somewhere and says when each call finished.
``run_tasks`` (the same for every backend) keeps the workers busy, retries failed calls and
yields one outcome per task, so a failed task is reported, never lost:

* ``fn`` returns a result dict; a dict with ``"ok": False`` is a failure the task itself
  caught, and ``"retriable": False`` marks it as deterministic (bad input: retrying would
  fail the same way);
* an exception out of the backend (a worker killed by the OOM killer, a lost Ray node, a
  broken process pool) is always retriable.

Ray is optional (``pip install 'pianohands[ray]'``): it is imported only by ``RayBackend``,
and a missing Ray is an ``InputError`` for ``--backend``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol, Sequence

from handspec.errors import InputError

TaskFn = Callable[[Any], dict[str, Any]]


class Backend(Protocol):
    name: str
    capacity: int  # calls in flight at once (the rest wait in run_tasks' queue)

    def start(self) -> None: ...
    def submit(self, fn: TaskFn, task: Any) -> Any: ...
    def wait_one(self, handles: Sequence[Any]) -> tuple[Any, dict[str, Any] | BaseException]: ...
    def shutdown(self) -> None: ...


# --------------------------------------------------------------------------- in-process
class InlineBackend:
    """Runs each call right away in this process (``--workers 0``; debugging, tests)."""

    name = "inline"
    capacity = 1

    def __init__(self) -> None:
        self._done: dict[int, dict[str, Any] | BaseException] = {}
        self._next = 0

    def start(self) -> None:
        pass

    def submit(self, fn: TaskFn, task: Any) -> int:
        handle, self._next = self._next, self._next + 1
        try:
            self._done[handle] = fn(task)
        except Exception as exc:  # noqa: BLE001 - reported as a failed attempt
            self._done[handle] = exc
        return handle

    def wait_one(self, handles: Sequence[int]) -> tuple[int, dict[str, Any] | BaseException]:
        handle = handles[0]
        return handle, self._done.pop(handle)

    def shutdown(self) -> None:
        pass


# --------------------------------------------------------------------------- local processes
def _worker_init(threads: int) -> None:
    """Each worker dies with the driver (no orphan keeps writing after a kill -9 of the
    pipeline) and uses ``threads`` BLAS/XLA threads, so N workers do not oversubscribe."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the driver died before prctl took effect
            os._exit(1)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("MUJOCO_GL", "egl")


class LocalBackend:
    """``workers`` spawned processes on this machine, one task each (spawn, not fork: JAX
    and MuJoCo contexts must not be copied into children)."""

    name = "local"

    def __init__(self, workers: int = 1, threads_per_worker: int = 1):
        if workers < 1:
            raise InputError(f"must be >= 1 for the local backend, got {workers}", field="--workers")
        self.capacity = workers
        self.threads = threads_per_worker
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        # one task per process: a chunk task runs for minutes, so a fresh interpreter costs
        # little and returns JAX/MuJoCo memory, loads the code as it is now (not as it was
        # when a long pipeline started) and keeps a crash to one task
        self._pool = ProcessPoolExecutor(self.capacity, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_worker_init, initargs=(self.threads,),
                                         max_tasks_per_child=1)

    def submit(self, fn: TaskFn, task: Any) -> Future:
        assert self._pool is not None, "start() first"
        try:
            return self._pool.submit(fn, task)
        except BrokenProcessPool:
            self._restart()
            return self._pool.submit(fn, task)

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.start()

    def wait_one(self, handles: Sequence[Future]) -> tuple[Future, dict[str, Any] | BaseException]:
        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        future = next(iter(done))
        exc = future.exception()
        if isinstance(exc, BrokenProcessPool):  # a worker died: the pool must be rebuilt
            self._restart()
        return future, exc if exc is not None else future.result()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# --------------------------------------------------------------------------- Ray
def import_ray():
    try:
        import ray
    except ImportError:
        raise InputError("Ray is not installed; install the extra: pip install 'pianohands[ray]'",
                         field="--backend") from None
    return ray


class RayBackend:
    """Each task is a Ray task with ``num_cpus``/``num_gpus`` declared.

    ``address=None`` starts a private local cluster (``local_cpus`` CPUs, no dashboard,
    token authentication off unless ``RAY_AUTH_MODE`` says otherwise) and shares this
    process' ``sys.path`` with its workers; with an address (``auto``, ``ray://host:10001``,
    ``host:6379``) it joins that cluster, whose nodes must have pianohands installed and
    see the output directory (a shared filesystem). Retries are ``run_tasks``' (Ray's own
    ``max_retries`` is 0), so every attempt and its error land in the manifest.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: float = 1.0, num_gpus: float = 0.0,
                 local_cpus: int | None = None):
        if num_cpus <= 0 or num_gpus < 0:
            raise InputError("need --cpus-per-task > 0 and --gpus-per-task >= 0", field="--cpus-per-task")
        self.address, self.num_cpus, self.num_gpus = address, num_cpus, num_gpus
        self.local_cpus = local_cpus
        self.capacity = 1 << 30  # Ray queues by declared resources
        self._ray = import_ray()
        self._started = False
        self._remote: dict[Any, Any] = {}

    def start(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "ignore_reinit_error": True}
        if self.address is None:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
            kwargs.update(num_cpus=self.local_cpus or os.cpu_count() or 1,
                          runtime_env={"env_vars": {"PYTHONPATH": path,
                                                    "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}})
        else:
            kwargs["address"] = self.address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise InputError(f"cannot start or reach the Ray cluster ({exc})",
                             field="--address") from None
        self._started = True

    def submit(self, fn: TaskFn, task: Any) -> Any:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self._ray.remote(
                num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0)(fn)
        return remote.remote(task)

    def wait_one(self, handles: Sequence[Any]) -> tuple[Any, dict[str, Any] | BaseException]:
        ray = self._ray
        done, _ = ray.wait(list(handles), num_returns=1)
        ref = done[0]
        try:
            return ref, ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - RayTaskError, WorkerCrashedError, NodeDied...
            return ref, exc

    def shutdown(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


# --------------------------------------------------------------------------- the driver loop
@dataclass
class Outcome:
    task: Any
    result: dict[str, Any]
    attempts: int
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.result.get("ok", False))


def _one_line(exc: BaseException) -> str:
    text = exc.one_line() if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]


def run_tasks(backend: Backend, fn: TaskFn, tasks: Sequence[Any], *, retries: int = 2
              ) -> Iterator[Outcome]:
    """Run every task (in flight at most ``backend.capacity`` at once), retrying failed
    attempts up to ``retries`` times; yields each task's final ``Outcome`` as it completes."""
    queue = deque(tasks)
    attempts: dict[int, int] = {}
    errors: dict[int, list[str]] = {}
    pending: dict[Any, Any] = {}
    backend.start()
    try:
        while queue or pending:
            while queue and len(pending) < backend.capacity:
                task = queue.popleft()
                attempts[id(task)] = attempts.get(id(task), 0) + 1
                pending[backend.submit(fn, task)] = task
            handle, out = backend.wait_one(list(pending))
            task = pending.pop(handle)
            key = id(task)
            if isinstance(out, BaseException):
                message, retriable = _one_line(out), True
            elif not out.get("ok", False):
                message, retriable = out.get("error", "failed"), out.get("retriable", True)
            else:
                yield Outcome(task, out, attempts[key], errors.get(key, []))
                continue
            errors.setdefault(key, []).append(message)
            if retriable and attempts[key] <= retries:
                queue.append(task)
                continue
            result = out if isinstance(out, dict) else {"ok": False, "error": message}
            yield Outcome(task, result, attempts[key], errors[key])
    finally:
        backend.shutdown()


def safe_call(fn: TaskFn, task: Any) -> dict[str, Any]:
    """``fn(task)``, with an exception turned into a failure record (``InputError``s are not
    retriable: the same input fails the same way)."""
    try:
        return fn(task)
    except InputError as exc:
        return {"ok": False, "retriable": False, "error": _one_line(exc)}
    except Exception as exc:  # noqa: BLE001 - a task must not take the driver down
        return {"ok": False, "retriable": True, "error": _one_line(exc),
                "traceback": traceback.format_exc(limit=8)[-3000:]}
