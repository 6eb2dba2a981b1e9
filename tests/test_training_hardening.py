"""Issue 15, training side: kills before the first checkpoint, two trainers on one run
directory, leftover temporaries, torn CSV rows, the frozen hand of a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from handspec.errors import InputError
from training import checkpoint as ckpt
from training.rl.config import DroQConfig, TrainConfig
from training.rl.envwrap import TrainingEnv
from fake_env import FakePianoEnv
from training.rl.loop import Trainer
from training.rl.policy import load_run, run_hand
from training.runlog import CsvLog

ROOT = Path(__file__).resolve().parents[1]
SMALL = DroQConfig(hidden_dims=(32, 32))  # as test_training_loop: one compile per session
TINY = ["--song", "demo_short", "--hidden-dims", "16", "--batch-size", "16",
        "--buffer-size", "1000", "--warmup-steps", "40", "--no-progress", "--no-tensorboard"]


def fake_factory(config: TrainConfig, rng: np.random.Generator) -> TrainingEnv:
    return TrainingEnv(FakePianoEnv(seed=rng))


def config(**changes) -> TrainConfig:
    # all steps are warm-up steps and no evaluation is due: nothing to compile, fast
    base = TrainConfig(song="fake", steps=60, warmup_steps=1000, batch_size=32, buffer_size=500,
                       eval_interval=1000, log_interval=20, checkpoint_interval=60, agent=SMALL)
    return base.replace(**changes)


def trainer(cfg: TrainConfig, out, **kwargs) -> Trainer:
    return Trainer(cfg, out, env_factory=fake_factory, progress=False, tensorboard=False,
                   **kwargs)


def _spawn_train(run: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PIANOHANDS_JAX_CACHE="off", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "training.cli", "train", "--out", str(run),
                             *TINY, *extra], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen, path: Path, timeout: float = 170.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.2)


# ------------------------------------------------------------------ set-up of a run
def test_failed_set_up_leaves_no_run(tmp_path):
    def broken(config, rng):
        raise InputError("no such song", field="song")

    with pytest.raises(InputError):
        Trainer(config(), tmp_path / "run", env_factory=broken, progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(MemoryError):  # a replay too large to allocate fails before any write
        trainer(config(buffer_size=10**15), tmp_path / "huge")
    assert not (tmp_path / "huge").exists()


def test_resume_before_the_first_checkpoint_starts_over(tmp_path):
    run = tmp_path / "run"
    t = trainer(config(), run)  # created (config.json written), then "killed": never run
    t.release()
    (run / "train.csv").write_text("step,episodes\n10,1\n")  # rows of the lost attempt
    with pytest.raises(InputError, match="--resume starts it over"):
        trainer(config(), run)
    with pytest.warns(ckpt.CheckpointWarning, match="starting the run over"):
        again = trainer(config(), run, resume=True)
    assert again.restarted and again.step == 0
    summary = again.run()
    assert summary["steps"] == 60 and summary["resumed_from"] is None
    steps = [int(r["step"]) for r in CsvLog(run / "train.csv").rows()]
    assert steps == [20, 40, 60]  # the lost attempt's row is gone


@pytest.mark.slow
def test_kill_9_before_the_first_checkpoint_then_resume(tmp_path):
    from training.cli import main

    run = tmp_path / "run"
    proc = _spawn_train(run, "--steps", "100000", "--checkpoint-interval", "100000",
                        "--eval-interval", "100000")
    try:
        _wait_for(proc, run / "config.json")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not ckpt.list_checkpoints(run / "checkpoints")
    assert (run / "hand.json").is_file()
    assert main(["train", "--out", str(run), "--resume", "--steps", "40"]) == 0  # = warm-up
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 40 and summary["resumed_from"] is None


@pytest.mark.slow
def test_two_trainers_cannot_share_a_run_directory(tmp_path):
    run = tmp_path / "run"
    first = _spawn_train(run, "--steps", "100000", "--checkpoint-interval", "100000",
                         "--eval-interval", "100000")
    try:
        _wait_for(first, run / "config.json")
        second = _spawn_train(run, "--resume", "--steps", "100")
        assert second.wait(timeout=170) == 2
        err = second.stderr.read().strip().splitlines()
        assert err == [f"error: {run}: out: another process is training in this directory"]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    header = (run / "train.csv").read_text().splitlines()[:1] if (run / "train.csv").exists() \
        else []
    assert len(header) <= 1


def test_lock_is_released_when_a_run_ends(tmp_path):
    t = trainer(config(), tmp_path)
    with pytest.raises(InputError, match="another process is training"):
        trainer(config(), tmp_path, resume=True)  # a second holder, even in one process
    t.run()
    assert trainer(config(steps=80), tmp_path, resume=True).step == 60


# ------------------------------------------------------------------ leftovers
def test_stale_checkpoint_temporaries_are_removed(tmp_path):
    t = trainer(config(), tmp_path)
    t.run()
    folder = tmp_path / "checkpoints"
    stale = [folder / ".step_0000000120.ckpt.ab12cd.tmp.ckpt",
             folder / ".replay_0000000120.npz.x1.tmp.npz", tmp_path / ".config.json.q.tmp.json"]
    for path in stale:
        path.write_bytes(b"half written")
    keep = folder / "notes.txt"
    keep.write_text("mine")
    trainer(config(steps=80), tmp_path, resume=True).release()
    assert not any(p.exists() for p in stale) and keep.exists()
    assert ckpt.remove_stale_temporaries(tmp_path / "missing") == []


@pytest.mark.parametrize("tail", [b"120,3,4", b"120", b"\r", b"1"])
def test_torn_csv_row_is_dropped(tmp_path, tail):
    path = tmp_path / "train.csv"
    log = CsvLog(path)
    for step in (20, 40):
        log.write({"step": step, "loss": 0.5})
    with path.open("ab") as handle:
        handle.write(tail)  # a kill inside a write
    log = CsvLog(path)
    assert log.dropped_torn_row
    log.write({"step": 60, "loss": 0.25})
    assert [r["step"] for r in log.rows()] == ["20", "40", "60"]
    log.truncate_after(40)
    assert [r["step"] for r in CsvLog(path).rows()] == ["20", "40"]


def test_torn_header_leaves_an_empty_log(tmp_path):
    path = tmp_path / "eval.csv"
    path.write_bytes(b"step,f")
    log = CsvLog(path)
    assert log.fields is None and path.read_bytes() == b""
    log.write({"step": 1, "f1": 0.5})
    assert log.rows() == [{"step": "1", "f1": "0.5"}]


# ------------------------------------------------------------------ the run's hand
def test_run_stores_its_hand_and_later_commands_use_it(tmp_path, monkeypatch):
    """The hand is frozen at creation: eval from another directory, or after the YAML was
    edited, rebuilds the hand the run trained with."""
    from handspec import load_hand
    from handspec.load import spec_hash
    from pianoenv import suite

    yaml_path = tmp_path / "mine.yaml"
    yaml_path.write_text("extends: shadow_five\nname: mine\nremove_fingers: [little]\n")
    monkeypatch.chdir(tmp_path)
    cfg = TrainConfig(song="demo_short", hand="mine.yaml", steps=1, warmup_steps=1,
                      batch_size=8, buffer_size=50, agent=DroQConfig(hidden_dims=(8,)))
    Trainer(cfg, tmp_path / "run", progress=False, tensorboard=False).run()
    frozen = tmp_path / "run" / "hand.json"
    doc = json.loads(frozen.read_text())
    assert doc["hash"] == spec_hash(load_hand(yaml_path)) and doc["name"] == "mine"
    yaml_path.write_text("extends: shadow_five\nname: mine\n")  # edited after training
    monkeypatch.chdir(ROOT)  # and used from elsewhere
    hand = run_hand(tmp_path / "run", "mine.yaml")
    assert hand == str(frozen)
    env = suite.load("demo_short", hand=hand)
    assert env.spec.finger_names == ("thumb", "index", "middle", "ring")
    assert run_hand(tmp_path / "nowhere", "shadow_five") == "shadow_five"
    # the run's loader (eval, collect) rebuilds the frozen hand, not the edited YAML
    loaded = load_run(tmp_path / "run")
    assert loaded.env.env.spec.finger_names == ("thumb", "index", "middle", "ring")
