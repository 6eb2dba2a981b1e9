"""``DemoLoader``: (observation, action) batches for imitation learning from many files."""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from handspec.errors import InputError
from training.data.format import DatasetMeta, h5_key
from training.data.reader import DemoFile


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
        df = self._file(ref.file)
        # stored dtypes (uint8 goals) stay in the cache; rows are converted when gathered
        arrays = {k: df.read(ref.demo, f"obs/{h5_key(k)}") for k in self.obs_keys}
        arrays["__actions__"] = df.read(ref.demo, "actions")
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
