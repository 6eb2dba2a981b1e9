"""The rp1m pipeline on the local backends: planning, the manifest, skipping finished work,
thresholds, retries and failure reports, a SIGKILL of the whole pipeline and its resume, the
CLI, and (slow) an end-to-end run with real DroQ training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handspec.errors import InputError
from training.backends import InlineBackend, LocalBackend
from training.data import DemoFile, episode_seed, verify_file
from training.pipeline import (ChunkTask, Manifest, expand_songs, plan, read_song_list,
                               run_pipeline, slugify)

ROOT = Path(__file__).resolve().parents[1]
SONGS = ["twinkle:1", "demo_short"]  # 50 + 100 steps: two tiny chunks


def tiny(tmp_path: Path, songs: list[str] = SONGS, **kw) -> list[ChunkTask]:
    settings_ = dict(specialist="random", min_f1=0.0, episodes=2, commit_every=1)
    settings_.update(kw)
    return plan(songs, hand="shadow_five", out=tmp_path, **settings_)


# ----------------------------------------------------------------------------- planning
def test_songs_expand_to_chunks():
    assert expand_songs(["twinkle"]) == [("twinkle", 0), ("twinkle", 1)]
    assert expand_songs(["twinkle"], max_chunks=1) == [("twinkle", 0)]
    assert expand_songs(["twinkle:1", "demo_short"]) == [("twinkle", 1), ("demo_short", 0)]
    with pytest.raises(InputError, match="out of range"):
        expand_songs(["twinkle:2"])
    with pytest.raises(InputError):
        expand_songs(["no_such_song"])


def test_plan_names_tasks_and_validates_early(tmp_path):
    tasks = tiny(tmp_path)
    assert [t.song for t in tasks] == ["twinkle:1", "demo_short:0"]
    assert [t.slug for t in tasks] == ["twinkle-c001", "demo_short-c000"]
    assert tasks[0].data_path == tmp_path / "data" / "twinkle-c001.h5"
    assert len({t.fingerprint() for t in tasks}) == 2
    with pytest.raises(InputError) as err:
        plan(SONGS, hand="no_such_hand", out=tmp_path)
    assert "no_such_hand" in err.value.one_line()
    with pytest.raises(InputError) as err:
        plan(SONGS, hand="shadow_five", out=tmp_path, train={"batch_size": 0})
    assert err.value.field == "batch_size"
    assert plan(["twinkle:1", "twinkle:1"], hand="shadow_five", out=tmp_path)[0].slug == "twinkle-c001"


def test_settings_change_the_fingerprint_and_learning_changes_the_run(tmp_path):
    a = tiny(tmp_path, specialist="droq", train={"steps": 10})[0]
    more_steps = tiny(tmp_path, specialist="droq", train={"steps": 20})[0]
    other_lr = tiny(tmp_path, specialist="droq", train={"steps": 10, "agent": {"actor_lr": 1e-3}})[0]
    assert a.fingerprint() != more_steps.fingerprint()
    assert a.run_dir == more_steps.run_dir  # more steps resume the same run
    assert a.run_dir != other_lr.run_dir    # another learning problem gets its own
    # env worker processes change how the steps are computed, not what is learned: the
    # same run resumes with them (the fields `pianohands train --resume` accepts)
    workers = tiny(tmp_path, specialist="droq",
                   train={"steps": 10, "env_workers": 1, "param_sync_interval": 2})[0]
    assert workers.run_dir == a.run_dir
    assert tiny(tmp_path, specialist="droq", train={"steps": 10, "stop_f1": 0.8})[0].run_dir \
        == a.run_dir  # so does an F1 to stop at


@pytest.mark.parametrize("stop_f1, trains", [(0.75, False), (0.9, True), (None, True)])
def test_a_run_that_ended_at_its_stop_f1_counts_as_trained(tmp_path, monkeypatch, stop_f1,
                                                          trains):
    """A rerun does not train a chunk whose run stopped at ``stop_f1`` (its best evaluation
    reached it) before its steps; a higher ``stop_f1``, or none, resumes it."""
    import training.rl.loop as loop
    from training.pipeline import DroQSpecialist

    train = {"steps": 1000} if stop_f1 is None else {"steps": 1000, "stop_f1": stop_f1}
    task = tiny(tmp_path, specialist="droq", train=train)[0]
    task.run_dir.mkdir(parents=True)
    summary = {"steps": 120, "best_eval_f1": 0.8, "interrupted": False}
    (task.run_dir / "summary.json").write_text(json.dumps(summary))

    class Resumed(Exception):
        pass

    def trainer(*args, **kwargs):
        raise Resumed

    monkeypatch.setattr(loop, "Trainer", trainer)
    if trains:
        with pytest.raises(Resumed):
            DroQSpecialist().train(task, task.run_dir)
    else:
        assert DroQSpecialist().train(task, task.run_dir) == summary


def test_slugs_of_library_songs_and_files():
    assert slugify("music21:bach/bwv66.6", 0) == "music21_bach_bwv66.6-c000"
    assert slugify("music21:bach/bwv66.4", 0) != slugify("music21:bach/bwv66.6", 0)
    assert slugify("/data/pig/001-1_fingering.txt", 2) == "001-1_fingering-c002"
    assert slugify("songs/My Song.MID", 0) == "My_Song-c000"


def test_music21_library_songs_plan_into_chunks(tmp_path):
    songs = read_song_list("music21")
    assert len(songs) > 100 and all(s.startswith("music21:") for s in songs)
    tasks = plan(["music21:bach/bwv66.6"], hand="shadow_five", out=tmp_path, specialist="random")
    assert [t.slug for t in tasks][:1] == ["music21_bach_bwv66.6-c000"]


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=120), st.integers(0, 999))
def test_slugs_are_safe_file_names(song, chunk):
    slug = slugify(song, chunk)
    assert slug.endswith(f"-c{chunk:03d}")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in slug)
    assert not slug.startswith(".") and len(slug) <= 85


def test_song_lists(tmp_path):
    listing = tmp_path / "songs.txt"
    listing.write_text("twinkle  # a comment\n\n# only a comment\ndemo_short\n")
    assert read_song_list(f"@{listing},twinkle:1") == ["twinkle", "demo_short", "twinkle:1"]
    assert "ode_to_joy" in read_song_list("builtin")
    with pytest.raises(InputError, match="no songs"):
        read_song_list(" , ")
    with pytest.raises(InputError) as err:
        read_song_list(f"@{tmp_path / 'missing.txt'}")
    assert err.value.field == "--songs"


# ----------------------------------------------------------------------------- running
def test_inline_run_collects_verifies_and_skips_on_rerun(tmp_path):
    tasks = tiny(tmp_path)
    report = run_pipeline(tasks, InlineBackend())
    assert report.count("collected") == 2 and report.failed == 0 and not report.skipped
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for task in tasks:
        entry = manifest["tasks"][task.slug]
        assert entry["status"] == "collected" and entry["demos"] == 2
        assert entry["attempts"] == 1 and entry["errors"] == []
        assert 0.0 <= entry["eval_f1"] <= 1.0 and entry["wall_time_s"]["total"] > 0
        assert verify_file(tmp_path / entry["dataset"]).ok
    stamps = {t.slug: t.data_path.stat().st_mtime_ns for t in tasks}
    again = run_pipeline(tiny(tmp_path), InlineBackend())
    assert again.skipped == [t.slug for t in tasks] and again.finished == []
    assert stamps == {t.slug: t.data_path.stat().st_mtime_ns for t in tasks}
    # more episodes: the same chunks run again and their files grow
    bigger = run_pipeline(tiny(tmp_path, episodes=3), InlineBackend())
    assert bigger.count("collected") == 2
    with DemoFile(tasks[0].data_path) as df:
        assert df.num_demos == 3
        assert [df.demo_attrs(i)["seed"] for i in range(3)] == [episode_seed(0, i) for i in range(3)]


def test_below_threshold_is_rejected_without_data(tmp_path):
    report = run_pipeline(tiny(tmp_path, min_f1=0.99), InlineBackend())
    assert report.count("rejected") == 2
    assert not (tmp_path / "data").exists()
    entry = Manifest.load(tmp_path).tasks["twinkle-c001"]
    assert entry["eval_f1"] < 0.99 and entry["dataset"] is None


def test_raising_the_threshold_sets_earlier_data_aside(tmp_path):
    one = ["twinkle:1"]
    run_pipeline(tiny(tmp_path, one), InlineBackend())
    report = run_pipeline(tiny(tmp_path, one, min_f1=0.99), InlineBackend())
    assert report.count("rejected") == 1
    entry = Manifest.load(tmp_path).tasks["twinkle-c001"]
    assert entry["stale_dataset"] == "data/twinkle-c001.h5.rejected"
    assert not list((tmp_path / "data").glob("*.h5"))
    assert (tmp_path / entry["stale_dataset"]).is_file()


def test_a_new_specialist_replaces_the_old_data(tmp_path):
    one = ["twinkle:1"]
    run_pipeline(tiny(tmp_path, one), InlineBackend())
    report = run_pipeline(tiny(tmp_path, one, specialist="zero"), InlineBackend())
    assert report.count("collected") == 1
    with DemoFile(tmp_path / report.finished[0]["dataset"]) as df:
        assert df.meta.policy["kind"] == "baseline:zero" and df.num_demos == 2


def test_transient_failures_are_retried_and_recorded(tmp_path):
    report = run_pipeline(tiny(tmp_path, specialist="test_pipeline_plugins:Flaky"),
                          InlineBackend(), retries=1)
    assert report.count("collected") == 2
    for entry in report.finished:
        assert entry["attempts"] == 2
        assert entry["errors"] == [f"RuntimeError: transient failure on {entry['slug']}"]


def test_persistent_failures_are_reported_not_lost(tmp_path):
    report = run_pipeline(tiny(tmp_path, specialist="test_pipeline_plugins:Broken"),
                          InlineBackend(), retries=2)
    assert report.failed == 2
    entry = Manifest.load(tmp_path).tasks["demo_short-c000"]
    assert entry["status"] == "failed" and entry["attempts"] == 3
    assert entry["error"] == "RuntimeError: always broken" and "Traceback" in entry["traceback"]
    fixed = run_pipeline(tiny(tmp_path), InlineBackend())  # rerun: retried, history kept
    assert fixed.count("collected") == 2
    entry = Manifest.load(tmp_path).tasks["demo_short-c000"]
    assert entry["errors"] == [] and entry["earlier_errors"] == ["RuntimeError: always broken"] * 3
    bad = run_pipeline(tiny(tmp_path / "b", specialist="test_pipeline_plugins:BadInput"),
                       InlineBackend(), retries=2)
    assert [e["attempts"] for e in bad.finished] == [1, 1]  # bad input is not retried
    assert bad.finished[0]["error"] == "twinkle:1: notes: cannot use this song"


def test_local_workers_run_tasks_and_survive_a_crashed_worker(tmp_path):
    report = run_pipeline(tiny(tmp_path, specialist="test_pipeline_plugins:Crashing"),
                          LocalBackend(workers=1), retries=2)
    assert report.count("collected") == 2, report.finished
    crashed = [e for e in report.finished if e["attempts"] > 1]
    assert crashed and all("BrokenProcessPool" in e["errors"][0] for e in crashed)
    assert all(verify_file(tmp_path / e["dataset"]).ok for e in report.finished)


def test_two_drivers_cannot_share_a_directory(tmp_path):
    tasks = tiny(tmp_path)
    from training.pipeline import driver_lock

    with driver_lock(tmp_path):
        with pytest.raises(InputError, match="another pipeline is running"):
            run_pipeline(tasks, InlineBackend())


def test_corrupt_manifest_is_an_input_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError) as err:
        run_pipeline(tiny(tmp_path), InlineBackend())
    assert err.value.file == str(tmp_path / "manifest.json")


PIPELINE_SCRIPT = """
import sys
from training.backends import LocalBackend
from training.pipeline import plan, run_pipeline

if __name__ == "__main__":
    tasks = plan(["demo_short", "twinkle:0", "c_major_scale"], hand="shadow_five",
                 out=sys.argv[1], specialist="random", min_f1=0.0, episodes=5, commit_every=1)
    run_pipeline(tasks, LocalBackend(workers=1))
"""


def test_sigkill_of_the_pipeline_then_rerun_finishes_the_rest(tmp_path):
    script = tmp_path / "pipeline_script.py"
    script.write_text(PIPELINE_SCRIPT)
    out = tmp_path / "out"
    env = dict(os.environ, MUJOCO_GL="egl", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    manifest = out / "manifest.json"
    deadline = time.monotonic() + 150
    try:
        while not (manifest.is_file() and json.loads(manifest.read_text())["tasks"]):
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "pipeline made no progress"
            time.sleep(0.1)
        # the second task is a full 550-step chunk (5 episodes take seconds), so the kill
        # below lands mid-collection however fast the environment steps
        partial = out / "data" / "twinkle-c000.h5"
        while not partial.exists():  # the second chunk is collecting
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, like a preemption
        proc.wait()
    proc.stderr.close()
    done_first = json.loads(manifest.read_text())["tasks"]
    assert list(done_first) == ["demo_short-c000"]
    stamp = (out / "data" / "demo_short-c000.h5").stat().st_mtime_ns
    with DemoFile(partial) as df:
        assert df.num_demos < 5  # killed mid-collection...
    assert verify_file(partial).ok  # ...with only complete episodes
    tasks = plan(["demo_short", "twinkle:0", "c_major_scale"], hand="shadow_five", out=out,
                 specialist="random", min_f1=0.0, episodes=5, commit_every=1)
    report = run_pipeline(tasks, InlineBackend())
    assert report.skipped == ["demo_short-c000"] and report.count("collected") == 2
    assert (out / "data" / "demo_short-c000.h5").stat().st_mtime_ns == stamp
    for task in tasks:
        assert verify_file(task.data_path).ok
        with DemoFile(task.data_path) as df:
            seeds = [df.demo_attrs(i)["seed"] for i in range(df.num_demos)]
        assert seeds == [episode_seed(0, i) for i in range(5)]  # no duplicate, none missing
    assert not list((out / "data").glob(".*.tmp"))


# ----------------------------------------------------------------------------- CLI
@pytest.fixture
def main():
    """``pianohands`` as a function: argv in, exit code out."""
    from training.cli import main

    return main


def test_cli_rp1m_inline_then_dataset_verify(main, tmp_path, capsys):
    argv = ["rp1m", "--songs", ",".join(SONGS), "--out", str(tmp_path), "--specialist",
            "random", "--min-f1", "0", "--episodes", "2", "--workers", "0"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[2/2]" in out and "2 collected, 0 rejected" in out
    assert main(argv) == 0
    assert "2 already done, 0 collected" in capsys.readouterr().out
    assert main(["dataset", "verify", str(tmp_path / "data")]) == 0


def test_cli_rp1m_failed_tasks_exit_1(main, tmp_path, capsys):
    argv = ["rp1m", "--songs", "demo_short", "--out", str(tmp_path), "--specialist",
            "test_pipeline_plugins:Broken", "--workers", "0", "--retries", "0"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: 1 chunk task failed")


@pytest.mark.parametrize("extra, expect", [
    (["--songs", "nope"], "error: nope"),
    (["--songs", "twinkle:7"], "error: twinkle: --songs: chunk 7 is out of range"),
    (["--songs", "twinkle", "--hand", "no_hand"], "error: "),
    (["--songs", "twinkle", "--backend", "slurm"], "error: --backend: unknown backend 'slurm'"),
    (["--songs", "twinkle", "--address", "x:1"], "error: --address: --address is for --backend ray"),
    (["--songs", "twinkle", "--train-arg", "batch_size"], "error: --train-arg: expected KEY=VALUE"),
    (["--songs", "twinkle", "--train-arg", "nope=1"], "error: --train-arg: nope: unknown field"),
    (["--songs", "twinkle", "--train-arg", "agent.num_qs=0"], "error: --train-arg: num_qs: must be >= 1"),
    (["--songs", "twinkle", "--specialist", "ppo"], "error: --specialist: unknown specialist 'ppo'"),
    (["--songs", "twinkle", "--specialist", "no_module:X", "--workers", "0"], "error: --specialist: cannot import"),
    (["--songs", "twinkle", "--min-f1", "2"], "error: Invalid value for '--min-f1'"),
])
def test_cli_rp1m_bad_input(main, tmp_path, capsys, extra, expect):
    assert main(["rp1m", "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(expect), err
    assert not (tmp_path / "o" / "data").exists()


def test_cli_rp1m_without_ray_installed(main, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["rp1m", "--songs", "demo_short", "--out", str(tmp_path), "--backend", "ray"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --backend: Ray is not installed; install the extra: pip install 'pianohands[ray]'")


# ----------------------------------------------------------------------------- real training
DROQ_TINY = {"steps": 40, "warmup_steps": 20, "batch_size": 16, "buffer_size": 200,
             "eval_interval": 1000, "log_interval": 20, "checkpoint_interval": 1000,
             "agent": {"hidden_dims": [16, 16]}}


@pytest.mark.slow
def test_end_to_end_with_droq_training_on_local_workers(tmp_path):
    """2 chunks, a few DroQ steps each, a few episodes, in a worker process; then rerun."""
    tasks = plan(SONGS, hand="shadow_five", out=tmp_path, specialist="droq", train=DROQ_TINY,
                 min_f1=0.0, episodes=2)
    report = run_pipeline(tasks, LocalBackend(workers=1), retries=0)
    assert report.count("collected") == 2, report.finished
    entries = {e["slug"]: e for e in report.finished}
    for task in tasks:
        entry = entries[task.slug]
        assert entry["train_steps"] == 40
        assert (tmp_path / entry["run_dir"] / "summary.json").is_file()
        assert verify_file(task.data_path).ok
        with DemoFile(task.data_path) as df:
            assert df.meta.policy["kind"] == "droq" and df.meta.policy["step"] == 40
            assert df.meta.policy["deterministic"] is False
    again = run_pipeline(tasks, InlineBackend())
    assert len(again.skipped) == 2


def test_cli_rp1m_registered_policy_as_specialist(main, tmp_path, capsys):
    """Any registered policy collects without training: the kinematic pianist here."""
    argv = ["rp1m", "--songs", "demo_short", "--out", str(tmp_path), "--specialist", "ik",
            "--min-f1", "0", "--episodes", "1", "--workers", "0"]
    assert main(argv) == 0
    assert "1 collected" in capsys.readouterr().out
    with DemoFile(tmp_path / "data" / "demo_short-c000.h5") as df:
        assert df.meta.policy["kind"] == "policy:ik" and df.num_demos == 1


def test_cli_rp1m_droq_learns_a_residual_on_the_base_policy(main, tmp_path, monkeypatch):
    seen = {}

    def fake_plan(songs, **kwargs):
        seen.clear()
        seen.update(kwargs)
        raise InputError("planned", field="--songs")  # stop before any work

    monkeypatch.setattr("training.pipeline.plan", fake_plan)
    assert main(["rp1m", "--songs", "demo_short", "--out", str(tmp_path), "--workers", "0"]) == 2
    assert seen["train"]["env_kwargs"] == {"base_policy": "ik"}
    assert main(["rp1m", "--songs", "demo_short", "--out", str(tmp_path), "--workers", "0",
                 "--base-policy", "none"]) == 2
    assert "env_kwargs" not in seen["train"]
