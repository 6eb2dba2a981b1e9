"""``DemoWriter``: append episodes to a demonstration file, committed atomically in batches.

Crash safety: the file on disk only ever changes by ``os.replace`` of a finished temporary
copy (``DemoWriter.commit``), so a killed writer leaves the last committed file (complete
episodes only) and at most one stale temporary, which the next writer deletes. HDF5 has no
journal: appending in place and getting killed can corrupt the whole file, which is why
episodes are buffered and committed in batches (copying the file is ~1 GB/s; a 500-episode
file is ~100 MB). A file is only resumed after it verifies (``training.data.verify``):
appending to a file with damaged data would hide the damage behind new episodes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from handspec.errors import InputError
from training.data.format import (CONTACT_DTYPE, FORMAT, FORMAT_VERSION, DatasetMeta, Episode,
                                  h5_key)
from training.data.reader import DemoFile
from training.locks import FileLock


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
        self._lock = FileLock(self.path.parent / f".{self.path.name}.lock",
                              "another process is writing this file", file=self.path,
                              field="--out")
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
        self._lock.acquire()  # creates the parent folder
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
                    self._check_resumable()
                    self._fresh = False
                else:  # replaced at the first commit; until then the old file stays
                    self.replaced = differs.field
                    self._committed = self._total = 0
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Drop the lock without committing (``commit`` first to keep buffered episodes)."""
        self._lock.release()

    def _check_resumable(self) -> None:
        """Refuse to append to a file whose committed data do not verify: new episodes
        would hide the damage (and a later copy would carry it along)."""
        from training.data.verify import verify_file

        try:
            report = verify_file(self.path, deep=True)
        except InputError as exc:
            raise InputError(f"cannot resume a damaged file ({exc.message}); pass --overwrite "
                             "to start afresh", file=self.path, field=exc.field) from None
        if not report.ok:
            where, message = report.problems[0]
            more = len(report.problems) - 1
            raise InputError(f"cannot resume a damaged file: {where}: {message}"
                             + (f" (and {more} more)" if more else "")
                             + "; run 'pianohands dataset verify' or pass --overwrite",
                             file=self.path, field="--out")

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
