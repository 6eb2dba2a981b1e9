"""The demonstration file format: names, dtypes, and the records stored in it.

One file holds the expert rollouts of one specialist (one song chunk, one hand), in the
robomimic HDF5 layout::

    /                      attrs: format, format_version
    /data                  attrs: total (steps), num_demos, env_args (JSON, robomimic), and
                                  the provenance below (song, chunk, hand, hand_hash, ...)
    /data/demo_<i>         attrs: num_samples, seed, f1, precision, recall, return
        obs/<key>          (T, D) float32; binary keys (goals) as uint8 0/1
        final_obs/<key>    (D,)   the observation after the last action
        actions            (T, A) float32, the executed (clipped) actions
        rewards, dones     (T,)   float32, uint8 (1 on the last step: a time limit)
        reward_terms/<n>   (T,)   float32, each named reward term (Eq. 3) and ``total``
        contacts           (N,)   (step, finger, key): which finger pressed which key when,
                                  finger indexes ``finger_names`` (the learned fingering)

``obs[t]`` is what the policy saw before ``actions[t]``; ``obs[t+1]`` (or ``final_obs``) is
the next observation, so ``next_obs`` is not stored twice. Observation names with a ``/``
(``piano/keys``) are stored as ``piano_keys``; the reader gives back the original names.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
    fingering: str                 # ot | human | annotator | none
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


def demo_index(name: str) -> int | None:
    m = _DEMO.match(name)
    return int(m.group(1)) if m else None


def spec_json_hash(spec_json: str) -> str:
    """``handspec.load.spec_hash`` recomputed from the stored JSON (no handspec import)."""
    return hashlib.sha256(spec_json.encode()).hexdigest()[:16]
