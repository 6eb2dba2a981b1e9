"""Replay buffer that stores each observation once and bit-packs the binary part.

Layout (one ring of ``capacity`` slots, all numpy):

* ``dense[i]``  float32 (Dd,)   real-valued observation part of the i-th stored step
* ``bits[i]``   uint8 (ceil(Db/8),) ``np.packbits`` of the binary part (goals etc.)
* ``action[i]``, ``reward[i]``, ``discount[i]``: the step taken *from* observation i
* ``valid[i]``  True when slot i holds a complete transition (i, action, reward, discount,
  next observation in slot i+1 mod capacity)

An episode of T steps uses T+1 slots (its last observation has no action, ``valid`` False),
so ``next_obs`` is never stored twice: that halves observation memory versus the usual
(obs, next_obs) layout and the packing cuts the 979 goal floats of shadow_five to 123 bytes.
Writes go strictly in order, so slot i+1 always holds slot i's successor while slot i is
valid; the slot being written is marked invalid first. Sampling draws uniformly among valid
slots (rejection: at most one slot in an episode is invalid).

n-step returns (``n_step > 1``) are formed when sampling, from the one-step data: the
window of slot i is slots i, i+1, ... while they are valid, at most ``n`` of them. A slot
that is not valid ends the window: it is an episode's last observation or the write head
(the observation waiting for its action), so a window never crosses an episode boundary or
overwritten data; it wraps around the ring like the slots do. With ``m`` steps in the window,
``reward`` = sum_k gamma^k (prod_{j<k} d_j) r_k, ``next_obs`` the observation after step
``m``, and ``discount`` = gamma^(m-1) prod_{j<m} d_j (the agent multiplies by gamma once
more): a terminal (d = 0) stops bootstrapping, a time-limit end (d = 1) bootstraps from the
episode's last observation, exactly as the one-step transitions do. ``n_step=1`` gathers
the stored arrays as they are. The stored data do not depend on ``n_step`` (a saved replay
loads whatever the setting).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from handspec.atomic import write_bytes
from handspec.errors import InputError
from training.rl.agent import Batch
from training.rl.networks import Obs

ACTIVE_STEP = 8


def active_capacity(count: int) -> int:
    """Width K of the active-index arrays: count rounded up to a multiple of 8 (at least 8).

    Every distinct K is one more jit compilation; the replay passes its running maximum, which
    only grows, so a run compiles a handful of shapes at most.
    """
    return max(ACTIVE_STEP, -(-count // ACTIVE_STEP) * ACTIVE_STEP)


def active_indices(bits: np.ndarray, capacity: int | None = None) -> np.ndarray:
    """(B, Db) 0/1 array -> (B, K) int32 indices of its ones, padded with Db.

    ``capacity`` is K (default: ``active_capacity`` of the largest row count).
    """
    bits = np.asarray(bits).astype(bool, copy=False)
    batch, num_bits = bits.shape
    counts = bits.sum(axis=1)
    k = active_capacity(int(counts.max(initial=0))) if capacity is None else capacity
    if counts.max(initial=0) > k:
        raise ValueError(f"{int(counts.max())} active bits exceed capacity {k}")
    out = np.full((batch, k), num_bits, np.int32)
    rows, cols = np.nonzero(bits)
    starts = np.cumsum(counts) - counts
    out[rows, np.arange(rows.size) - np.repeat(starts, counts)] = cols
    return out


@dataclass(frozen=True)
class ObsLayout:
    """How a flat observation splits into its real-valued and binary parts."""

    dense_dim: int
    num_bits: int

    @property
    def packed_bytes(self) -> int:
        return (self.num_bits + 7) // 8


class ReplayBuffer:
    """Ring buffer of transitions; ``sample`` returns a ``Batch`` of numpy arrays."""

    def __init__(self, capacity: int, layout: ObsLayout, action_dim: int, seed: int = 0, *,
                 n_step: int = 1, discount: float = 1.0):
        if capacity < 2:
            raise ValueError("capacity must be >= 2")
        if n_step < 1 or not 0.0 <= discount <= 1.0:
            raise ValueError("n_step must be >= 1 and discount in [0, 1]")
        self.capacity = capacity
        self.n_step = n_step
        self.gamma = discount    # for n-step sums (DroQConfig.discount)
        self.layout = layout
        self.action_dim = action_dim
        self.dense = np.zeros((capacity, layout.dense_dim), np.float32)
        self.bits = np.zeros((capacity, layout.packed_bytes), np.uint8)
        self.action = np.zeros((capacity, action_dim), np.float32)
        self.reward = np.zeros((capacity,), np.float32)
        self.discount = np.zeros((capacity,), np.float32)
        self.valid = np.zeros((capacity,), bool)
        self.rng = np.random.default_rng(seed)
        self.cursor = 0          # slot of the most recent observation
        self.stored = 0          # slots written so far (saturates at capacity)
        self.num_valid = 0
        self.max_active = 0      # most ones in one stored binary part (sets K)
        self._open = False       # an observation waits for its action

    # ---------------------------------------------------------------- sizes
    @property
    def bytes_per_transition(self) -> int:
        """Bytes of storage per slot (~ per transition: one slot per step, +1 per episode)."""
        return (self.dense.itemsize * self.layout.dense_dim + self.layout.packed_bytes
                + self.action.itemsize * self.action_dim + self.reward.itemsize
                + self.discount.itemsize + self.valid.itemsize)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.dense, self.bits, self.action, self.reward,
                                      self.discount, self.valid))

    def __len__(self) -> int:
        return self.num_valid

    # ---------------------------------------------------------------- writing
    def _write_obs(self, slot: int, dense: np.ndarray, bits: np.ndarray) -> None:
        if self.valid[slot]:
            self.valid[slot] = False
            self.num_valid -= 1
        self.dense[slot] = dense
        bits = np.asarray(bits)
        self.bits[slot] = np.packbits(bits.astype(bool, copy=False))
        self.max_active = max(self.max_active, int(np.count_nonzero(bits)))
        self.stored = min(self.stored + 1, self.capacity)

    def add_first(self, dense: np.ndarray, bits: np.ndarray) -> None:
        """Stores the first observation of an episode."""
        slot = (self.cursor + 1) % self.capacity if self.stored else 0
        self._write_obs(slot, dense, bits)
        self.cursor = slot
        self._open = True

    def add(self, action: np.ndarray, reward: float, discount: float,
            next_dense: np.ndarray, next_bits: np.ndarray) -> None:
        """Stores the step taken from the latest observation and the observation it led to."""
        if not self._open:
            raise RuntimeError("add_first must start an episode before add")
        slot = self.cursor
        nxt = (slot + 1) % self.capacity
        self._write_obs(nxt, next_dense, next_bits)  # invalidates the old transition in nxt
        self.action[slot] = action
        self.reward[slot] = reward
        self.discount[slot] = discount
        self.valid[slot] = True
        self.num_valid += 1
        self.cursor = nxt

    def end_episode(self) -> None:
        """The latest observation is terminal: no transition starts from it."""
        self._open = False

    # ---------------------------------------------------------------- reading
    def _obs(self, slots: np.ndarray, capacity: int) -> Obs:
        bits = np.unpackbits(self.bits[slots], axis=1, count=self.layout.num_bits)
        return Obs(self.dense[slots], active_indices(bits, capacity))

    def sample_slots(self, n: int) -> np.ndarray:
        if self.num_valid == 0:
            raise RuntimeError("the replay buffer holds no transition yet")
        slots = self.rng.integers(0, self.stored, size=n)
        bad = ~self.valid[slots]
        while bad.any():  # rare: about one slot per episode is not a transition
            slots[bad] = self.rng.integers(0, self.stored, size=int(bad.sum()))
            bad = ~self.valid[slots]
        return slots

    def gather(self, slots: np.ndarray) -> Batch:
        """The transitions starting at ``slots`` (valid ones), n-step when ``n_step > 1``."""
        capacity = active_capacity(self.max_active)
        if self.n_step == 1:
            reward, discount, last = self.reward[slots], self.discount[slots], slots
        else:
            reward, discount, last = self._n_step(slots)
        nxt = (last + 1) % self.capacity
        return Batch(self._obs(slots, capacity), self.action[slots], reward, discount,
                     self._obs(nxt, capacity))

    def _n_step(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(discounted reward sums, gamma^(m-1) * discount products, slot of each window's
        last step) over windows of up to ``n_step`` valid slots (see the module docstring)."""
        gamma = self.gamma
        reward = self.reward[slots].astype(np.float64)
        scale = self.discount[slots].astype(np.float64)   # gamma^k prod_{j<=k} d_j so far
        last = slots.copy()
        open_ = np.ones(slots.shape, bool)
        for k in range(1, self.n_step):
            slot = (slots + k) % self.capacity
            open_ &= self.valid[slot]
            reward += np.where(open_, gamma * scale * self.reward[slot], 0.0)
            scale = np.where(open_, gamma * scale * self.discount[slot], scale)
            last = np.where(open_, slot, last)
        return reward.astype(np.float32), scale.astype(np.float32), last

    def sample(self, batch_size: int, num_batches: int | None = None) -> Batch:
        """``num_batches`` None: one (B, ...) batch; else stacked (n, B, ...) for a scan."""
        if num_batches is None:
            return self.gather(self.sample_slots(batch_size))
        slots = self.sample_slots(batch_size * num_batches)
        batch = self.gather(slots)
        return _reshape(batch, (num_batches, batch_size))

    # ---------------------------------------------------------------- persistence
    _ARRAYS = ("dense", "bits", "action", "reward", "discount", "valid")
    _SCALARS = ("cursor", "stored", "num_valid", "max_active", "_open")

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {name: getattr(self, name) for name in self._ARRAYS}
        for name in self._SCALARS:
            state[name] = np.asarray(getattr(self, name))
        state["rng"] = np.frombuffer(
            _json_bytes(self.rng.bit_generator.state), dtype=np.uint8)
        return state

    def load_state_dict(self, state: dict[str, Any], file: str | Path | None = None) -> None:
        for name in self._ARRAYS:
            array = np.asarray(state[name])
            mine = getattr(self, name)
            if array.shape[1:] != mine.shape[1:] or array.dtype != mine.dtype:
                raise InputError(f"replay array has shape {array.shape}, expected "
                                 f"(N,{','.join(map(str, mine.shape[1:]))})", file=file, field=name)
        capacity = len(state["valid"])
        if capacity != self.capacity:
            raise InputError(f"saved capacity {capacity} != configured {self.capacity}",
                             file=file, field="buffer_size")
        for name in self._ARRAYS:
            setattr(self, name, np.array(state[name]))
        for name in self._SCALARS:
            value = np.asarray(state[name]).item()
            setattr(self, name, bool(value) if name == "_open" else int(value))
        self.rng.bit_generator.state = json.loads(bytes(np.asarray(state["rng"])).decode())

    def save(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **self.state_dict())
        write_bytes(path, buffer.getvalue())

    def load(self, path: Path) -> None:
        try:
            with np.load(path) as data:
                state = {k: data[k] for k in data.files}
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise InputError(f"cannot read replay ({exc})", file=path, field="replay") from None
        missing = [k for k in self._ARRAYS + self._SCALARS + ("rng",) if k not in state]
        if missing:
            raise InputError("replay file lacks arrays", file=path, field=missing[0])
        self.load_state_dict(state, path)


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _reshape(batch: Batch, lead: tuple[int, int]) -> Batch:
    return jax.tree.map(lambda x: x.reshape(lead + x.shape[1:]), batch)
