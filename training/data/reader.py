"""Read demonstration files: ``DemoFile`` (lazy, per demo) and ``fingering_matrix``.

Every read of stored data goes through ``read_dataset``, which turns HDF5's failures (a
flipped byte in a compressed chunk: "filter returned failure during read") into one
``InputError`` naming the file and the dataset.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from handspec.errors import InputError
from training.data.format import (FORMAT, FORMAT_VERSION, NUM_KEYS, DatasetMeta, Episode,
                                  demo_index, h5_key)


def read_dataset(node: h5py.Group, name: str, path: Path | str, where: str) -> np.ndarray:
    """``node[name][()]``; a missing entry or an HDF5 read failure (a corrupt chunk) is an
    ``InputError`` naming the file and ``where``."""
    try:
        return node[name][()]
    except KeyError:
        raise InputError("missing", file=path, field=where) from None
    except (OSError, RuntimeError, ValueError) as exc:
        first = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise InputError(f"unreadable ({first})", file=path, field=where) from None


def _open_h5(path: Path) -> h5py.File:
    if not path.exists():
        raise InputError("no such file", file=path, field="path")
    if path.is_dir():
        raise InputError("is a directory, expected an .h5 file", file=path, field="path")
    try:
        f = h5py.File(path, "r")
    except (OSError, RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise InputError(f"not a readable HDF5 file ({first})", file=path, field="path") from None
    try:
        fmt, has_data = f.attrs.get("format"), "data" in f
        version = int(f.attrs.get("format_version", -1))
    except (OSError, RuntimeError, ValueError, TypeError) as exc:
        f.close()
        raise InputError(f"unreadable header ({' '.join(str(exc).split())[:160]})", file=path,
                         field="format") from None
    if fmt != FORMAT or not has_data:
        f.close()
        raise InputError(f"not a {FORMAT} file (missing format attribute or /data)", file=path,
                         field="format")
    if version != FORMAT_VERSION:
        f.close()
        raise InputError(f"format_version {version} is not supported (expected "
                         f"{FORMAT_VERSION})", file=path, field="format_version")
    return f


class DemoFile:
    """Read access to one demonstration file (lazy: nothing is read until asked for)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._f = _open_h5(self.path)
        try:
            self._data = self._f["data"]
            self.meta = DatasetMeta.from_attrs(self._data.attrs, self.path)
            self._names = sorted((n for n in self._data if demo_index(n) is not None),
                                 key=demo_index)
        except InputError:
            self._f.close()
            raise
        except (OSError, RuntimeError, ValueError, TypeError) as exc:
            self._f.close()
            raise InputError(f"unreadable ({' '.join(str(exc).split())[:160]})",
                             file=self.path, field="data") from None

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
        try:
            return self._data[f"demo_{index}"]
        except (KeyError, OSError, RuntimeError, ValueError) as exc:
            raise InputError(f"unreadable ({' '.join(str(exc).split())[:160]})",
                             file=self.path, field=f"demo_{index}") from None

    def demo_attrs(self, index: int) -> dict[str, Any]:
        try:
            return {k: (v.item() if isinstance(v, np.generic) else v)
                    for k, v in self.group(index).attrs.items()}
        except (OSError, RuntimeError, ValueError) as exc:
            raise InputError(f"unreadable attributes ({' '.join(str(exc).split())[:160]})",
                             file=self.path, field=f"demo_{index}.attrs") from None

    def read(self, index: int, name: str) -> np.ndarray:
        """One dataset of demo ``index`` (``"actions"``, ``"obs/goal"``...), read whole."""
        return read_dataset(self.group(index), name, self.path, f"demo_{index}/{name}")

    def episode(self, index: int, *, binary_as_float: bool = False) -> Episode:
        g = self.group(index)
        meta = self.meta

        def conv(key: str, a: np.ndarray) -> np.ndarray:
            return a.astype(np.float32) if binary_as_float and key in meta.binary_obs_keys else a

        obs = OrderedDict((k, conv(k, self.read(index, f"obs/{h5_key(k)}")))
                          for k in meta.obs_keys)
        final = OrderedDict((k, conv(k, self.read(index, f"final_obs/{h5_key(k)}")))
                            for k in meta.obs_keys)
        attrs = self.demo_attrs(index)
        try:
            terms = list(g["reward_terms"])
        except (KeyError, OSError, RuntimeError) as exc:
            raise InputError(f"unreadable ({exc})", file=self.path,
                             field=f"demo_{index}/reward_terms") from None
        return Episode(obs=obs, final_obs=final, actions=self.read(index, "actions"),
                       rewards=self.read(index, "rewards"),
                       reward_terms={k: self.read(index, f"reward_terms/{k}") for k in terms},
                       contacts=self.read(index, "contacts"), seed=int(attrs.get("seed", 0)),
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
