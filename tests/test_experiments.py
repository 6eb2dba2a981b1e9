"""Experiment machinery: 95% CIs, the experiment directory, resume, summary.json.

Trainer runs here use ``tests/fake_env.py`` (no MuJoCo) and budgets below the replay's batch
size, so no gradient update is compiled; the real environment is exercised in
``test_experiments_real.py``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from handspec.errors import InputError
from training.rl.envwrap import TrainingEnv
from training.experiments import common, stats
from training.experiments.budget import run_config
from training.experiments.cross_embodiment import run_cross_embodiment
from training.experiments.fig2 import run_fig2
from fake_env import FakePianoEnv


# ------------------------------------------------------------------------------ statistics
def test_mean_ci_matches_scipy_t_interval():
    values = [0.61, 0.72, 0.55, 0.70]
    ci = stats.mean_ci(values)
    low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=np.mean(values),
                                       scale=scipy_stats.sem(values))
    assert ci.mean == pytest.approx(np.mean(values))
    assert (ci.low, ci.high) == pytest.approx((low, high))
    assert ci.n == 4
    # three seeds: t_{0.975, 2} = 4.303, far wider than the normal 1.96
    three = stats.mean_ci([0.0, 1.0, 2.0])
    assert three.half_width == pytest.approx(4.302652729911275 * 1.0 / math.sqrt(3))


def test_mean_ci_edge_cases():
    assert math.isnan(stats.mean_ci([]).mean)
    one = stats.mean_ci([0.4])
    assert one.mean == 0.4 and math.isnan(one.low) and math.isnan(one.half_width)
    assert one.to_dict()["ci_low"] is None and one.format() == "0.400 (n=1)"
    assert stats.mean_ci([0.2, float("nan"), 0.4]).n == 2  # a seed without a number is dropped
    same = stats.mean_ci([0.5, 0.5, 0.5])
    assert same.low == same.high == 0.5
    with pytest.raises(ValueError):
        stats.mean_ci([1.0, 2.0], confidence=1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=3, max_size=12),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_mean_ci_properties(values, confidence):
    ci = stats.mean_ci(values, confidence)
    assert ci.low <= ci.mean <= ci.high
    assert ci.mean == pytest.approx(float(np.mean(values)), abs=1e-9)
    wider = stats.mean_ci(values, min(0.999, confidence + 0.009))
    assert wider.half_width >= ci.half_width - 1e-12
    shifted = stats.mean_ci([v + 10.0 for v in values], confidence)
    assert shifted.half_width == pytest.approx(ci.half_width, rel=1e-6, abs=1e-6)


def test_curve_band_keeps_common_steps():
    band = stats.curve_band([[(100, 0.1), (200, 0.3), (300, 0.5)],
                              [(100, 0.3), (200, 0.5)]])  # second seed stopped early
    assert band.steps.tolist() == [100, 200]
    assert band.mean.tolist() == pytest.approx([0.2, 0.4])
    # two seeds: no interval (stats.MIN_SEEDS_FOR_CI), the seeds' curves instead
    assert band.n == 2 and not band.has_ci and np.all(np.isnan(band.low))
    assert band.per_seed.ravel().tolist() == pytest.approx([0.1, 0.3, 0.3, 0.5])
    three = stats.curve_band([[(100, 0.1), (200, 0.3)], [(100, 0.3), (200, 0.5)],
                              [(100, 0.2), (200, 0.4)]])
    assert three.has_ci and np.all(three.low < three.mean) and np.all(three.high > three.mean)
    assert three.to_dict()["per_seed"][2] == [0.2, 0.4]
    assert stats.curve_band([]).n == 0


# ------------------------------------------------------------------------------ directory
def test_experiment_dir_identity_and_budget_rules(tmp_path):
    root = tmp_path / "exp"
    ident = {"song": "twinkle", "hands": ["a", "b"]}
    exp = common.ExperimentDir.open(root, "fig2", ident, steps=100, seeds=[0])
    assert json.loads((root / "experiment.json").read_text())["identity"] == ident
    again = common.ExperimentDir.open(root, "fig2", ident, steps=200, seeds=[0, 1])
    assert again.record["steps"] == 200 and again.record["seeds"] == [0, 1]
    with pytest.raises(InputError) as err:
        common.ExperimentDir.open(root, "fig2", {**ident, "song": "ode_to_joy"}, steps=200, seeds=[0])
    assert err.value.field == "song" and "experiment.json" in str(err.value.file)
    with pytest.raises(InputError) as err:
        common.ExperimentDir.open(root, "fig2", ident, steps=50, seeds=[0])
    assert err.value.field == "steps"
    with pytest.raises(InputError) as err:
        common.ExperimentDir.open(root, "cross-embodiment", ident, steps=200, seeds=[0])
    assert err.value.field == "experiment"
    exp.log("hello", echo=False)
    assert "hello" in (root / "experiment.log").read_text()


def test_experiment_dir_refuses_foreign_and_corrupt_dirs(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError) as err:
        common.ExperimentDir.open(foreign, "fig2", {}, steps=1, seeds=[0])
    assert err.value.field == "--out"
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "experiment.json").write_text("{not json")
    with pytest.raises(InputError) as err:
        common.ExperimentDir.open(corrupt, "fig2", {}, steps=1, seeds=[0])
    assert err.value.field == "experiment"


def test_song_slug():
    assert common.song_slug("../shared/data/pig/FingeringFiles/008-1_fingering.txt:0") == "008-1_0"
    assert common.song_slug("twinkle") == "twinkle"
    assert common.song_slug("music21:bach/bwv66.6:2") == "bwv66_6_2"


def test_write_json_is_strict(tmp_path):
    path = common.write_json(tmp_path / "s.json", {"a": float("nan"), "b": np.float32(0.5),
                                                   "c": np.arange(2), "d": tmp_path})
    data = json.loads(path.read_text())
    assert data == {"a": None, "b": 0.5, "c": [0, 1], "d": str(tmp_path)}


# ------------------------------------------------------------------------------ experiments
def fake_factory(config, rng):
    # the fake piano's song depends on the "hand" so the arms of a cross-embodiment differ
    return TrainingEnv(FakePianoEnv(num_keys=6, num_steps=20, seed=rng,
                                    song_seed=len(config.hand) + len(config.fingering)))


@pytest.fixture(scope="module")
def small_agent(tmp_path_factory):
    """A config.json with a small network (fast to initialise); the schedule is the default."""
    from training.rl.config import DroQConfig, TrainConfig

    path = tmp_path_factory.mktemp("cfg") / "config.json"
    TrainConfig(warmup_steps=1_000, eval_interval=1_000, keep_checkpoints=1, save_replay=True,
                agent=DroQConfig(hidden_dims=(16, 16))).save(path)
    return path


@pytest.fixture
def TINY(small_agent):
    return dict(steps=40, warmup_steps=40, eval_interval=20, progress=False, tensorboard=False,
                env_factory=fake_factory, config_file=small_agent)


def _statuses(summary):
    return [(r["arm"], r["seed"], r["status"]) for r in summary["runs"]]


def test_fig2_summary_resume_and_extension(tmp_path, TINY):
    out = tmp_path / "fig2"
    summary = run_fig2("demo_short", arms=["ot", "none"], seeds=1, out=out, **TINY)
    assert _statuses(summary) == [("ot", 0, "trained"), ("none", 0, "trained")]
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["results"]["ot"]["final_f1"]["n"] == 1
    assert on_disk["results"]["ot"]["curve"]["steps"] == [20, 40]
    assert on_disk["train_config"]["agent"]["hidden_dims"] == [16, 16]
    assert on_disk["budget"]["env_steps_total"] == 2 * 40
    assert on_disk["budget"]["finished_runs"] == 2
    assert 0.0 <= on_disk["random_policy_f1"] <= 1.0
    final = json.loads((out / "ot" / "seed_0" / "final" / "final_eval.json").read_text())
    assert on_disk["results"]["ot"]["per_seed_final_f1"] == [final["f1"]]
    for name in ("f1_curves.png", "final_f1.png", "table.md", "experiment.log"):
        assert (out / name).is_file()
    eval_csv = (out / "none" / "seed_0" / "eval.csv").read_text()

    again = run_fig2("demo_short", arms=["ot", "none"], seeds=1, out=out, **TINY)
    assert {s for *_, s in _statuses(again)} == {"done"}
    assert (out / "none" / "seed_0" / "eval.csv").read_text() == eval_csv  # not retrained
    assert again["results"]["ot"]["final_f1"] == on_disk["results"]["ot"]["final_f1"]
    assert "skipped" in (out / "experiment.log").read_text()

    longer = run_fig2("demo_short", arms=["ot", "none"], seeds=2, out=out, **{**TINY, "steps": 60})
    assert _statuses(longer) == [("ot", 0, "resumed"), ("ot", 1, "trained"),
                                 ("none", 0, "resumed"), ("none", 1, "trained")]
    assert all(r["steps"] == 60 and r["finished"] for r in longer["runs"])
    ot = longer["results"]["ot"]
    assert ot["curve"]["steps"] == [20, 40, 60] and ot["curve"]["n"] == 2
    assert ot["final_f1"]["n"] == 2
    assert ot["final_f1"]["mean"] == pytest.approx(np.mean(ot["per_seed_final_f1"]), abs=1e-6)
    record = json.loads((out / "experiment.json").read_text())
    assert record["seeds"] == [0, 1]
    assert [s["command"] for s in record["sessions"]] == ["(Python API)"] * 3


class SlowFakeEnv(FakePianoEnv):
    """5 ms a step: a 40-step run outlasts a 50 ms session budget whatever the machine."""

    def step(self, action):
        time.sleep(0.005)
        return super().step(action)


def test_session_budget_stops_and_the_next_session_resumes(tmp_path, TINY):
    out = tmp_path / "x"
    slow = {**TINY, "env_factory": lambda config, rng: TrainingEnv(SlowFakeEnv(num_steps=20, seed=rng))}
    first = run_cross_embodiment("demo_short", ["hand_a", "hand_b"], seeds=1, out=out,
                                 time_budget_s=0.05, **slow)
    # the first run stops at once with a checkpoint, the second waits for the next session
    assert _statuses(first) == [("hand_a", 0, "trained"), ("hand_b", 0, "pending")]
    assert first["runs"][0]["steps"] < 40 and not first["runs"][0]["finished"]
    assert first["runs"][1]["steps"] is None
    assert first["results"]["hand_b"]["final_f1"]["n"] == 0
    assert first["results"]["hand_a"]["final_f1"]["n"] == 0  # stopped early: not in the stats
    assert first["results"]["hand_a"]["curve"]["n"] == 0
    assert "next session" in (out / "experiment.log").read_text()
    second = run_cross_embodiment("demo_short", ["hand_a", "hand_b"], seeds=1, out=out, **TINY)
    assert _statuses(second) == [("hand_a", 0, "resumed"), ("hand_b", 0, "trained")]
    assert all(r["steps"] == 40 and r["finished"] for r in second["runs"])
    table = (out / "table.md").read_text()
    assert "`hand_a`" in table and "`hand_b`" in table
    assert second["results"]["hand_a"]["final_f1"]["n"] == 1


def test_changed_experiment_is_refused_but_arms_may_be_added(tmp_path, TINY):
    out = tmp_path / "y"
    run_fig2("demo_short", arms=["none"], seeds=1, out=out, **TINY)
    more = run_fig2("demo_short", arms=["none", "ot"], seeds=1, out=out, **TINY)
    assert _statuses(more) == [("none", 0, "done"), ("ot", 0, "trained")]
    with pytest.raises(InputError) as err:
        run_fig2("demo_short", hand="shadow_four", arms=["ot"], seeds=1, out=out, **TINY)
    assert err.value.field == "hand"
    with pytest.raises(InputError) as err:
        run_fig2("twinkle", arms=["ot"], seeds=1, out=out, **TINY)
    assert err.value.field == "song"
    with pytest.raises(InputError) as err:
        run_fig2("demo_short", arms=["none"], seeds=1, out=out, **{**TINY, "eval_interval": 10})
    assert err.value.field == "base_config"


@pytest.mark.parametrize("kwargs, field", [
    (dict(arms=[]), "--arms"), (dict(arms=["ot", "ot"]), "--arms"), (dict(arms=["bogus"]), "--arms"),
    (dict(seeds=0), "--seeds"), (dict(steps=0), "--steps"), (dict(max_episode_steps=0), "--max-episode-steps"),
])
def test_fig2_bad_arguments(tmp_path, kwargs, field, TINY):
    args = {**TINY, "out": tmp_path / "z", **kwargs}
    with pytest.raises(InputError) as err:
        run_fig2("demo_short", **args)
    assert err.value.field == field
    assert not (tmp_path / "z").exists()  # nothing written before the arguments are checked


def test_cross_embodiment_bad_hand_lists(tmp_path, TINY):
    for hands in ([], ["a", "a"]):
        with pytest.raises(InputError) as err:
            run_cross_embodiment("demo_short", hands, out=tmp_path / "w", **TINY)
        assert err.value.field == "--hands"


class SelfTerminatingEnv(FakePianoEnv):
    """Sends SIGTERM to this process at the 30th step taken while the experiment's handler is
    installed (training, not the random-policy baseline), as ``kill PID`` on a background job."""

    steps_taken = 0

    def step(self, action):
        if callable(signal.getsignal(signal.SIGTERM)):
            SelfTerminatingEnv.steps_taken += 1
            if SelfTerminatingEnv.steps_taken == 30:
                os.kill(os.getpid(), signal.SIGTERM)
        return super().step(action)


def test_sigterm_checkpoints_like_ctrl_c_and_the_run_resumes(tmp_path, TINY):
    out = tmp_path / "term"
    SelfTerminatingEnv.steps_taken = 0
    dying = {**TINY, "env_factory": lambda c, rng: TrainingEnv(SelfTerminatingEnv(num_steps=20, seed=rng))}
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        run_fig2("demo_short", arms=["none"], seeds=1, out=out, **dying)
    assert signal.getsignal(signal.SIGTERM) == before  # handler restored
    run_summary = json.loads((out / "none" / "seed_0" / "summary.json").read_text())
    assert run_summary["interrupted"] is True and run_summary["steps"] < 40
    again = run_fig2("demo_short", arms=["none"], seeds=1, out=out, **TINY)
    assert _statuses(again) == [("none", 0, "resumed")] and again["runs"][0]["steps"] == 40


def test_run_config_replay_capacity():
    from training.rl.config import TrainConfig

    base = TrainConfig(batch_size=64)
    assert run_config(base, song="s", hand="h", fingering="ot", seed=1, steps=500).buffer_size == 501
    assert run_config(base, song="s", hand="h", fingering="ot", seed=1, steps=10).buffer_size == 65
    fixed = run_config(base, song="s", hand="h", fingering="ot", seed=1, steps=500,
                              replay_capacity=10_000)
    assert fixed.buffer_size == 10_000 and fixed.seed == 1 and fixed.steps == 500


def test_extension_keeps_the_replay_capacity_of_the_run(tmp_path, TINY):
    out = tmp_path / "cap"
    run_fig2("demo_short", arms=["none"], seeds=1, out=out, **{**TINY, "buffer_size": 300})
    longer = run_fig2("demo_short", arms=["none"], seeds=1, out=out,
                      **{**TINY, "buffer_size": 300, "steps": 60})
    assert longer["runs"][0]["status"] == "resumed"
    saved = json.loads((out / "none" / "seed_0" / "config.json").read_text())
    assert saved["buffer_size"] == 300 and saved["steps"] == 60
    with pytest.raises(InputError) as err:  # the capacity is part of the experiment
        run_fig2("demo_short", arms=["none"], seeds=1, out=out, **{**TINY, "steps": 60})
    assert err.value.field == "replay_capacity"


def test_workers_train_runs_in_parallel_processes_with_the_same_results(tmp_path, TINY):
    """workers=2: each run in its own pinned process; a run's result depends on its seed
    only, so the numbers equal the sequential ones."""
    one = run_fig2("demo_short", arms=["ot", "none"], seeds=1, out=tmp_path / "one", **TINY)
    two = run_fig2("demo_short", arms=["ot", "none"], seeds=1, out=tmp_path / "two",
                   workers=2, **TINY)
    assert [r["status"] for r in two["runs"]] == ["trained", "trained"]
    assert [(r["arm"], r["final_f1"], r["steps"]) for r in two["runs"]] == \
        [(r["arm"], r["final_f1"], r["steps"]) for r in one["runs"]]
    log = (tmp_path / "two" / "experiment.log").read_text()
    assert "run 1/2: ot seed 0" in log and "run 2/2: none seed 0" in log


def test_base_policy_is_recorded_in_every_run(tmp_path, TINY):
    summary = run_fig2("demo_short", arms=["none"], seeds=1, out=tmp_path / "r",
                       base_policy="ik", residual_scale=0.1, **TINY)
    assert summary["train_config"]["env_kwargs"] == {"base_policy": "ik", "residual_scale": 0.1}
    saved = json.loads((tmp_path / "r" / "none" / "seed_0" / "config.json").read_text())
    assert saved["env_kwargs"]["base_policy"] == "ik"
    scratch = run_fig2("demo_short", arms=["none"], seeds=1, out=tmp_path / "s",
                       base_policy="none", **TINY)
    assert "base_policy" not in scratch["train_config"]["env_kwargs"]
    with pytest.raises(InputError, match="base policy"):
        run_fig2("demo_short", arms=["none"], seeds=1, out=tmp_path / "t", base_policy=None,
                 residual_scale=0.1, **TINY)


def test_random_baseline_plays_the_plain_piano_not_random_residuals(tmp_path, TINY):
    seen = []

    def recording(config, rng):
        seen.append(dict(config.env_kwargs))
        return fake_factory(config, rng)

    run_fig2("demo_short", arms=["none"], seeds=1, out=tmp_path / "r",
             **{**TINY, "env_factory": recording, "base_policy": "ik"})
    assert seen[0] == {}                       # the random-policy floor comes first
    assert {"base_policy": "ik"} in seen[1:]   # training and the final evaluation
