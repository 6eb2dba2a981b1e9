"""The learner options in the training loop: a CrossQ + 3-step run resumes exactly."""

from __future__ import annotations

import jax
import numpy as np

from fake_env import FakePianoEnv
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
