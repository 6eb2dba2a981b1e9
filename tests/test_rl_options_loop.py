"""The learner options in the training loop: a CrossQ + 3-step run resumes exactly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jax
import numpy as np

from fake_env import FakePianoEnv
from training.cli import main
from training.rl.config import DroQConfig, TrainConfig
from training.rl.envwrap import TrainingEnv
from training.rl.loop import Trainer

AGENT = DroQConfig.preset("crossq").replace(hidden_dims=(32, 32), critic_hidden_dims=(48, 48),
                                            bn_warmup=30, n_step=3, actor_zero_init=True)


def fake_factory(config: TrainConfig, rng: np.random.Generator) -> TrainingEnv:
    return TrainingEnv(FakePianoEnv(seed=rng))


def config(**changes) -> TrainConfig:
    base = TrainConfig(song="fake", steps=120, warmup_steps=40, batch_size=32, buffer_size=500,
                       eval_interval=60, log_interval=20, checkpoint_interval=60,
                       save_replay=True, update_interval=1, agent=AGENT)
    return base.replace(**changes)


def run(cfg: TrainConfig, out, **kwargs) -> Trainer:
    trainer = Trainer(cfg, out, env_factory=fake_factory, progress=False, tensorboard=False,
                      **kwargs)
    trainer.run()
    return trainer


def test_crossq_n_step_run_resumes_exactly(tmp_path):
    straight = run(config(), tmp_path / "straight")
    assert straight.replay.n_step == 3 and straight.replay.gamma == AGENT.discount
    assert straight.state.target_critic == {}
    assert int(straight.state.critic_stats["trunk"]["count"]) == straight.updates == 81
    first = run(config(steps=60), tmp_path / "split")
    resumed = run(config(), tmp_path / "split", resume=True)
    assert resumed.replay.n_step == 3 and resumed.updates == straight.updates
    for a, b in zip(jax.tree.leaves(resumed.state), jax.tree.leaves(straight.state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert first.step == 60
    saved = TrainConfig.load(tmp_path / "split" / "config.json")
    assert saved.agent == AGENT and saved.update_interval == 1
    rows = (tmp_path / "straight" / "train.csv").read_text().splitlines()
    header, last = rows[0].split(","), rows[-1].split(",")
    assert np.isfinite(float(last[header.index("actor_loss")]))  # also on critic-only updates


def test_every_learn_bench_arm_is_a_valid_config():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "learn_bench.py"
    spec = importlib.util.spec_from_file_location("learn_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for name in ("residual-ik-nstep3", "residual-ik-crossq", "residual-ik-zero", "crossq"):
        overrides, env_kwargs, agent = bench.ARMS[name]
        cfg = TrainConfig(env_kwargs=env_kwargs, agent=DroQConfig(**agent), **overrides)
        assert (cfg.agent.algorithm == "crossq") == ("crossq" in name)
        assert cfg.update_interval == (1 if "crossq" in name else 2)
        assert ("base_policy" in cfg.env_kwargs) == name.startswith("residual")
    assert bench.ARMS["residual-ik-nstep3"][2] == {"n_step": 3}
    assert bench.ARMS["residual-ik-zero"][2] == {"actor_zero_init": True}


def test_agent_preset_flag_trains_with_the_preset_and_flags_override_it(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--song", "demo_short", "--out", str(out), "--agent-preset", "crossq",
                 "--hidden-dims", "16", "--critic-hidden-dims", "24", "--steps", "24",
                 "--warmup-steps", "16", "--batch-size", "8", "--buffer-size", "64",
                 "--env-arg", "max_steps=12", "--eval-interval", "24", "--no-progress",
                 "--no-tensorboard"]) == 0
    saved = TrainConfig.load(out / "config.json")
    assert saved.agent.algorithm == "crossq" and saved.agent.adam_b1 == 0.5
    assert saved.agent.critic_widths == (24,) and saved.agent.hidden_dims == (16,)
    assert saved.update_interval == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 24 and summary["updates"] == 9  # every step after warm-up
    assert main(["train", "--out", str(tmp_path / "x"), "--agent-preset", "crossr"]) == 2
