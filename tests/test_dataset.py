"""The demonstration file format: round trips, resume, atomic commits, verification, stats,
the imitation-learning loader and the ``dataset`` CLI (synthetic episodes, no simulator)."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handspec.errors import InputError
from pianoenv.metrics import step_prf
from training import data as ds
from training.data import writer as ds_writer
from training.data import (CONTACT_DTYPE, DatasetMeta, DemoFile, DemoLoader, DemoWriter,
                              Episode, compute_stats, fingering_matrix, per_step_prf,
                              recompute_metrics, verify_file)
from training.data.plot import plot_fig4

L, K = 2, ds.NUM_KEYS
THRESH = np.full(K, 0.9)
SPEC_JSON = '{"name": "toy"}'


def make_meta(T: int = 12, *, seed: int = 0, song: str = "toy:0",
              policy: dict | None = None) -> DatasetMeta:
    return DatasetMeta(
        song=song, song_name=song, chunk=0, num_steps=T, hand="toy",
        hand_hash=hashlib.sha256(SPEC_JSON.encode()).hexdigest()[:16], hand_spec=SPEC_JSON,
        fingering="ot", seed=seed, policy=policy or {"kind": "test"},
        obs_keys=("goal", "sustain_goal", "piano/keys", "fingertips"),
        obs_dims=(L * K, L, K, 6), binary_obs_keys=("goal", "sustain_goal"),
        action_min=(-1.0,) * 3, action_max=(1.0,) * 3,
        finger_names=("right/thumb", "left/thumb"), control_timestep=0.05,
        pressed_threshold=tuple(THRESH))


def goal_rows(T: int, song_seed: int = 7) -> np.ndarray:
    """(T+1, L*K) goal windows of a fixed random song (the same in every episode)."""
    song = np.random.default_rng(song_seed).random((T + L, K)) < 0.05
    return np.stack([song[t:t + L].reshape(-1) for t in range(T + 1)]).astype(np.uint8)


def make_episode(rng: np.random.Generator, T: int = 12, seed: int = 0) -> Episode:
    """A consistent episode: stored metrics are those the key states give."""
    goals = goal_rows(T)
    keys = rng.random((T + 1, K)).astype(np.float32)
    keys[1:][goals[:-1, :K].astype(bool) & (rng.random((T, K)) < 0.7)] = 1.0
    obs = OrderedDict(goal=goals[:-1], sustain_goal=np.zeros((T, L), np.uint8),
                      **{"piano/keys": keys[:-1]},
                      fingertips=rng.normal(size=(T, 6)).astype(np.float32))
    final = OrderedDict(goal=goals[-1], sustain_goal=np.zeros(L, np.uint8),
                        **{"piano/keys": keys[-1]},
                        fingertips=rng.normal(size=6).astype(np.float32))
    n = int(rng.integers(0, 5))
    contacts = np.zeros(n, CONTACT_DTYPE)
    contacts["step"] = rng.integers(0, T, n)
    contacts["finger"] = rng.integers(0, 2, n)
    contacts["key"] = rng.integers(0, K, n)
    rewards = rng.normal(size=T).astype(np.float32)
    ep = Episode(obs=obs, final_obs=final,
                 actions=rng.uniform(-1, 1, (T, 3)).astype(np.float32), rewards=rewards,
                 reward_terms={"press": rewards, "total": rewards}, contacts=contacts,
                 seed=seed)
    ep.metrics = recompute_metrics(ep, make_meta(T))
    return ep


def write(path: Path, n: int, *, T: int = 12, commit_every: int = 3, seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    eps = [make_episode(rng, T, seed=i) for i in range(n)]
    with DemoWriter(path, make_meta(T), commit_every=commit_every) as writer:
        for ep in eps:
            writer.add(ep)
    return eps


def assert_same(a: Episode, b: Episode) -> None:
    assert list(a.obs) == list(b.obs)
    for k in a.obs:
        np.testing.assert_array_equal(a.obs[k], b.obs[k])
        np.testing.assert_array_equal(a.final_obs[k], b.final_obs[k])
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.rewards, b.rewards)
    assert set(a.reward_terms) == set(b.reward_terms)
    np.testing.assert_array_equal(a.contacts, b.contacts)
    assert a.seed == b.seed
    assert a.metrics == pytest.approx(b.metrics)


# ----------------------------------------------------------------------------- round trip
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 7), T=st.integers(1, 20), commit_every=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_round_trip_is_exact(tmp_path_factory, n, T, commit_every, seed):
    path = tmp_path_factory.mktemp("rt") / "d.h5"
    eps = write(path, n, T=T, commit_every=commit_every, seed=seed)
    with DemoFile(path) as df:
        assert df.num_demos == n and df.total_steps == n * T
        assert df.meta == make_meta(T)
        for i, ep in enumerate(eps):
            assert_same(ep, df.episode(i))
            assert df.demo_attrs(i)["num_samples"] == T
    assert verify_file(path).ok
    assert not list(path.parent.glob(".*.tmp"))


def test_layout_is_robomimic(tmp_path):
    path = tmp_path / "d.h5"
    write(path, 2, T=5)
    with h5py.File(path) as f:
        data = f["data"]
        assert data.attrs["total"] == 10 and data.attrs["num_demos"] == 2
        env_args = json.loads(data.attrs["env_args"])
        assert env_args["env_kwargs"]["song"] == "toy:0"
        demo = data["demo_1"]
        assert set(demo) >= {"obs", "actions", "rewards", "dones"}
        assert demo["obs/piano_keys"].shape == (5, K)  # '/' in a key name is not a subgroup
        assert demo["obs/goal"].dtype == np.uint8
        np.testing.assert_array_equal(demo["dones"][()], [0, 0, 0, 0, 1])
        assert demo["actions"].compression == "gzip"


def test_meta_identity_and_attrs_round_trip(tmp_path):
    meta = make_meta()
    restored = DatasetMeta.from_attrs(meta.to_attrs(), "x")
    assert restored == meta
    attrs = meta.to_attrs()
    del attrs["hand_hash"]
    with pytest.raises(InputError, match="hand_hash"):
        DatasetMeta.from_attrs(attrs, "x")


def test_episode_seed_is_independent_of_history():
    seeds = [ds.episode_seed(3, i) for i in range(100)]
    assert len(set(seeds)) == 100
    assert ds.episode_seed(3, 7) == seeds[7]
    assert ds.episode_seed(3, 7, stream=1) != seeds[7]
    assert ds.episode_seed(4, 7) != seeds[7]


# ----------------------------------------------------------------------------- resume & safety
def test_resume_appends_after_committed_demos(tmp_path):
    path = tmp_path / "d.h5"
    rng = np.random.default_rng(1)
    eps = [make_episode(rng, seed=i) for i in range(7)]
    with DemoWriter(path, make_meta(), commit_every=2) as w:
        for ep in eps[:4]:
            w.add(ep)
    w = DemoWriter(path, make_meta(), commit_every=2)
    w.open()
    assert w.num_committed == 4 and w.num_demos == 4
    for ep in eps[4:]:
        w.add(ep)
    w.commit()
    w.release()
    with DemoFile(path) as df:
        assert df.num_demos == 7
        for i in range(7):
            assert_same(eps[i], df.episode(i))


def test_resume_refuses_a_different_collection(tmp_path):
    path = tmp_path / "d.h5"
    write(path, 1)
    with pytest.raises(InputError) as err:
        DemoWriter(path, make_meta(seed=1)).open()
    assert err.value.field == "seed" and str(path) in err.value.one_line()
    with pytest.raises(InputError) as err:
        DemoWriter(path, make_meta(song="other:0")).open()
    assert err.value.field == "song"


def test_mismatched_file_is_replaced_when_asked(tmp_path):
    path = tmp_path / "d.h5"
    write(path, 3)
    w = DemoWriter(path, make_meta(seed=8), replace_mismatched=True)
    w.open()
    assert w.replaced == "seed" and w.num_committed == 0
    w.add(make_episode(np.random.default_rng(0)))
    w.commit()
    w.release()
    with DemoFile(path) as df:
        assert df.num_demos == 1 and df.meta.seed == 8
    same = DemoWriter(path, make_meta(seed=8), replace_mismatched=True)
    same.open()  # identical collection: resumed, not replaced
    assert same.replaced is None and same.num_committed == 1
    same.release()


def test_context_manager_keeps_complete_episodes_on_error(tmp_path):
    path = tmp_path / "d.h5"
    with pytest.raises(RuntimeError):
        with DemoWriter(path, make_meta(), commit_every=100) as w:
            w.add(make_episode(np.random.default_rng(0)))
            raise RuntimeError("policy crashed")
    with DemoFile(path) as df:
        assert df.num_demos == 1


def test_overwrite_replaces_only_at_first_commit(tmp_path):
    path = tmp_path / "d.h5"
    write(path, 3)
    w = DemoWriter(path, make_meta(seed=5), overwrite=True, commit_every=10)
    w.open()
    w.add(make_episode(np.random.default_rng(0)))
    with DemoFile(path) as df:  # nothing committed yet: the old file is intact
        assert df.num_demos == 3 and df.meta.seed == 0
    w.commit()
    w.release()
    with DemoFile(path) as df:
        assert df.num_demos == 1 and df.meta.seed == 5


def test_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    path = tmp_path / "d.h5"
    with DemoWriter(path, make_meta()) as w:
        w.add(make_episode(np.random.default_rng(0)))
        with pytest.raises(InputError, match="another process is writing"):
            DemoWriter(path, make_meta()).open()
    DemoWriter(path, make_meta()).open()  # released on exit


def test_failed_commit_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "d.h5"
    write(path, 2)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    w = DemoWriter(path, make_meta(), commit_every=100)
    w.open()
    w.add(make_episode(np.random.default_rng(3)))
    monkeypatch.setattr(ds_writer.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        w.commit()
    monkeypatch.undo()
    w.release()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))
    assert verify_file(path).ok


def test_stale_temporary_of_a_killed_writer_is_removed(tmp_path):
    path = tmp_path / "d.h5"
    write(path, 1)
    stale = tmp_path / f".{path.name}.12345.tmp"
    stale.write_bytes(b"half an HDF5 file")
    w = DemoWriter(path, make_meta())
    w.open()
    w.release()
    assert not stale.exists()


def test_episode_that_does_not_fit_the_file_is_rejected(tmp_path):
    w = DemoWriter(tmp_path / "d.h5", make_meta(T=12))
    w.open()
    with pytest.raises(ValueError, match="steps"):
        w.add(make_episode(np.random.default_rng(0), T=11))
    w.release()
    assert not (tmp_path / "d.h5").exists()


# ----------------------------------------------------------------------------- verification
@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.h5"
    write(path, 3, T=8)
    return path


def _problems(path: Path) -> list[str]:
    return [f"{where}: {msg}" for where, msg in verify_file(path).problems]


@pytest.mark.parametrize("tamper, expect", [
    (lambda f: f["data/demo_1"].attrs.__setitem__("f1", 0.999), "demo_1.attrs.f1"),
    (lambda f: f["data"].attrs.__setitem__("num_demos", 5), "data.attrs.num_demos"),
    (lambda f: f["data"].attrs.__setitem__("total", 1), "data.attrs.total"),
    (lambda f: f["data"].attrs.__setitem__("hand_hash", "0" * 16), "data.attrs.hand_hash"),
    (lambda f: f["data"].move("demo_1", "demo_7"), "not contiguous"),
    (lambda f: f["data"].move("demo_2", "tmp_demo"), "data/tmp_demo"),
    (lambda f: f["data/demo_0"].__delitem__("actions"), "demo_0: missing actions"),
    (lambda f: f["data/demo_0/obs/goal"].__setitem__((0, 0), 3), "binary observation"),
    (lambda f: f["data/demo_2/actions"].__setitem__((1, 1), np.nan), "demo_2/actions: holds NaN"),
    (lambda f: f["data/demo_2/actions"].__setitem__((1, 1), 7.0), "outside the action spec"),
    (lambda f: f["data/demo_1/dones"].__setitem__(3, 1), "demo_1/dones"),
    (lambda f: f["data/demo_1/rewards"].__setitem__(0, 100.0), "demo_1.attrs.return"),
    (lambda f: f["data/demo_1/obs/piano_keys"].__setitem__(
        (slice(1, None), slice(None)), 0.0), "key states give"),
])
def test_verify_names_each_kind_of_damage(good, tamper, expect):
    with h5py.File(good, "a") as f:
        tamper(f)
    problems = _problems(good)
    assert any(expect in p for p in problems), problems


def test_verify_catches_mixed_songs(good, tmp_path):
    with h5py.File(good, "a") as f:
        goal = f["data/demo_2/obs/goal"]
        goal[...] = np.roll(goal[()], 1, axis=0)
    assert any("mixed songs" in p for p in _problems(good))


def test_verify_quick_skips_the_data(good):
    with h5py.File(good, "a") as f:
        f["data/demo_2/actions"][1, 1] = np.nan
    assert verify_file(good, deep=False).ok
    assert not verify_file(good).ok


@pytest.mark.parametrize("content, field", [
    (b"not hdf5 at all", "path"),
    (None, "format"),
])
def test_unreadable_or_foreign_files_are_input_errors(tmp_path, content, field):
    path = tmp_path / "x.h5"
    if content is None:
        with h5py.File(path, "w") as f:
            f.create_group("data")
    else:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        verify_file(path)
    assert err.value.field == field and err.value.file == str(path)


# ----------------------------------------------------------------------------- metrics helpers
@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 30))
def test_vectorised_prf_matches_the_environment(seed, T):
    rng = np.random.default_rng(seed)
    goal = rng.random((T, K)) < rng.random()
    pressed = rng.random((T, K)) < rng.random()
    got = per_step_prf(goal, pressed)
    want = np.array([step_prf(goal[t], pressed[t]) for t in range(T)])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_fingering_matrix_keeps_lowest_finger():
    c = np.array([(0, 1, 40), (0, 0, 40), (2, 1, 3)], CONTACT_DTYPE)
    m = fingering_matrix(c, 3)
    assert m.shape == (3, K) and m[0, 40] == 0 and m[2, 3] == 1
    assert (m >= 0).sum() == 2


# ----------------------------------------------------------------------------- stats
def test_stats_count_the_music_once_per_file(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write(a, 3, T=10)
    write(b, 1, T=10)
    st_ = compute_stats([a, b])
    goal = goal_rows(10)[:-1, :K].astype(bool)
    np.testing.assert_array_equal(st_.key_steps, 2 * goal.sum(axis=0))
    assert st_.active_keys == [int(goal.sum())] * 2
    assert len(st_.episode_f1) == 4 and len(st_.file_f1) == 2
    from fingering.keyboard import black_mask
    white = goal[:, ~black_mask()].sum() / goal.sum()
    assert st_.white_fraction == pytest.approx(white)
    assert st_.eval_f1 == [None, None]
    c = tmp_path / "c.h5"
    with DemoWriter(c, make_meta(10, policy={"kind": "droq", "eval_f1": 0.5})) as w:
        w.add(make_episode(np.random.default_rng(0), T=10))
    assert compute_stats([a, c]).eval_f1 == [None, 0.5]
    written = plot_fig4(st_, tmp_path / "plots")
    assert set(written) == {"pressed_keys", "active_keys", "f1", "fig4"}
    for p in written.values():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "plots").glob(".*"))


# ----------------------------------------------------------------------------- loader
@pytest.fixture
def two_files(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    ea = write(a, 2, T=6, seed=1)
    eb = write(b, 3, T=6, seed=2)
    return [a, b], ea + eb


def test_loader_windows_and_padding(two_files):
    paths, eps = two_files
    loader = DemoLoader(paths, obs_horizon=3, action_horizon=4)
    assert len(loader) == 5 * 6 and loader.num_episodes == 5
    idx = np.array([0, 5, 6 * 3 + 2])  # episode 0 step 0, episode 0 step 5, episode 3 step 2
    batch = loader.batch(idx)
    keys = batch["obs"]["piano/keys"]
    assert keys.shape == (3, 3, K) and batch["actions"].shape == (3, 4, 3)
    e0, e3 = eps[0], eps[3]
    np.testing.assert_array_equal(keys[0], e0.obs["piano/keys"][[0, 0, 0]])  # padded at start
    np.testing.assert_array_equal(keys[2], e3.obs["piano/keys"][[0, 1, 2]])
    np.testing.assert_array_equal(batch["actions"][1], e0.actions[[5, 5, 5, 5]])  # padded at end
    np.testing.assert_array_equal(batch["action_mask"][1], [True, False, False, False])
    np.testing.assert_array_equal(batch["actions"][2], e3.actions[2:6])
    assert batch["obs"]["goal"].dtype == np.float32


def test_loader_epoch_visits_every_sample_once(two_files):
    paths, _ = two_files
    loader = DemoLoader(paths, obs_keys=("piano/keys",), flatten=True)
    seen = []
    for batch in loader.iter_epoch(7, np.random.default_rng(0), shuffle_episodes=2):
        assert batch["obs"].shape[1:] == (1, K)
        seen.append(batch["obs"][:, 0])
    got = np.concatenate(seen)
    want = loader.batch(np.arange(len(loader)))["obs"][:, 0]
    assert got.shape == want.shape
    assert sorted(map(bytes, got)) == sorted(map(bytes, want))


def test_loader_sampling_is_reproducible_and_filters_by_f1(two_files):
    paths, eps = two_files
    loader = DemoLoader(paths)
    b1 = loader.sample(16, np.random.default_rng(3))
    b2 = loader.sample(16, np.random.default_rng(3))
    np.testing.assert_array_equal(b1["actions"], b2["actions"])
    cut = float(np.median([e.metrics["f1"] for e in eps]))
    kept = DemoLoader(paths, min_f1=cut)
    assert kept.num_episodes == sum(e.metrics["f1"] >= cut for e in eps)


def test_loader_episode_batched_sampling(two_files):
    paths, _ = two_files
    loader = DemoLoader(paths)
    rng = np.random.default_rng(0)
    seen = np.zeros(len(loader), int)
    for _ in range(300):
        idx = loader.sample_indices(32, rng, episodes_per_batch=2)
        episodes, _ = loader.locate(idx)
        assert len(np.unique(episodes)) <= 2
        np.add.at(seen, idx, 1)
    # every sample is reachable, roughly uniformly (30 samples; 300 * 32 / 30 = 320 each)
    assert seen.min() > 200 and seen.max() < 450


def test_loader_rejects_files_of_another_hand(tmp_path, two_files):
    paths, _ = two_files
    other = tmp_path / "other.h5"
    meta = make_meta(T=6)
    meta = DatasetMeta(**{**meta.__dict__, "obs_dims": (L * K, L, K, 9)})
    rng = np.random.default_rng(0)
    ep = make_episode(rng, T=6)
    ep.obs["fingertips"] = np.zeros((6, 9), np.float32)
    ep.final_obs["fingertips"] = np.zeros(9, np.float32)
    with DemoWriter(other, meta) as w:
        w.add(ep)
    with pytest.raises(InputError) as err:
        DemoLoader(paths + [other])
    assert err.value.file == str(other)
    with pytest.raises(InputError, match="no observation"):
        DemoLoader(paths, obs_keys=("nope",))


# ----------------------------------------------------------------------------- CLI
@pytest.fixture
def main():
    """``pianohands`` as a function: argv in, exit code out."""
    from training.cli import main

    return main


def test_cli_info_verify_stats(main, good, tmp_path, capsys):
    assert main(["dataset", "info", str(good)]) == 0
    assert "good.h5" in capsys.readouterr().out
    assert main(["dataset", "info", "--json", str(tmp_path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["files"][0]["demos"] == 3 and info["songs"]["toy"]["episodes"] == 3
    assert main(["dataset", "verify", str(good)]) == 0
    assert capsys.readouterr().out.startswith(f"ok {good}: 3 demos, 24 steps")
    assert main(["dataset", "stats", str(good), "--out", str(tmp_path / "s")]) == 0
    assert json.loads((tmp_path / "s" / "stats.json").read_text())["episodes"] == 3
    assert (tmp_path / "s" / "fig4.png").is_file()


def test_cli_verify_reports_problems_with_exit_2(main, good, capsys):
    with h5py.File(good, "a") as f:
        f["data/demo_1"].attrs["f1"] = 2.0
    assert main(["dataset", "verify", str(good)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"error: {good}: demo_1.attrs.f1: is 2.0")
    assert err[-1] == "error: 1 file failed verification"


@pytest.mark.parametrize("make, field", [
    (lambda p: None, "PATH: no such file"),
    (lambda p: p.write_bytes(b"junk"), "path: not a readable HDF5 file"),
    (lambda p: p.mkdir(), "PATH: directory holds no .h5 files"),
])
@pytest.mark.parametrize("command", ["info", "verify", "stats"])
def test_cli_bad_paths_give_one_line_and_exit_2(main, tmp_path, capsys, make, field, command):
    path = tmp_path / "bad.h5"
    make(path)
    assert main(["dataset", command, str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"error: {path}: {field}" or err[0].startswith(f"error: {path}: {field}")
    assert len([line for line in err if "Traceback" in line]) == 0
