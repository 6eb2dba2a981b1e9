"""The collector on the real environment: what it stores, determinism, resume, a SIGKILL in
the middle of a collection, DroQ policies from a run directory, and the ``collect`` CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from handspec.errors import InputError
from pianoenv.policy import make_policy
from training.collect import (collect, dataset_meta, load_policy, registered_policy, rollout)
from training.data import DemoFile, episode_seed, fingering_matrix, recompute_metrics, verify_file

SONG = "demo_short"  # 100 steps
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def source():
    return registered_policy(SONG, "shadow_five", "random")


def test_rollout_stores_what_the_environment_saw(source):
    env = source.env
    ep = rollout(env, source.policy, seed=11)
    T = env.num_steps
    assert ep.num_steps == T == 100
    assert list(ep.obs) == list(env.observation_spec())
    assert ep.obs["goal"].dtype == np.uint8 and ep.obs["fingertips"].dtype == np.float32
    # obs[0] is the reset observation; final_obs follows the last action
    first = env.reset().observation
    np.testing.assert_array_equal(ep.obs["goal"][0], first["goal"].astype(np.uint8))
    spec = env.action_spec()
    assert (ep.actions >= spec.minimum - 1e-6).all() and (ep.actions <= spec.maximum + 1e-6).all()
    assert set(ep.reward_terms) >= {"ot", "press", "total"}
    np.testing.assert_allclose(ep.rewards, ep.reward_terms["total"], rtol=1e-6)
    # the stored key states reproduce the environment's metrics exactly
    meta = dataset_meta(env, song=SONG, hand="shadow_five", seed=0, policy_info={})
    assert recompute_metrics(ep, meta) == pytest.approx(ep.metrics, abs=1e-9)
    # contacts are (step, finger, key) of pressed keys; a random policy presses some
    assert len(ep.contacts) > 0
    assert ep.contacts["finger"].max() < len(meta.finger_names)
    fm = fingering_matrix(ep.contacts, T)
    assert (fm >= 0).sum() == len({(c["step"], c["key"]) for c in ep.contacts})


def test_same_seed_same_episode_other_seed_other_episode(source):
    a = rollout(source.env, source.policy, seed=5)
    b = rollout(source.env, source.policy, seed=5)
    c = rollout(source.env, source.policy, seed=6)
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.obs["hands/joints"], b.obs["hands/joints"])
    assert not np.array_equal(a.actions, c.actions)


def test_collect_then_resume_equals_one_go(source, tmp_path):
    one = collect(source, tmp_path / "one.h5", 4, seed=2, commit_every=3, progress=False)
    assert one.num_demos == 4 and one.new_demos == 4 and one.steps == 400
    part = collect(source, tmp_path / "two.h5", 2, seed=2, progress=False)
    assert part.num_demos == 2
    rest = collect(source, tmp_path / "two.h5", 4, seed=2, progress=False)
    assert rest.new_demos == 2 and rest.num_demos == 4
    again = collect(source, tmp_path / "two.h5", 4, seed=2, progress=False)
    assert again.new_demos == 0 and again.steps == 0
    with DemoFile(tmp_path / "one.h5") as a, DemoFile(tmp_path / "two.h5") as b:
        for i in range(4):
            ea, eb = a.episode(i), b.episode(i)
            assert ea.seed == eb.seed == episode_seed(2, i)
            np.testing.assert_array_equal(ea.actions, eb.actions)
            np.testing.assert_array_equal(ea.obs["piano/keys"], eb.obs["piano/keys"])
        assert a.meta.policy == {"kind": "baseline:random"} and a.meta.hand == "shadow_five"
        assert a.meta.num_steps == 100 and a.meta.chunk == -1
    for name in ("one.h5", "two.h5"):
        assert verify_file(tmp_path / name).ok


def test_an_exception_mid_collection_keeps_the_complete_episodes(source, tmp_path):
    calls = []

    def stop_after_three(i, ep):
        calls.append(i)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        collect(source, tmp_path / "d.h5", 10, commit_every=100, progress=False,
                on_episode=stop_after_three)
    with DemoFile(tmp_path / "d.h5") as df:
        assert df.num_demos == 3
    assert verify_file(tmp_path / "d.h5").ok


COLLECT_SCRIPT = """
import sys
from training.collect import collect, registered_policy
src = registered_policy("demo_short", "shadow_five", "random")
collect(src, sys.argv[1], 60, seed=4, commit_every=1, progress=False)
"""


def _committed(path: Path) -> int:
    try:
        with DemoFile(path) as df:
            return df.num_demos
    except InputError:
        return 0


def test_sigkill_mid_collection_leaves_complete_episodes_and_resumes(source, tmp_path):
    out = tmp_path / "killed.h5"
    env = dict(os.environ, MUJOCO_GL="egl", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", COLLECT_SCRIPT, str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while _committed(out) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "collector made no progress"
            time.sleep(0.05)
        time.sleep(0.2)  # land somewhere inside the next episode or commit
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc.stderr.close()
    report = verify_file(out)
    assert report.ok, report.problems
    killed_at = report.num_demos
    assert 2 <= killed_at < 60
    # resume to killed_at + 2: identical to an uninterrupted collection of that many
    target = killed_at + 2
    resumed = collect(source, out, target, seed=4, progress=False)
    assert resumed.new_demos == 2 and resumed.num_demos == target
    assert not list(tmp_path.glob(".*.tmp"))
    assert verify_file(out).ok
    with DemoFile(out) as df:
        for i in range(target):
            ep = df.episode(i)
            want = rollout(source.env, source.policy, episode_seed(4, i))
            np.testing.assert_array_equal(ep.actions, want.actions)


def test_baseline_policies(source):
    env = source.env
    zero = make_policy("zero", env)
    ts = env.reset()
    np.testing.assert_array_equal(zero(ts), zero(ts))
    np.testing.assert_array_equal(zero(ts), env.home_action())
    assert registered_policy(SONG, "shadow_five", "zero").info == {"kind": "baseline:zero"}
    with pytest.raises(InputError, match="unknown policy"):
        registered_policy(SONG, "shadow_five", "greedy")


# ----------------------------------------------------------------------------- DroQ runs
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run directory with an untrained DroQ checkpoint (the trainer's own formats)."""
    from training import checkpoint as ckpt
    from training.rl.agent import DroQ
    from training.rl.config import DroQConfig, TrainConfig
    from training.rl.envwrap import make_env

    run = tmp_path_factory.mktemp("run")
    config = TrainConfig(song="twinkle:1", hand="shadow_five", steps=100,
                         agent=DroQConfig(hidden_dims=(16, 16)))
    config.save(run / "config.json")
    env = make_env(config.song, config.hand, config.fingering, 0, config.env_kwargs)
    agent = DroQ(config.agent, env.layout.dense_dim, env.layout.num_bits, env.action_dim)
    ckpt.save_checkpoint(ckpt.checkpoint_dir(run), 0, agent.init(config.seed),
                         {"last_eval": {"f1": 0.25}})
    return run


@pytest.mark.slow  # agent.init takes 5-20 s on this machine, twice (fixture + load)
def test_droq_policy_from_a_run_directory(tiny_run, tmp_path):
    src = load_policy(tiny_run)
    assert src.song == "twinkle:1" and src.hand == "shadow_five"
    assert src.info["kind"] == "droq" and src.info["step"] == 0 and src.info["eval_f1"] == 0.25
    result = collect(src, tmp_path / "droq.h5", 2, seed=1, progress=False)
    assert result.num_demos == 2 and result.steps == 2 * 50
    assert verify_file(tmp_path / "droq.h5").ok
    with DemoFile(tmp_path / "droq.h5") as df:
        a, b = df.episode(0), df.episode(1)
        assert df.meta.policy["run"] == str(tiny_run.resolve())
        assert df.meta.song_name == "twinkle:1" and df.meta.chunk == 1
    assert not np.array_equal(a.actions, b.actions)  # stochastic: different seeds differ
    again = rollout(src.env, src.policy, a.seed)
    np.testing.assert_array_equal(again.actions, a.actions)  # ... but reproducibly
    det = load_policy(tiny_run, deterministic=True)
    d1 = rollout(det.env, det.policy, 1)
    d2 = rollout(det.env, det.policy, 2)
    np.testing.assert_array_equal(d1.actions, d2.actions)


# ----------------------------------------------------------------------------- CLI
@pytest.fixture
def main():
    """``pianohands`` as a function: argv in, exit code out."""
    from training.cli import main

    return main


def test_cli_collect_baseline_then_verify(main, tmp_path, capsys):
    out = tmp_path / "b.h5"
    argv = ["collect", "baseline:zero", "--song", SONG, "--episodes", "2", "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    assert f"{out}: 2 demos (2 new)" in capsys.readouterr().out
    assert main(["dataset", "verify", str(out)]) == 0
    # the same file, another seed: refused, naming the field
    assert main(argv + ["--seed", "9"]) == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {out}: seed: exists and was collected")


def test_cli_collect_any_registered_policy(main, tmp_path, capsys):
    """``--policy NAME`` is the baseline RUN spelling for any registered policy: the same
    episodes and the same provenance as ``baseline:random``."""
    by_policy, by_run = tmp_path / "p.h5", tmp_path / "r.h5"
    common = ["--song", SONG, "--episodes", "2", "--seed", "3", "--no-progress"]
    assert main(["collect", "--policy", "random", "--out", str(by_policy), *common]) == 0
    assert main(["collect", "baseline:random", "--out", str(by_run), *common]) == 0
    capsys.readouterr()
    with DemoFile(by_policy) as a, DemoFile(by_run) as b:
        assert a.meta.policy == b.meta.policy == {"kind": "baseline:random"}
        for i in range(2):
            np.testing.assert_array_equal(a.episode(i).actions, b.episode(i).actions)


@pytest.mark.parametrize("argv, expect", [
    (["collect", "--out", "{tmp}/x.h5"], "error: RUN: give a RUN"),
    (["collect", "baseline:zero", "--policy", "zero", "--song", SONG, "--out", "{tmp}/x.h5"], "error: --policy: give a RUN"),
    (["collect", "--policy", "zero", "--out", "{tmp}/x.h5"], "error: --song: --policy needs --song"),
    (["collect", "--policy", "clever", "--song", SONG, "--out", "{tmp}/x.h5"], "error: --policy: unknown policy 'clever'"),
    (["collect", "no/such/run", "--out", "{tmp}/x.h5"], "error: no/such/run: RUN: not a run directory"),
    (["collect", "baseline:zero", "--out", "{tmp}/x.h5"], "error: --song: a baseline RUN needs --song"),
    (["collect", "baseline:zero", "--song", "nope", "--out", "{tmp}/x.h5"], "error: nope"),
    (["collect", "baseline:dance", "--song", SONG, "--out", "{tmp}/x.h5"], "error: RUN: unknown baseline"),
    (["collect", "baseline:zero", "--song", SONG, "--out", "{tmp}/x.txt"], "error: {tmp}/x.txt: --out: must end in .h5"),
    (["collect", "baseline:zero", "--song", "twinkle:5", "--out", "{tmp}/x.h5"], "error: twinkle: chunk: chunk 5 is out of range"),
    (["collect", "baseline:zero", "--song", SONG, "--episodes", "0", "--out", "{tmp}/x.h5"], "error: Invalid value for '--episodes'"),
])
def test_cli_collect_bad_input(main, tmp_path, capsys, argv, expect):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(expect.replace("{tmp}", str(tmp_path))), err
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.slow
def test_cli_collect_unreadable_run_checkpoint(main, tiny_run, tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage")
    assert main(["collect", str(tiny_run), "--checkpoint", str(bad), "--out",
                 str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {bad}: checkpoint: not a pianohands checkpoint")
