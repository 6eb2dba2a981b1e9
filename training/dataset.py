"""RP1M-style demonstration files: HDF5 in the robomimic layout, written crash-safely.

One file holds the expert rollouts of one specialist (one song chunk, one hand)::

    /                      attrs: format, format_version
    /data                  attrs: total (steps), num_demos, env_args (JSON, robomimic), and
                                  the provenance below (song, chunk, hand, hand_hash, ...)
    /data/demo_<i>         attrs: num_samples, seed, f1, precision, recall, return
        obs/<key>          (T, D) float32; binary keys (goals) as uint8 0/1
        final_obs/<key>    (D,)   the observation after the last action
        actions            (T, A) float32, the executed (clipped) actions
        rewards, dones     (T,)   float32, uint8 (1 on the last step: a time limit)
        reward_terms/<n>   (T,)   float32, each named reward term (Eq. 3)
        contacts           (N,)   (step, finger, key): which finger pressed which key when,
                                  finger indexes ``finger_names`` (the learned fingering)

``obs[t]`` is what the policy saw before ``actions[t]``; ``obs[t+1]`` (or ``final_obs``) is
the next observation, so ``next_obs`` is not stored twice. Observation names with a ``/``
(``piano/keys``) are stored as ``piano_keys``; the reader gives back the original names.

Crash safety: the file on disk only ever changes by ``os.replace`` of a finished temporary
copy (``DemoWriter.commit``), so a killed writer leaves the last committed file (complete
episodes only) and at most one stale temporary, which the next writer deletes. HDF5 has no
journal: appending in place and getting killed can corrupt the whole file, which is why
episodes are buffered and committed in batches (copying the file is ~1 GB/s; a 500-episode
file is ~100 MB).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import re
import shutil
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import h5py
import numpy as np

from handspec.errors import InputError

FORMAT = "pianohands-demos"
FORMAT_VERSION = 1
CONTACT_DTYPE = np.dtype([("step", "<i4"), ("finger", "i1"), ("key", "i1")])
NUM_KEYS = 88
_DEMO = re.compile(r"^demo_(0|[1-9][0-9]*)$")


def h5_key(obs_key: str) -> str:
    """Observation name -> HDF5 dataset name (``piano/keys`` -> ``piano_keys``)."""
    return obs_key.replace("/", "_")


# --------------------------------------------------------------------------- data types
@dataclass
class Episode:
    """One rollout, as arrays; what ``DemoWriter.add`` stores and ``DemoFile.episode`` returns."""

    obs: dict[str, np.ndarray]
    final_obs: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    reward_terms: dict[str, np.ndarray] = field(default_factory=dict)
    contacts: np.ndarray = field(default_factory=lambda: np.zeros(0, CONTACT_DTYPE))
    seed: int = 0
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def num_steps(self) -> int:
        return int(self.actions.shape[0])


@dataclass(frozen=True)
class DatasetMeta:
    """Provenance of a file: what was played, by which hand, with which policy.

    ``identity()`` is what must match for a collection to resume into an existing file.
    """

    song: str                      # the spec the environment was built from ("twinkle:0")
    song_name: str                 # SongGoals.name
    chunk: int                     # chunk index, -1 for a whole song
    num_steps: int                 # episode length (steps)
    hand: str                      # hand spec name
    hand_hash: str                 # handspec.load.spec_hash
    hand_spec: str                 # the resolved spec as JSON (hand_hash is sha256 of it)
    fingering: str                 # ot | human | none
    seed: int                      # collection seed (episode i uses episode_seed(seed, i))
    policy: dict[str, Any]         # {"kind": ..., "run": ..., "step": ..., "deterministic": ...}
    obs_keys: tuple[str, ...]
    obs_dims: tuple[int, ...]
    binary_obs_keys: tuple[str, ...]
    action_min: tuple[float, ...]
    action_max: tuple[float, ...]
    finger_names: tuple[str, ...]  # "right/thumb", ... (index of contacts["finger"])
    control_timestep: float
    pressed_threshold: tuple[float, ...]  # (88,) normalized key state counted as pressed
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def action_dim(self) -> int:
        return len(self.action_min)

    def identity(self) -> dict[str, Any]:
        return {"song": self.song, "num_steps": self.num_steps, "hand_hash": self.hand_hash,
                "fingering": self.fingering, "seed": self.seed, "policy": self.policy,
                "obs_keys": list(self.obs_keys), "obs_dims": list(self.obs_dims),
                "env_kwargs": self.env_kwargs}

    def env_args(self) -> dict[str, Any]:
        """robomimic's ``data.attrs['env_args']``: enough to rebuild the environment."""
        return {"env_name": "pianohands/Piano-v0", "type": 2,
                "env_kwargs": {"song": self.song, "hand": self.hand, "fingering": self.fingering,
                               **self.env_kwargs}}

    _JSON = ("policy", "obs_keys", "obs_dims", "binary_obs_keys", "action_min", "action_max",
             "finger_names", "pressed_threshold", "env_kwargs")

    def to_attrs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            out[name] = json.dumps(value) if name in self._JSON else value
        out["env_args"] = json.dumps(self.env_args())
        return out

    @classmethod
    def from_attrs(cls, attrs: Any, file: str | Path) -> "DatasetMeta":
        kwargs: dict[str, Any] = {}
        for f in cls.__dataclass_fields__.values():
            if f.name not in attrs:
                if f.name == "env_kwargs":
                    continue
                raise InputError("missing attribute", file=file, field=f"data.attrs.{f.name}")
            value = attrs[f.name]
            if isinstance(value, bytes):
                value = value.decode()
            if f.name in cls._JSON:
                try:
                    value = json.loads(value)
                except (TypeError, ValueError):
                    raise InputError("not valid JSON", file=file,
                                     field=f"data.attrs.{f.name}") from None
                if isinstance(value, list):
                    value = tuple(value)
            elif isinstance(value, np.generic):
                value = value.item()
            kwargs[f.name] = value
        return cls(**kwargs)


def episode_seed(seed: int, index: int, stream: int = 0) -> int:
    """Seed of episode ``index``: independent of how many episodes ran before, so a resumed
    collection writes exactly the episodes an uninterrupted one would have. ``stream``
    separates uses (0: collection, 1: evaluation) so they never share episodes."""
    return int(np.random.SeedSequence([int(seed), int(stream), int(index)]).generate_state(1)[0])


def spec_json_hash(spec_json: str) -> str:
    """``handspec.load.spec_hash`` recomputed from the stored JSON (no handspec import)."""
    return hashlib.sha256(spec_json.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- writing
def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _compress(kind: str | None) -> dict[str, Any]:
    if kind in (None, "none"):
        return {}
    if kind == "lzf":
        return {"compression": "lzf", "shuffle": True}
    if kind == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    raise InputError(f"unknown compression {kind!r}; one of gzip, lzf, none", field="compression")


def _put(group: h5py.Group, name: str, data: np.ndarray, comp: dict[str, Any]) -> None:
    if data.size == 0 or not comp:
        group.create_dataset(name, data=data)
    else:
        group.create_dataset(name, data=data, chunks=data.shape, **comp)


class DemoWriter:
    """Appends episodes to a demonstration file; commits them atomically in batches.

    >>> with DemoWriter("data/twinkle_0.h5", meta) as writer:
    ...     for i in range(writer.num_demos, 500):   # resumes after the committed demos
    ...         writer.add(rollout(i))

    Opening an existing file resumes it when its ``DatasetMeta.identity`` matches ``meta``
    (an ``InputError`` naming the first differing field otherwise); ``overwrite=True``
    starts afresh (the old file stays until the first commit replaces it). A lock file
    (``.NAME.lock``) stops two writers from interleaving commits on one path.
    """

    def __init__(self, path: str | Path, meta: DatasetMeta, *, commit_every: int = 25,
                 overwrite: bool = False, replace_mismatched: bool = False,
                 compression: str | None = "gzip"):
        if commit_every < 1:
            raise InputError(f"must be >= 1, got {commit_every}", field="commit_every")
        self.path = Path(path)
        self.meta = meta
        self.commit_every = commit_every
        self._comp = _compress(compression)
        self._binary = set(meta.binary_obs_keys)
        self._buffer: list[Episode] = []
        self._committed = 0
        self._total = 0
        self._fresh = True  # no committed file of ours yet (missing, or being overwritten)
        self._lock_fd: int | None = None
        self._overwrite = overwrite
        self._replace_mismatched = replace_mismatched
        self.replaced: str | None = None  # why an existing file is being replaced, if it is

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> "DemoWriter":
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.commit()
            else:  # buffered episodes are complete: keep them, whatever stopped the caller
                try:
                    self.commit()
                except Exception:  # noqa: BLE001 - the caller's error is the one to report
                    pass
        finally:
            self.release()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.parent / f".{self.path.name}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError("another process is writing this file", file=self.path,
                             field="--out") from None
        self._lock_fd = fd
        try:
            for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                stale.unlink(missing_ok=True)  # a killed writer's uncommitted copy
            if self.path.exists() and not self._overwrite:
                with DemoFile(self.path) as existing:
                    differs = self._identity_difference(existing.meta)
                    if differs is not None and not self._replace_mismatched:
                        raise differs
                    self._committed = existing.num_demos
                    self._total = existing.total_steps
                if differs is None:
                    self._fresh = False
                else:  # replaced at the first commit; until then the old file stays
                    self.replaced = differs.field
                    self._committed = self._total = 0
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Drop the lock without committing (``commit`` first to keep buffered episodes)."""
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _identity_difference(self, existing: DatasetMeta) -> InputError | None:
        """The error naming the first identity field that differs, or None if all match
        (compared as JSON, so tuples equal lists and NaN equals NaN)."""
        have, want = existing.identity(), self.meta.identity()
        for key in want:
            if json.dumps(have.get(key), sort_keys=True) != json.dumps(want[key], sort_keys=True):
                return InputError(
                    f"exists and was collected with a different {key} ({have.get(key)!r}, "
                    f"now {want[key]!r}); choose another --out or pass --overwrite",
                    file=self.path, field=key)
        return None

    # ---------------------------------------------------------------- writing
    @property
    def num_committed(self) -> int:
        return self._committed

    @property
    def num_demos(self) -> int:
        """Committed plus buffered episodes: the index the next ``add`` gets."""
        return self._committed + len(self._buffer)

    def add(self, episode: Episode) -> None:
        self._check_episode(episode)
        self._buffer.append(episode)
        if len(self._buffer) >= self.commit_every:
            self.commit()

    def _check_episode(self, ep: Episode) -> None:
        T, meta = ep.num_steps, self.meta
        if T != meta.num_steps:
            raise ValueError(f"episode has {T} steps, the file holds {meta.num_steps}-step episodes")
        if tuple(ep.obs) != meta.obs_keys:
            raise ValueError(f"observation keys {tuple(ep.obs)} != {meta.obs_keys}")
        for key, dim in zip(meta.obs_keys, meta.obs_dims):
            if ep.obs[key].shape != (T, dim) or ep.final_obs[key].shape != (dim,):
                raise ValueError(f"observation {key!r} has shape {ep.obs[key].shape}, "
                                 f"expected ({T}, {dim})")
        if ep.actions.shape != (T, meta.action_dim) or ep.rewards.shape != (T,):
            raise ValueError(f"actions {ep.actions.shape} / rewards {ep.rewards.shape} do not "
                             f"match ({T}, {meta.action_dim}) / ({T},)")

    def commit(self) -> None:
        """Write the buffered episodes: copy, append, fsync, atomically replace."""
        if not self._buffer and not self._fresh:
            return
        tmp = self.path.parent / f".{self.path.name}.{os.getpid()}.tmp"
        try:
            if self._fresh:
                f = h5py.File(tmp, "w", libver=("v110", "latest"), fs_strategy="fsm",
                              fs_persist=True)
                f.attrs["format"] = FORMAT
                f.attrs["format_version"] = FORMAT_VERSION
                data = f.create_group("data")
                for key, value in self.meta.to_attrs().items():
                    data.attrs[key] = value
            else:
                shutil.copyfile(self.path, tmp)
                f = h5py.File(tmp, "a", libver=("v110", "latest"))
                data = f["data"]
            with f:
                index, total = self._committed, self._total
                for ep in self._buffer:
                    self._write_demo(data, f"demo_{index}", ep)
                    index += 1
                    total += ep.num_steps
                data.attrs["num_demos"] = index
                data.attrs["total"] = total
            _fsync_file(tmp)
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._committed, self._total = index, total
        self._buffer.clear()
        self._fresh = False

    def _write_demo(self, data: h5py.Group, name: str, ep: Episode) -> None:
        g = data.create_group(name)
        T, comp = ep.num_steps, self._comp
        obs, final = g.create_group("obs"), g.create_group("final_obs")
        for key in self.meta.obs_keys:
            dtype = np.uint8 if key in self._binary else np.float32
            _put(obs, h5_key(key), np.asarray(ep.obs[key]).astype(dtype), comp)
            final.create_dataset(h5_key(key), data=np.asarray(ep.final_obs[key]).astype(dtype))
        _put(g, "actions", np.asarray(ep.actions, np.float32), comp)
        _put(g, "rewards", np.asarray(ep.rewards, np.float32), comp)
        dones = np.zeros(T, np.uint8)
        dones[-1] = 1
        _put(g, "dones", dones, comp)
        terms = g.create_group("reward_terms")
        for term, values in ep.reward_terms.items():
            _put(terms, term, np.asarray(values, np.float32), comp)
        _put(g, "contacts", np.asarray(ep.contacts).astype(CONTACT_DTYPE), comp)
        g.attrs["num_samples"] = T
        g.attrs["seed"] = int(ep.seed)
        for key in ("f1", "precision", "recall"):
            g.attrs[key] = float(ep.metrics.get(key, float("nan")))
        g.attrs["return"] = float(np.sum(ep.rewards, dtype=np.float64))


# --------------------------------------------------------------------------- reading
def _open_h5(path: Path) -> h5py.File:
    if not path.exists():
        raise InputError("no such file", file=path, field="path")
    if path.is_dir():
        raise InputError("is a directory, expected an .h5 file", file=path, field="path")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise InputError(f"not a readable HDF5 file ({first})", file=path, field="path") from None
    if f.attrs.get("format") != FORMAT or "data" not in f:
        f.close()
        raise InputError(f"not a {FORMAT} file (missing format attribute or /data)", file=path,
                         field="format")
    version = int(f.attrs.get("format_version", -1))
    if version != FORMAT_VERSION:
        f.close()
        raise InputError(f"format_version {version} is not supported (expected "
                         f"{FORMAT_VERSION})", file=path, field="format_version")
    return f


def demo_index(name: str) -> int | None:
    m = _DEMO.match(name)
    return int(m.group(1)) if m else None


class DemoFile:
    """Read access to one demonstration file (lazy: nothing is read until asked for)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._f = _open_h5(self.path)
        self._data = self._f["data"]
        self.meta = DatasetMeta.from_attrs(self._data.attrs, self.path)
        self._names = sorted((n for n in self._data if demo_index(n) is not None), key=demo_index)

    def __enter__(self) -> "DemoFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    @property
    def data_group(self) -> h5py.Group:
        return self._data

    @property
    def demo_names(self) -> list[str]:
        return list(self._names)

    @property
    def num_demos(self) -> int:
        return len(self._names)

    @property
    def total_steps(self) -> int:
        return int(self._data.attrs.get("total", 0))

    def group(self, index: int) -> h5py.Group:
        return self._data[f"demo_{index}"]

    def demo_attrs(self, index: int) -> dict[str, Any]:
        return {k: (v.item() if isinstance(v, np.generic) else v)
                for k, v in self.group(index).attrs.items()}

    def episode(self, index: int, *, binary_as_float: bool = False) -> Episode:
        g = self.group(index)
        meta = self.meta

        def conv(key: str, a: np.ndarray) -> np.ndarray:
            return a.astype(np.float32) if binary_as_float and key in meta.binary_obs_keys else a

        obs = OrderedDict((k, conv(k, g["obs"][h5_key(k)][()])) for k in meta.obs_keys)
        final = OrderedDict((k, conv(k, g["final_obs"][h5_key(k)][()])) for k in meta.obs_keys)
        attrs = self.demo_attrs(index)
        return Episode(obs=obs, final_obs=final, actions=g["actions"][()],
                       rewards=g["rewards"][()],
                       reward_terms={k: v[()] for k, v in g["reward_terms"].items()},
                       contacts=g["contacts"][()], seed=int(attrs.get("seed", 0)),
                       metrics={k: float(attrs[k]) for k in ("f1", "precision", "recall")
                                if k in attrs})

    def episodes(self) -> Iterator[Episode]:
        for i in range(self.num_demos):
            yield self.episode(i)

    def nbytes(self) -> int:
        return self.path.stat().st_size


def fingering_matrix(contacts: np.ndarray, num_steps: int) -> np.ndarray:
    """``(T, 88)`` int8: the finger (index into ``finger_names``) on each pressed key at each
    step, -1 where none; if two fingers touch one key, the lower index is kept."""
    none = np.iinfo(np.int8).max
    out = np.full((num_steps, NUM_KEYS), none, np.int8)
    c = np.asarray(contacts)
    np.minimum.at(out, (c["step"], c["key"]), c["finger"].astype(np.int8))
    out[out == none] = -1
    return out


# --------------------------------------------------------------------------- verification
@dataclass
class VerifyReport:
    path: Path
    num_demos: int = 0
    total_steps: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, message)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, where: str, message: str) -> None:
        self.problems.append((where, message))


def per_step_prf(goal: np.ndarray, pressed: np.ndarray) -> np.ndarray:
    """(T, 3) precision, recall, F1 per step, as ``pianoenv.metrics.step_prf`` (vectorised)."""
    tp = np.count_nonzero(goal & pressed, axis=1)
    n_pred = np.count_nonzero(pressed, axis=1)
    n_true = np.count_nonzero(goal, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n_pred > 0, tp / np.maximum(n_pred, 1), 1.0)
        r = np.where(n_true > 0, tp / np.maximum(n_true, 1), 1.0)
        f = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1.0), 0.0)
    return np.stack([p, r, f], axis=1)


def recompute_metrics(ep: Episode, meta: DatasetMeta) -> dict[str, float]:
    """Episode precision/recall/F1 from the stored key states and goals alone.

    The metric of step t compares the goal of step t with the keys *after* action t, which
    are the key states of observation t+1 (``final_obs`` for the last step).
    """
    keys = np.concatenate([ep.obs["piano/keys"][1:], ep.final_obs["piano/keys"][None]])
    pressed = keys >= np.asarray(meta.pressed_threshold, np.float32)
    goal = np.asarray(ep.obs["goal"][:, :NUM_KEYS]).astype(bool)
    prf = per_step_prf(goal, pressed).mean(axis=0)
    return {"precision": float(prf[0]), "recall": float(prf[1]), "f1": float(prf[2])}


# One step whose pressed/not-pressed decision flips at the float32 boundary moves the
# episode mean by at most 1/T; allow two such steps.
def _metric_tolerance(num_steps: int) -> float:
    return 2.0 / max(num_steps, 1) + 1e-6


def verify_file(path: str | Path, *, deep: bool = True) -> VerifyReport:
    """Check a demonstration file; every problem is reported with the field it concerns.

    Unreadable files, foreign HDF5 files and broken provenance raise ``InputError``. With
    ``deep`` the data themselves are checked too: finite values, 0/1 goals, actions inside
    the action spec, F1/precision/recall recomputed from key states, contacts in range and
    the same goals in every demo.
    """
    path = Path(path)
    report = VerifyReport(path)
    with DemoFile(path) as df:
        meta, data = df.meta, df.data_group
        if spec_json_hash(meta.hand_spec) != meta.hand_hash:
            report.add("data.attrs.hand_hash", "does not match the stored hand_spec")
        if len(meta.obs_dims) != len(meta.obs_keys):
            report.add("data.attrs.obs_dims", "length differs from obs_keys")
        for name in data:
            if demo_index(name) is None:
                report.add(f"data/{name}", "unexpected entry (not demo_<i>)")
        indices = [demo_index(n) for n in df.demo_names]
        if indices != list(range(len(indices))):
            missing = sorted(set(range(max(indices, default=-1) + 1)) - set(indices))
            report.add("data", f"demo indices are not contiguous from 0 (missing {missing[:5]})")
        if int(data.attrs.get("num_demos", -1)) != df.num_demos:
            report.add("data.attrs.num_demos",
                       f"says {data.attrs.get('num_demos')}, file holds {df.num_demos}")
        counted = 0
        goal0: np.ndarray | None = None
        for name in df.demo_names:
            counted += _verify_demo(df, demo_index(name), report, deep, goal0)
            if deep and goal0 is None and "goal" in meta.obs_keys:
                goal0 = data[name]["obs"]["goal"][()]
        if int(data.attrs.get("total", -1)) != counted:
            report.add("data.attrs.total", f"says {data.attrs.get('total')}, demos hold {counted}")
        report.num_demos, report.total_steps = df.num_demos, counted
    return report


_REQUIRED = ("obs", "final_obs", "actions", "rewards", "dones", "reward_terms", "contacts")


def _verify_demo(df: DemoFile, i: int, report: VerifyReport, deep: bool,
                 goal0: np.ndarray | None) -> int:
    meta, g, where = df.meta, df.group(i), f"demo_{i}"
    missing = [k for k in _REQUIRED if k not in g]
    if missing:
        report.add(where, f"missing {', '.join(missing)}")
        return 0
    T = int(g.attrs.get("num_samples", -1))
    if T != meta.num_steps:
        report.add(f"{where}.attrs.num_samples", f"is {T}, episodes have {meta.num_steps} steps")
    T = meta.num_steps
    for key, dim in zip(meta.obs_keys, meta.obs_dims):
        for grp, shape in (("obs", (T, dim)), ("final_obs", (dim,))):
            name = h5_key(key)
            if name not in g[grp]:
                report.add(f"{where}/{grp}/{name}", "missing")
            elif g[grp][name].shape != shape:
                report.add(f"{where}/{grp}/{name}", f"has shape {g[grp][name].shape}, expected {shape}")
    for name, shape in (("actions", (T, meta.action_dim)), ("rewards", (T,)), ("dones", (T,))):
        if g[name].shape != shape:
            report.add(f"{where}/{name}", f"has shape {g[name].shape}, expected {shape}")
    for term, ds in g["reward_terms"].items():
        if ds.shape != (T,):
            report.add(f"{where}/reward_terms/{term}", f"has shape {ds.shape}, expected ({T},)")
    if g["contacts"].dtype != CONTACT_DTYPE:
        report.add(f"{where}/contacts", f"has dtype {g['contacts'].dtype}, expected {CONTACT_DTYPE}")
    for key in ("f1", "precision", "recall"):
        v = g.attrs.get(key)
        if v is None or not 0.0 <= float(v) <= 1.0:
            report.add(f"{where}.attrs.{key}", f"is {v}, expected a value in [0, 1]")
    if not deep or any(w.startswith(where + "/") or w.startswith(where + ".attrs.num")
                       for w, _ in report.problems):
        return int(g["actions"].shape[0])
    ep = df.episode(i)
    dones = np.asarray(g["dones"][()])
    if dones[-1] != 1 or np.count_nonzero(dones) != 1:
        report.add(f"{where}/dones", "must be 1 on the last step only")
    for key in meta.obs_keys:
        a = ep.obs[key]
        if key in meta.binary_obs_keys:
            if not np.isin(a, (0, 1)).all():
                report.add(f"{where}/obs/{h5_key(key)}", "binary observation holds values other than 0/1")
        elif not np.isfinite(a).all():
            report.add(f"{where}/obs/{h5_key(key)}", "holds NaN or inf")
    lo, hi = np.asarray(meta.action_min, np.float32), np.asarray(meta.action_max, np.float32)
    if not np.isfinite(ep.actions).all():
        report.add(f"{where}/actions", "holds NaN or inf")
    elif ((ep.actions < lo - 1e-5) | (ep.actions > hi + 1e-5)).any():
        report.add(f"{where}/actions", "outside the action spec")
    if not np.isfinite(ep.rewards).all():
        report.add(f"{where}/rewards", "holds NaN or inf")
    elif not math.isclose(float(np.sum(ep.rewards, dtype=np.float64)),
                          float(g.attrs.get("return", np.nan)), rel_tol=1e-4, abs_tol=1e-3):
        report.add(f"{where}.attrs.return", "differs from the sum of rewards")
    c = ep.contacts
    if c.size and ((c["step"] < 0) | (c["step"] >= T) | (c["finger"] < 0)
                   | (c["finger"] >= len(meta.finger_names)) | (c["key"] < 0)
                   | (c["key"] >= NUM_KEYS)).any():
        report.add(f"{where}/contacts", "step, finger or key out of range")
    if "piano/keys" in ep.obs and "goal" in ep.obs:
        got = recompute_metrics(ep, meta)
        tol = _metric_tolerance(T)
        for key in ("f1", "precision", "recall"):
            if abs(got[key] - ep.metrics.get(key, np.nan)) > tol or np.isnan(ep.metrics.get(key, np.nan)):
                report.add(f"{where}.attrs.{key}", f"is {ep.metrics.get(key)}, key states give "
                                                   f"{got[key]:.4f}")
    if goal0 is not None and not np.array_equal(goal0, ep.obs["goal"]):
        report.add(f"{where}/obs/goal", "differs from demo_0's goals (mixed songs?)")
    return T


# --------------------------------------------------------------------------- summaries
@dataclass
class FileSummary:
    path: str
    song: str
    chunk: int
    hand: str
    hand_hash: str
    num_demos: int
    total_steps: int
    nbytes: int
    f1: list[float]
    precision: list[float]
    recall: list[float]

    @property
    def mean_f1(self) -> float:
        return float(np.mean(self.f1)) if self.f1 else float("nan")

    @property
    def mb_per_episode(self) -> float:
        return self.nbytes / 1e6 / self.num_demos if self.num_demos else float("nan")


def summarize(path: str | Path) -> FileSummary:
    """Counts, size and per-episode metrics of one file (attributes only; fast)."""
    with DemoFile(path) as df:
        attrs = [df.demo_attrs(i) for i in range(df.num_demos)]
        m = df.meta
        return FileSummary(str(path), m.song, int(m.chunk), m.hand, m.hand_hash, df.num_demos,
                           df.total_steps, df.nbytes(),
                           [float(a.get("f1", np.nan)) for a in attrs],
                           [float(a.get("precision", np.nan)) for a in attrs],
                           [float(a.get("recall", np.nan)) for a in attrs])


@dataclass
class DatasetStats:
    """What RP1M's Fig. 4 shows, over a set of files (one file = one specialist/piece).

    key_steps:   (88,) steps each key is active in the goals, counted once per file
                 (the music, not the 500 repetitions of it)
    active_keys: per file, the number of active keys summed over all its time steps
    file_f1:     per file, the mean F1 of its episodes (what the data achieve)
    episode_f1:  every episode's F1
    eval_f1:     per file whose policy recorded one, the specialist's evaluation F1 (the
                 policy's mode, as RP1M's selection uses); None elsewhere
    """

    files: list[FileSummary]
    key_steps: np.ndarray
    active_keys: list[int]
    file_f1: list[float]
    episode_f1: list[float]
    eval_f1: list[float | None] = field(default_factory=list)

    @property
    def white_fraction(self) -> float:
        from fingering.keyboard import black_mask

        total = self.key_steps.sum()
        return float(self.key_steps[~black_mask()].sum() / total) if total else float("nan")


def compute_stats(paths: Iterable[str | Path]) -> DatasetStats:
    files, key_steps, active, file_f1, ep_f1 = [], np.zeros(NUM_KEYS, np.int64), [], [], []
    eval_f1: list[float | None] = []
    for path in paths:
        summary = summarize(path)
        files.append(summary)
        if summary.num_demos == 0:
            continue
        with DemoFile(path) as df:
            goal = df.group(0)["obs"][h5_key("goal")][:, :NUM_KEYS].astype(bool)
            recorded = df.meta.policy.get("eval_f1")
        key_steps += goal.sum(axis=0)
        active.append(int(goal.sum()))
        file_f1.append(summary.mean_f1)
        ep_f1.extend(summary.f1)
        eval_f1.append(float(recorded) if isinstance(recorded, (int, float)) else None)
    return DatasetStats(files, key_steps, active, file_f1, ep_f1, eval_f1)


def plot_fig4(stats: DatasetStats, out_dir: str | Path, *, prefix: str = "") -> dict[str, Path]:
    """RP1M Fig. 4 as three PNGs (+ one with all panels): pressed keys by colour, active
    keys per piece, F1 of the specialists. Files are written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fingering.keyboard import black_mask, key_name

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    black = black_mask()
    n_files = len(stats.file_f1)

    def keys_panel(ax) -> None:
        x = np.arange(NUM_KEYS)
        ax.bar(x[~black], stats.key_steps[~black], color="#d9d9d9", edgecolor="#555555",
               linewidth=0.4, label="white")
        ax.bar(x[black], stats.key_steps[black], color="#222222", label="black")
        ticks = [k for k in range(NUM_KEYS) if key_name(k).startswith("C") and "#" not in key_name(k)]
        ax.set_xticks(ticks, [key_name(k) for k in ticks])
        ax.set_xlabel("key")
        ax.set_ylabel("active steps in the goals")
        wf = stats.white_fraction
        ax.set_title(f"Pressed keys ({n_files} pieces; white {100 * wf:.1f}%)" if n_files
                     else "Pressed keys (no data)")
        ax.legend(title="key colour")

    def active_panel(ax) -> None:
        if stats.active_keys:
            ax.hist(stats.active_keys, bins=min(20, max(5, n_files)), color="#4c72b0")
        ax.set_xlabel("active keys over all time steps (per piece)")
        ax.set_ylabel("pieces")
        ax.set_title("Active keys per piece")

    def f1_panel(ax) -> None:
        bins = np.linspace(0, 1, 21)
        if stats.file_f1:
            ax.hist(stats.file_f1, bins=bins, color="#55a868", alpha=0.8,
                    label=f"collected episodes, mean per file (n={n_files})")
        evals = [f for f in stats.eval_f1 if f is not None]
        if evals:
            ax.hist(evals, bins=bins, histtype="step", color="#c44e52", lw=2,
                    label=f"specialist evaluation (n={len(evals)})")
        ax.axvline(0.75, color="k", ls="--", lw=1, label="F1 0.75 (RP1M: good)")
        ax.set_xlim(0, 1)
        ax.set_xlabel("F1")
        ax.set_ylabel("specialists")
        ax.set_title("F1 of the specialists")
        ax.legend(fontsize=8)

    panels = {"pressed_keys": (keys_panel, (12, 3.5)), "active_keys": (active_panel, (5, 3.5)),
              "f1": (f1_panel, (5, 3.5))}
    written: dict[str, Path] = {}

    def save(fig, name: str) -> None:
        path = out_dir / f"{prefix}{name}.png"
        tmp = out_dir / f".{prefix}{name}.{os.getpid()}.tmp.png"
        fig.tight_layout()
        fig.savefig(tmp, dpi=120)
        plt.close(fig)
        os.replace(tmp, path)
        written[name] = path

    for name, (draw, size) in panels.items():
        fig, ax = plt.subplots(figsize=size)
        draw(ax)
        save(fig, name)
    fig = plt.figure(figsize=(12, 7))
    grid = fig.add_gridspec(2, 2)
    keys_panel(fig.add_subplot(grid[0, :]))
    active_panel(fig.add_subplot(grid[1, 0]))
    f1_panel(fig.add_subplot(grid[1, 1]))
    save(fig, "fig4")
    return written


# --------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class _EpisodeRef:
    file: int
    demo: int
    length: int


class DemoLoader:
    """(observation, action) batches for imitation learning, read lazily from many files.

    A sample at step t of an episode holds the observations of steps ``t-obs_horizon+1 .. t``
    (padded at the start by repeating step 0) and the actions ``t .. t+action_horizon-1``
    (padded at the end by repeating the last action; ``action_mask`` marks the real ones),
    the diffusion-policy convention. Only attributes are read up front; episodes are read
    when a batch needs them (a small LRU cache keeps recent ones decoded), and files are
    opened on first use (again per process, so the loader survives forking into workers).

    ``iter_epoch`` shuffles in windows: it visits the episodes in a random order, decodes
    ``shuffle_episodes`` of them at a time and shuffles all their steps, which mixes well
    and reads each episode once per epoch. ``sample`` draws with replacement (see its
    ``episodes_per_batch`` for large datasets, where decoding dominates).
    """

    def __init__(self, paths: Sequence[str | Path], *, obs_keys: Sequence[str] | None = None,
                 obs_horizon: int = 1, action_horizon: int = 1, min_f1: float | None = None,
                 cache_episodes: int = 64, flatten: bool = False):
        if obs_horizon < 1 or action_horizon < 1:
            raise InputError("obs_horizon and action_horizon must be >= 1", field="horizon")
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise InputError("no dataset files given", field="paths")
        self.obs_horizon, self.action_horizon, self.flatten = obs_horizon, action_horizon, flatten
        self._handles: OrderedDict[int, DemoFile] = OrderedDict()
        self._pid = os.getpid()
        self._cache: OrderedDict[tuple[int, int], dict[str, np.ndarray]] = OrderedDict()
        self._cache_size = max(1, cache_episodes)
        refs: list[_EpisodeRef] = []
        metas: list[DatasetMeta] = []
        for fi, path in enumerate(self.paths):
            with DemoFile(path) as df:
                metas.append(df.meta)
                for i in range(df.num_demos):
                    attrs = df.group(i).attrs
                    if min_f1 is not None and float(attrs.get("f1", 0.0)) < min_f1:
                        continue
                    refs.append(_EpisodeRef(fi, i, int(attrs["num_samples"])))
        first = metas[0]
        self.obs_keys = tuple(obs_keys) if obs_keys is not None else first.obs_keys
        for path, meta in zip(self.paths, metas):
            unknown = [k for k in self.obs_keys if k not in meta.obs_keys]
            if unknown:
                raise InputError(f"has no observation {unknown[0]!r}", file=path, field="obs_keys")
            dims = dict(zip(meta.obs_keys, meta.obs_dims))
            ref_dims = dict(zip(first.obs_keys, first.obs_dims))
            if any(dims[k] != ref_dims[k] for k in self.obs_keys) or \
                    meta.action_dim != first.action_dim:
                raise InputError(f"observation/action sizes differ from {self.paths[0]} "
                                 "(another hand?)", file=path, field="obs_dims")
        self.metas = metas
        self.obs_dims = {k: dict(zip(first.obs_keys, first.obs_dims))[k] for k in self.obs_keys}
        self.action_dim = first.action_dim
        self.episodes = refs
        self._starts = np.cumsum([0] + [r.length for r in refs])

    # ---------------------------------------------------------------- sizes
    def __len__(self) -> int:
        """Number of samples (= steps over all kept episodes)."""
        return int(self._starts[-1])

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    # ---------------------------------------------------------------- reading
    def _file(self, fi: int) -> DemoFile:
        if os.getpid() != self._pid:  # forked: h5py handles must not cross processes
            self._handles.clear()
            self._cache.clear()
            self._pid = os.getpid()
        df = self._handles.get(fi)
        if df is None:
            df = self._handles[fi] = DemoFile(self.paths[fi])
            if len(self._handles) > 32:
                _, old = self._handles.popitem(last=False)
                old.close()
        else:
            self._handles.move_to_end(fi)
        return df

    def _episode(self, e: int) -> dict[str, np.ndarray]:
        ref = self.episodes[e]
        key = (ref.file, ref.demo)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        g = self._file(ref.file).group(ref.demo)
        # stored dtypes (uint8 goals) stay in the cache; rows are converted when gathered
        arrays = {k: g["obs"][h5_key(k)][()] for k in self.obs_keys}
        arrays["__actions__"] = g["actions"][()]
        self._cache[key] = arrays
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return arrays

    def locate(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat sample indices -> (episode, step)."""
        index = np.asarray(index, np.int64)
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"sample index out of range [0, {len(self)})")
        ep = np.searchsorted(self._starts, index, side="right") - 1
        return ep, index - self._starts[ep]

    def batch(self, index: Sequence[int] | np.ndarray) -> dict[str, Any]:
        """The samples with these flat indices, as one batch."""
        ep, step = self.locate(np.asarray(index))
        B, To, Ta = len(ep), self.obs_horizon, self.action_horizon
        obs = {k: np.empty((B, To, d), np.float32) for k, d in self.obs_dims.items()}
        actions = np.empty((B, Ta, self.action_dim), np.float32)
        mask = np.empty((B, Ta), bool)
        for e in np.unique(ep):  # one read per episode in the batch
            rows = np.flatnonzero(ep == e)
            arrays = self._episode(int(e))
            T = arrays["__actions__"].shape[0]
            t = step[rows]
            o_idx = np.clip(t[:, None] + np.arange(-To + 1, 1), 0, T - 1)
            a_raw = t[:, None] + np.arange(Ta)
            for k in obs:
                obs[k][rows] = arrays[k][o_idx]
            actions[rows] = arrays["__actions__"][np.minimum(a_raw, T - 1)]
            mask[rows] = a_raw < T
        out: dict[str, Any] = {"actions": actions, "action_mask": mask}
        out["obs"] = np.concatenate([obs[k] for k in self.obs_dims], axis=-1) if self.flatten else obs
        return out

    def sample_indices(self, batch_size: int, rng: np.random.Generator, *,
                       episodes_per_batch: int | None = None) -> np.ndarray:
        """Flat indices of a random batch (with replacement): uniform over all samples, or,
        with ``episodes_per_batch=k``, uniform over the steps of k episodes drawn in
        proportion to their length: the same distribution on average, but a batch decodes
        k episodes instead of up to ``batch_size`` (much faster on large datasets)."""
        if episodes_per_batch is None:
            return rng.integers(0, len(self), size=batch_size)
        lengths = np.diff(self._starts)
        eps = rng.choice(self.num_episodes, size=episodes_per_batch, p=lengths / lengths.sum())
        which = eps[rng.integers(0, episodes_per_batch, size=batch_size)]
        steps = (rng.random(batch_size) * lengths[which]).astype(np.int64)
        return self._starts[which] + steps

    def sample(self, batch_size: int, rng: np.random.Generator, *,
               episodes_per_batch: int | None = None) -> dict[str, Any]:
        """A random batch from ``rng`` (see ``sample_indices``)."""
        return self.batch(self.sample_indices(batch_size, rng,
                                              episodes_per_batch=episodes_per_batch))

    def iter_epoch(self, batch_size: int, rng: np.random.Generator | None = None, *,
                   shuffle_episodes: int = 32, drop_last: bool = False) -> Iterator[dict[str, Any]]:
        """One pass over every sample; random order from ``rng`` (None: in file order)."""
        order = rng.permutation(self.num_episodes) if rng is not None else np.arange(self.num_episodes)
        pending = np.zeros(0, np.int64)
        for lo in range(0, len(order), max(1, shuffle_episodes)):
            window = order[lo:lo + shuffle_episodes]
            idx = np.concatenate([np.arange(self._starts[e], self._starts[e + 1]) for e in window])
            if rng is not None:
                idx = rng.permutation(idx)
            pending = np.concatenate([pending, idx])
            while len(pending) >= batch_size:
                yield self.batch(pending[:batch_size])
                pending = pending[batch_size:]
        if len(pending) and not drop_last:
            yield self.batch(pending)

    def close(self) -> None:
        for df in self._handles.values():
            df.close()
        self._handles.clear()
        self._cache.clear()
