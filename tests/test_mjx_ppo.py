"""PPO on the MJX environment: a tiny CPU run writes the CPU trainer's run directory, and
``pianohands eval`` plays its checkpoint on the CPU environment with the PPO actor."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("mujoco.mjx")
pytestmark = pytest.mark.slow  # compiles the MJX physics: minutes on a cold XLA cache

from handspec.errors import InputError  # noqa: E402
from training import checkpoint as ckpt  # noqa: E402
from training.rl.config import TrainConfig  # noqa: E402
from training.jaxcache import enable_compilation_cache  # noqa: E402
from training.mjx_ppo import PPO, PPOConfig, from_train_config, make_env, train  # noqa: E402

TINY = PPOConfig(song="demo_short", env_kwargs={"max_steps": 6}, num_envs=2, rollout_length=3,
                 num_minibatches=2, update_epochs=1, steps=12, hidden_dims=(16, 16),
                 eval_interval=6, checkpoint_interval=6, seed=1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    enable_compilation_cache()
    out = tmp_path_factory.mktemp("ppo") / "run"
    summary = train(TINY, out, progress=False, tensorboard=False)
    return out, summary


def test_run_directory_has_the_cpu_trainer_layout(run):
    out, summary = run
    for name in ("config.json", "ppo_config.json", "train.csv", "eval.csv", "summary.json",
                 "f1_curve.png"):
        assert (out / name).is_file(), name
    assert summary["steps"] == 12 and summary["algorithm"] == "ppo"
    rows = (out / "eval.csv").read_text().splitlines()
    assert rows[0].startswith("step,f1,precision,recall,return,length,reward/")
    assert len(rows) == 1 + 3  # steps 0, 6 and the final evaluation at 12
    assert all(0.0 <= float(r.split(",")[1]) <= 1.0 for r in rows[1:])
    assert [int(r.split(",")[5]) for r in rows[1:]] == [6, 6, 6]  # whole episodes
    train_rows = (out / "train.csv").read_text().splitlines()
    assert len(train_rows) == 1 + 2 and "policy_loss" in train_rows[0]
    # the 6-step episode ends at the last step of the second 3-step iteration
    assert len((out / "episodes.csv").read_text().splitlines()) == 1 + 1
    config = TrainConfig.load(out / "config.json")
    assert (config.song, config.agent.hidden_dims, config.env_kwargs) == \
        ("demo_short", (16, 16), {"max_steps": 6})


def test_checkpoint_holds_the_ppo_actor_and_eval_plays_it(run, tmp_path):
    out, _ = run
    from training.evaluate import evaluate_run
    from training.rl.networks import Obs
    from training.rl.policy import load_run
    from training.rl.replay import active_indices

    loaded = load_run(out)
    env, agent, state, found = loaded.env, loaded.agent, loaded.state, loaded.checkpoint
    assert found.step == 12 and found.meta["algorithm"] == "ppo"
    # the DroQ actor restored by `pianohands eval` acts exactly as the PPO actor
    ppo = PPO(TINY, make_env(TINY))
    ts = env.reset()
    flat = env.flatten(ts.observation)
    mean, _ = ppo.actor_def.apply({"params": state.actor}, ppo.split(flat[None]))
    obs = Obs(ts.observation.dense[None], active_indices(ts.observation.bits[None]))
    droq_action = agent.act(state, obs, jax.random.PRNGKey(0), deterministic=True)
    np.testing.assert_allclose(np.asarray(droq_action), np.tanh(np.asarray(mean)), atol=1e-5)
    report = evaluate_run(out, video=False, out=tmp_path / "eval")
    assert report["steps"] == 6 and 0.0 <= report["f1"] <= 1.0
    assert (tmp_path / "eval" / "metrics.json").is_file()
    assert len(ckpt.list_checkpoints(out / "checkpoints")) == 2


def test_refuses_an_existing_run_and_bad_sizes(run):
    out, _ = run
    with pytest.raises(InputError, match="already holds a run"):
        train(TINY, out, progress=False)
    with pytest.raises(InputError, match="minibatches"):
        TINY.__class__(num_envs=3, rollout_length=1, num_minibatches=2).validate()


def test_from_train_config_takes_the_run_fields():
    tc = TrainConfig(song="twinkle:1", hand="allegro_like", seed=7, steps=1000,
                     env_kwargs={"max_steps": 40})
    cfg = from_train_config(tc)
    assert (cfg.song, cfg.hand, cfg.seed, cfg.steps, cfg.env_kwargs) == \
        ("twinkle:1", "allegro_like", 7, 1000, {"max_steps": 40})
    assert (cfg.mjx_iterations, cfg.mjx_ls_iterations, cfg.max_contact_points) == (2, 6, 20)


def test_cli_backend_mjx_dispatches_to_ppo(monkeypatch, tmp_path, capsys):
    """``pianohands train --backend mjx`` builds the PPO config from the usual flags (the
    training itself is the fixture's; here only the wiring, without compiling)."""
    from training import mjx_ppo
    from training.cli import main

    seen = {}

    def fake_train(config, out, **kwargs):
        seen.update(config=config, out=out, **kwargs)
        return {"steps": config.steps, "num_envs": config.num_envs, "wall_time_s": 1.0,
                "last_eval": {"f1": 0.25}}

    monkeypatch.setattr(mjx_ppo, "train", fake_train)
    out = tmp_path / "run"
    assert main(["train", "--backend", "mjx", "--song", "demo_short", "--hand", "shadow_four",
                 "--steps", "5000", "--seed", "3", "--hidden-dims", "64,64",
                 "--env-arg", "max_steps=20", "--out", str(out), "--no-progress",
                 "--time-budget", "2"]) == 0
    cfg = seen["config"]
    assert (cfg.song, cfg.hand, cfg.steps, cfg.seed, cfg.hidden_dims, cfg.env_kwargs) == \
        ("demo_short", "shadow_four", 5000, 3, (64, 64), {"max_steps": 20})
    assert seen["out"] == out and seen["time_budget_s"] == 120.0 and seen["progress"] is False
    assert "PPO on MJX" in capsys.readouterr().out
    assert main(["train", "--backend", "tpu", "--out", str(out)]) == 2
    assert "--backend" in capsys.readouterr().err
    assert main(["train", "--backend", "mjx", "--resume", "--out", str(out)]) == 2
