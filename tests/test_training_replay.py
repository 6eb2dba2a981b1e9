"""Replay buffer: observations stored once, goal bits packed, exact round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handspec.errors import InputError
from training.rl.replay import ObsLayout, ReplayBuffer, active_capacity, active_indices

LAYOUT = ObsLayout(dense_dim=5, num_bits=13)  # 13 bits: packing pads the last byte
A = 3


def random_obs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return (rng.standard_normal(LAYOUT.dense_dim).astype(np.float32),
            (rng.random(LAYOUT.num_bits) < 0.3).astype(np.uint8))


def play(buffer: ReplayBuffer, episode_lengths: list[int], seed: int = 0):
    """Fills ``buffer``; returns every transition (obs, action, reward, discount, next_obs)."""
    rng = np.random.default_rng(seed)
    transitions = []
    for length in episode_lengths:
        obs = random_obs(rng)
        buffer.add_first(*obs)
        for t in range(length):
            action = rng.uniform(-1, 1, A).astype(np.float32)
            reward = float(rng.standard_normal())
            discount = 1.0 if t < length - 1 else float(rng.integers(0, 2))
            nxt = random_obs(rng)
            buffer.add(action, reward, discount, *nxt)
            transitions.append((obs, action, np.float32(reward), np.float32(discount), nxt))
            obs = nxt
        buffer.end_episode()
    return transitions


def decode(buffer: ReplayBuffer, slots: np.ndarray):
    batch = buffer.gather(slots)
    out = []
    for i in range(len(slots)):
        def obs(o, i=i):
            bits = np.zeros(LAYOUT.num_bits, np.uint8)
            idx = o.active[i][o.active[i] < LAYOUT.num_bits]
            bits[idx] = 1
            return o.dense[i], bits
        out.append((obs(batch.obs), batch.action[i], batch.reward[i], batch.discount[i],
                    obs(batch.next_obs)))
    return out


def same(t1, t2) -> bool:
    (o1, a1, r1, d1, n1), (o2, a2, r2, d2, n2) = t1, t2
    return (np.array_equal(o1[0], o2[0]) and np.array_equal(o1[1], o2[1]) and np.array_equal(a1, a2)
            and r1 == r2 and d1 == d2 and np.array_equal(n1[0], n2[0]) and np.array_equal(n1[1], n2[1]))


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(1, 9), min_size=1, max_size=8), capacity=st.integers(4, 40))
def test_every_sampled_transition_is_one_that_happened_exactly(lengths, capacity):
    """Across episode boundaries and ring wrap-around, a sample is always a real transition
    (next obs is the true successor; never a terminal->first pair; nothing stale)."""
    buffer = ReplayBuffer(capacity, LAYOUT, A, seed=1)
    transitions = play(buffer, lengths)
    valid = np.flatnonzero(buffer.valid)
    assert len(buffer) == len(valid)
    recent = transitions[-len(valid):] if valid.size else []
    for t in decode(buffer, valid):
        assert any(same(t, ref) for ref in recent)
    if valid.size:
        for t in decode(buffer, buffer.sample_slots(64)):
            assert any(same(t, ref) for ref in transitions)


def test_without_wrap_all_transitions_are_kept_in_order():
    buffer = ReplayBuffer(100, LAYOUT, A)
    transitions = play(buffer, [5, 1, 7])
    assert len(buffer) == 13  # 13 transitions in 13 + 3 slots (one terminal obs per episode)
    assert buffer.stored == 16
    decoded = decode(buffer, np.flatnonzero(buffer.valid))
    assert all(same(a, b) for a, b in zip(decoded, transitions))


def test_wrap_overwrites_oldest_and_invalidates_its_transition():
    buffer = ReplayBuffer(6, LAYOUT, A)
    transitions = play(buffer, [4, 4])  # 10 slots through a ring of 6
    valid = np.flatnonzero(buffer.valid)
    decoded = decode(buffer, valid)
    # The newest transitions survive; the first episode's are gone.
    assert all(any(same(d, t) for t in transitions[4:]) for d in decoded)
    assert len(buffer) == len(valid) <= 5


def test_packed_goal_bits_round_trip_exactly():
    rng = np.random.default_rng(3)
    layout = ObsLayout(dense_dim=2, num_bits=979)  # shadow_five: 968 + 11 goal bits
    buffer = ReplayBuffer(10, layout, 1)
    bits = [(rng.random(979) < p).astype(np.uint8) for p in (0.0, 0.02, 0.5, 1.0)]
    buffer.add_first(np.zeros(2, np.float32), bits[0])
    for b in bits[1:]:
        buffer.add(np.zeros(1, np.float32), 0.0, 1.0, np.zeros(2, np.float32), b)
    for slot, b in enumerate(bits):
        unpacked = np.unpackbits(buffer.bits[slot], count=979)
        np.testing.assert_array_equal(unpacked, b)
    assert buffer.max_active == 979


def test_bytes_per_transition_for_shadow_five_fits_the_target():
    layout = ObsLayout(dense_dim=1144 - 979, num_bits=979)
    buffer = ReplayBuffer(10, layout, 39)
    # 165 floats + 123 packed bytes + 39 action floats + reward + discount + valid flag
    assert buffer.bytes_per_transition == 165 * 4 + 123 + 39 * 4 + 4 + 4 + 1 == 948
    # 1M transitions (+1 slot per 550-step episode) stay far under 2 GiB.
    assert 1_000_000 * (1 + 1 / 550) * buffer.bytes_per_transition < 2 * 2**30


def test_active_indices_and_capacity():
    bits = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    idx = active_indices(bits)
    assert idx.shape == (3, 8) and idx.dtype == np.int32
    np.testing.assert_array_equal(idx[0, :3], [1, 3, 4])
    assert (idx[1] == 4).all()
    np.testing.assert_array_equal(idx[2, :5], [0, 1, 2, 3, 4])
    assert [active_capacity(n) for n in (0, 1, 8, 9, 22)] == [8, 8, 8, 16, 24]
    with pytest.raises(ValueError):
        active_indices(np.ones((1, 20), bool), 8)


def test_sample_shapes_for_a_scan_and_seeded_sampling():
    a, b = ReplayBuffer(50, LAYOUT, A, seed=7), ReplayBuffer(50, LAYOUT, A, seed=7)
    play(a, [10, 10])
    play(b, [10, 10])
    batch = a.sample(4, num_batches=3)
    assert batch.obs.dense.shape == (3, 4, LAYOUT.dense_dim)
    assert batch.action.shape == (3, 4, A) and batch.reward.shape == (3, 4)
    np.testing.assert_array_equal(batch.action, b.sample(4, num_batches=3).action)
    np.testing.assert_array_equal(a.sample_slots(16), b.sample_slots(16))


def test_add_before_add_first_is_an_error():
    buffer = ReplayBuffer(5, LAYOUT, A)
    with pytest.raises(RuntimeError):
        buffer.add(np.zeros(A), 0.0, 1.0, *random_obs(np.random.default_rng(0)))
    with pytest.raises(RuntimeError):
        buffer.sample_slots(1)


def test_save_and_load_round_trip(tmp_path):
    a = ReplayBuffer(30, LAYOUT, A, seed=5)
    play(a, [7, 9, 20])
    a.sample_slots(3)
    a.save(tmp_path / "r.npz")
    b = ReplayBuffer(30, LAYOUT, A, seed=0)
    b.load(tmp_path / "r.npz")
    for name in ("dense", "bits", "action", "reward", "discount", "valid"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.cursor, a.stored, a.num_valid, a.max_active) == (b.cursor, b.stored, b.num_valid, b.max_active)
    np.testing.assert_array_equal(a.sample_slots(10), b.sample_slots(10))  # sampler state too


def test_load_rejects_bad_files(tmp_path):
    buffer = ReplayBuffer(30, LAYOUT, A)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError) as err:
        buffer.load(tmp_path / "junk.npz")
    assert "junk.npz" in str(err.value) and "replay" in str(err.value)
    other = ReplayBuffer(31, LAYOUT, A)
    play(other, [3])
    other.save(tmp_path / "other.npz")
    with pytest.raises(InputError) as err:
        buffer.load(tmp_path / "other.npz")
    assert "buffer_size" in str(err.value)
