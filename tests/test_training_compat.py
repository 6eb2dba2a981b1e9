"""A run directory written before the consolidation (issue 12) still evaluates and resumes.

``OLD_CONFIG`` is the config.json the dataclass-based TrainConfig wrote (byte for byte, from
a run of commit eed0dc3); the checkpoint carries the metadata keys the old Trainer stored.
The new pydantic config must read it, write it back identically, evaluate it and resume it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training import checkpoint as ckpt
from training.cli import main
from training.rl.agent import DroQ
from training.rl.config import TrainConfig
from training.rl.envwrap import make_env
from training.seeds import seed_streams

OLD_CONFIG = """{
  "agent": {
    "activation": "gelu",
    "actor_lr": 0.0003,
    "adam_b1": 0.9,
    "adam_b2": 0.999,
    "adam_eps": 1e-08,
    "backup_entropy": true,
    "critic_dropout": 0.01,
    "critic_layer_norm": true,
    "critic_lr": 0.0003,
    "discount": 0.88,
    "hidden_dims": [
      8
    ],
    "init_temperature": 1.0,
    "learnable_temperature": true,
    "log_std_max": 2.0,
    "log_std_min": -20.0,
    "num_qs": 2,
    "sparse_goals": true,
    "target_entropy": null,
    "tau": 0.05,
    "temp_lr": 0.0003
  },
  "batch_size": 16,
  "buffer_size": 200,
  "checkpoint_interval": 100,
  "env_kwargs": {
    "max_steps": 20
  },
  "eval_episodes": 1,
  "eval_interval": 20,
  "fingering": "ot",
  "hand": "shadow_five",
  "keep_checkpoints": 2,
  "log_interval": 20,
  "save_replay": false,
  "seed": 3,
  "song": "demo_short",
  "steps": 40,
  "update_interval": 2,
  "updates_per_interval": 1,
  "warmup_steps": 20
}
"""


@pytest.fixture(autouse=True)
def no_persistent_jax_cache(monkeypatch):
    monkeypatch.setenv("PIANOHANDS_JAX_CACHE", "off")


@pytest.fixture
def old_run(tmp_path) -> Path:
    """config.json in the old format and a step-40 checkpoint with the old metadata."""
    run = tmp_path / "old"
    run.mkdir()
    (run / "config.json").write_text(OLD_CONFIG)
    agent = json.loads(OLD_CONFIG)["agent"]
    env = make_env("demo_short", "shadow_five", "ot", 0, {"max_steps": 20})
    droq = DroQ(TrainConfig.load(run / "config.json").agent, env.layout.dense_dim,
                env.layout.num_bits, env.action_dim)
    meta = {"episode": 2, "updates": 10, "elapsed": 1.5, "next_checkpoint": 100, "best_f1": 0.1,
            "last_eval": {"step": 40, "f1": 0.1}, "config": json.loads(OLD_CONFIG),
            "rngs": {name: ckpt.generator_state(g) for name, g in seed_streams(3).items()}}
    assert agent["hidden_dims"] == [8]
    ckpt.save_checkpoint(run / "checkpoints", 40, droq.init(3), meta)
    return run


def test_the_old_config_reads_and_writes_back_identically(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(OLD_CONFIG)
    config = TrainConfig.load(path)
    assert config.agent.hidden_dims == (8,) and config.env_kwargs == {"max_steps": 20}
    assert config.to_json() + "\n" == OLD_CONFIG
    config.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == OLD_CONFIG


def test_an_old_run_evaluates_and_resumes(old_run, capsys):
    assert main(["eval", str(old_run), "--no-video"]) == 0
    report = json.loads((old_run / "eval" / "metrics.json").read_text())
    assert report["checkpoint_step"] == 40 and report["steps"] == 20
    assert 0.0 <= report["f1"] <= 1.0
    assert (old_run / "eval" / "learned_fingering.txt").is_file()

    assert main(["train", "--out", str(old_run), "--resume", "--steps", "60",
                 "--no-progress", "--no-tensorboard"]) == 0
    assert "resuming from" in capsys.readouterr().err
    summary = json.loads((old_run / "summary.json").read_text())
    assert summary["steps"] == 60 and summary["episodes"] == 3
    saved = json.loads((old_run / "config.json").read_text())
    assert saved == {**json.loads(OLD_CONFIG), "steps": 60}  # only the budget changed
    assert np.isfinite(summary["last_eval"]["f1"])
