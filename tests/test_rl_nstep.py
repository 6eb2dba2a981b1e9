"""n-step returns in the replay: hand-computed targets, episode ends, write head, wrap."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.rl.replay import ObsLayout, ReplayBuffer, active_capacity

LAYOUT = ObsLayout(dense_dim=2, num_bits=5)
A = 2


def obs(episode: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """An observation that names its episode and step (dense part) with some goal bits."""
    bits = np.zeros(LAYOUT.num_bits, np.uint8)
    bits[(episode + t) % LAYOUT.num_bits] = 1
    return np.array([episode, t], np.float32), bits


def fill(buffer: ReplayBuffer, episodes: list[tuple[list[float], list[float]]],
         close_last: bool = True) -> None:
    """Episodes given as (rewards, discounts); the last stays open unless ``close_last``."""
    for e, (rewards, discounts) in enumerate(episodes):
        buffer.add_first(*obs(e, 0))
        for t, (r, d) in enumerate(zip(rewards, discounts)):
            buffer.add(np.full(A, t, np.float32), r, d, *obs(e, t + 1))
        if close_last or e < len(episodes) - 1:
            buffer.end_episode()


def slot_of(buffer: ReplayBuffer, episode: int, t: int) -> int:
    (slot,) = np.flatnonzero((buffer.dense[:, 0] == episode) & (buffer.dense[:, 1] == t)
                             & buffer.valid)
    return int(slot)


def test_hand_computed_three_step_targets_terminal_and_time_limit():
    gamma = 0.5
    rewards = [1.0, 2.0, 3.0, 4.0]
    for end_discount in (0.0, 1.0):  # a terminal, then a time-limit end (bootstraps)
        buffer = ReplayBuffer(20, LAYOUT, A, n_step=3, discount=gamma)
        fill(buffer, [(rewards, [1.0, 1.0, 1.0, end_discount])])
        batch = buffer.gather(np.array([0, 1, 2, 3]))
        # slot 0: 1 + .5*2 + .25*3, bootstrap from obs 3 with gamma^3 = gamma * 0.25
        # slot 1: 2 + .5*3 + .25*4, from obs 4 (the last) with gamma^3 * d
        # slot 2: 3 + .5*4 (the episode ends), from obs 4 with gamma^2 * d
        # slot 3: 4, from obs 4 with gamma * d
        np.testing.assert_allclose(batch.reward, [2.75, 4.5, 5.0, 4.0])
        d = end_discount
        np.testing.assert_allclose(batch.discount, [0.25, 0.25 * d, 0.5 * d, 1.0 * d])
        np.testing.assert_array_equal(batch.next_obs.dense[:, 1], [3, 4, 4, 4])
        np.testing.assert_array_equal(batch.obs.dense[:, 1], [0, 1, 2, 3])
        np.testing.assert_array_equal(batch.action[:, 0], [0, 1, 2, 3])  # the first action
        # the agent's target r + gamma * discount * V(next): gamma^m for an m-step window
        np.testing.assert_allclose(gamma * batch.discount, [0.125, 0.125 * d, 0.25 * d, 0.5 * d])


def test_mid_episode_discounts_weight_later_rewards():
    buffer = ReplayBuffer(20, LAYOUT, A, n_step=3, discount=0.9)
    fill(buffer, [([1.0, 10.0, 100.0, 0.0], [0.5, 0.5, 1.0, 1.0])])
    batch = buffer.gather(np.array([0]))
    # r0 + g d0 r1 + g^2 d0 d1 r2; discount g^2 d0 d1 d2
    assert batch.reward[0] == pytest.approx(1 + 0.9 * 0.5 * 10 + 0.81 * 0.25 * 100, rel=1e-6)
    assert batch.discount[0] == pytest.approx(0.81 * 0.25, rel=1e-6)


def test_one_step_batches_are_the_stored_arrays_bit_for_bit():
    rng = np.random.default_rng(0)
    episodes = [(list(rng.standard_normal(n)), [1.0] * (n - 1) + [float(rng.integers(2))])
                for n in (7, 3, 9, 5)]
    default, explicit = ReplayBuffer(16, LAYOUT, A), ReplayBuffer(16, LAYOUT, A, n_step=1,
                                                                  discount=0.88)
    for buffer in (default, explicit):
        fill(buffer, episodes, close_last=False)
    slots = default.sample_slots(64)
    k = active_capacity(default.max_active)
    for buffer in (default, explicit):
        batch = buffer.gather(slots)
        assert batch.reward.dtype == np.float32 and batch.discount.dtype == np.float32
        np.testing.assert_array_equal(batch.reward, default.reward[slots])
        np.testing.assert_array_equal(batch.discount, default.discount[slots])
        np.testing.assert_array_equal(batch.action, default.action[slots])
        np.testing.assert_array_equal(batch.next_obs.dense, default.dense[(slots + 1) % 16])
        assert batch.obs.active.shape == (64, k)


def test_windows_stop_at_the_write_head_of_an_open_episode():
    buffer = ReplayBuffer(20, LAYOUT, A, n_step=5, discount=1.0)
    fill(buffer, [([1.0] * 4, [1.0] * 4), ([1.0] * 3, [1.0] * 3)], close_last=False)
    batch = buffer.gather(np.array([slot_of(buffer, 1, 0), slot_of(buffer, 0, 1)]))
    # episode 1 has 3 steps so far: its window ends at the newest observation (step 3)
    assert batch.reward[0] == 3.0 and batch.next_obs.dense[0].tolist() == [1, 3]
    # episode 0's window ends at its last observation, not in episode 1
    assert batch.reward[1] == 3.0 and batch.next_obs.dense[1].tolist() == [0, 4]


def reference(episodes, episode: int, t: int, n: int, gamma: float):
    """n-step (reward, discount / gamma, next step) of step t, from the episode lists."""
    rewards, discounts = episodes[episode]
    m = min(n, len(rewards) - t)
    total, scale = 0.0, 1.0
    for k in range(m):
        total += scale * rewards[t + k]
        scale *= gamma * discounts[t + k]
    return total, scale / gamma, t + m


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(1, 9), min_size=1, max_size=7),
       capacity=st.integers(4, 30), n=st.integers(1, 6), close_last=st.booleans(),
       seed=st.integers(0, 2**16))
def test_every_window_matches_the_episodes(lengths, capacity, n, close_last, seed):
    """Random episodes through a small ring (wrap-around, partly overwritten episodes, an
    open last episode): every valid slot's n-step transition equals the one computed from
    the episodes as played."""
    rng = np.random.default_rng(seed)
    gamma = 0.8
    episodes = [([float(x) for x in rng.integers(-3, 4, size=length)],
                 [float(x) for x in rng.choice([1.0, 0.5], size=length - 1)]
                 + [float(rng.integers(2))]) for length in lengths]
    buffer = ReplayBuffer(capacity, LAYOUT, A, n_step=n, discount=gamma)
    fill(buffer, episodes, close_last=close_last)
    slots = np.flatnonzero(buffer.valid)
    if not slots.size:
        return
    batch = buffer.gather(slots)
    for i, slot in enumerate(slots):
        episode, t = (int(v) for v in buffer.dense[slot])
        reward, discount, last = reference(episodes, episode, t, n, gamma)
        assert batch.reward[i] == pytest.approx(reward, rel=1e-6, abs=1e-6)
        assert batch.discount[i] == pytest.approx(discount, rel=1e-6, abs=1e-7)
        assert batch.next_obs.dense[i].tolist() == [episode, last]
        assert batch.obs.dense[i].tolist() == [episode, t]


def test_saved_replay_gives_the_same_n_step_batches(tmp_path):
    """The stored data do not depend on n: a replay saved by a one-step buffer loads into a
    three-step one and samples what a three-step buffer filled the same way samples."""
    episodes = [([1.0, 2.0, 3.0, 4.0, 5.0], [1.0] * 4 + [0.0]), ([1.0] * 6, [1.0] * 6)]
    one, three = ReplayBuffer(9, LAYOUT, A, seed=3), ReplayBuffer(9, LAYOUT, A, seed=3,
                                                                  n_step=3, discount=0.9)
    for buffer in (one, three):
        fill(buffer, episodes, close_last=False)  # wraps: 13 observations in 9 slots
    one.save(tmp_path / "replay.npz")
    loaded = ReplayBuffer(9, LAYOUT, A, n_step=3, discount=0.9)
    loaded.load(tmp_path / "replay.npz")
    a, b = loaded.sample(4, 3), three.sample(4, 3)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(u, v)
    assert a.reward.shape == (3, 4) and not np.array_equal(a.reward, one.sample(4, 3).reward)


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        ReplayBuffer(10, LAYOUT, A, n_step=0)
    with pytest.raises(ValueError):
        ReplayBuffer(10, LAYOUT, A, n_step=3, discount=1.5)
