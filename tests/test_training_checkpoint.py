"""Checkpoints: atomic, checksummed, newest-good-one fallback, one-line errors."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from handspec.errors import InputError
from training import checkpoint as ckpt
from training.rl.agent import DroQ
from training.rl.config import DroQConfig

# The agent tests' config and the fake environment's sizes: init compiles once per session.
AGENT = DroQ(DroQConfig(hidden_dims=(32, 32)), 26, 21, 7)


def state(seed: int):
    return AGENT.init(seed)


def leaves_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_round_trip_and_keep_last_two(tmp_path):
    for step, seed in ((10, 1), (20, 2), (30, 3)):
        ckpt.save_checkpoint(tmp_path, step, state(seed), {"episode": step // 10}, keep=2)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [30, 20]
    found = ckpt.load_latest(tmp_path, state(0))
    assert found.step == 30 and found.meta["episode"] == 3
    assert leaves_equal(found.agent, state(3))
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_newest_falls_back_with_a_warning(tmp_path, damage):
    ckpt.save_checkpoint(tmp_path, 10, state(1), {}, keep=2)
    newest = ckpt.save_checkpoint(tmp_path, 20, state(2), {}, keep=2)
    blob = newest.read_bytes()
    newest.write_bytes({"truncate": blob[: len(blob) // 2],
                        "flip": blob[:-5] + bytes([blob[-5] ^ 0xFF]) + blob[-4:],
                        "garbage": b"\x00" * 100, "empty": b""}[damage])
    with pytest.warns(ckpt.CheckpointWarning, match="step_0000000020"):
        found = ckpt.load_latest(tmp_path, state(0))
    assert found.step == 10 and leaves_equal(found.agent, state(1))


def test_nothing_readable_is_one_input_error(tmp_path):
    for step in (10, 20):
        path = ckpt.save_checkpoint(tmp_path, step, state(1), {}, keep=2)
        path.write_bytes(path.read_bytes()[:50])
    with pytest.warns(ckpt.CheckpointWarning), pytest.raises(InputError) as err:
        ckpt.load_latest(tmp_path, state(0))
    line = err.value.one_line()
    assert str(tmp_path) in line and "checkpoint" in line and "\n" not in line
    with pytest.raises(InputError, match="no readable checkpoint"):
        ckpt.check_intact(tmp_path)  # the cheap pre-check (no template) agrees
    ckpt.check_intact(tmp_path / "missing")  # nothing saved yet is not an error here


def test_empty_directory_has_no_checkpoint(tmp_path):
    assert ckpt.load_latest(tmp_path / "none", state(0)) is None


def test_checkpoint_of_another_network_is_rejected(tmp_path):
    wider = state(0)
    wider = wider.replace(actor=jax.tree.map(lambda x: np.zeros(x.shape[:-1] + (x.shape[-1] + 1,),
                                                                x.dtype) if x.ndim else x,
                                             wider.actor))
    path = ckpt.save_checkpoint(tmp_path, 5, wider, {})
    with pytest.raises(InputError) as err:
        ckpt.read_checkpoint(path, state(0))
    assert err.value.file == str(path)


def test_replay_is_written_before_its_checkpoint_and_pruned_with_it(tmp_path):
    from training.rl.replay import ObsLayout, ReplayBuffer

    replay = ReplayBuffer(8, ObsLayout(2, 3), 1)
    for step in (1, 2, 3):
        ckpt.save_checkpoint(tmp_path, step, state(0), {}, replay=replay, keep=2)
    assert sorted(p.name for p in tmp_path.glob("replay_*.npz")) == \
        ["replay_0000000002.npz", "replay_0000000003.npz"]
    found = ckpt.load_latest(tmp_path, state(0), need_replay=True)
    assert found.replay_path.name == "replay_0000000003.npz"
    found.replay_path.unlink()
    with pytest.warns(ckpt.CheckpointWarning, match="replay"):
        assert ckpt.load_latest(tmp_path, state(0), need_replay=True).step == 2
