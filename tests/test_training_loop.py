"""The trainer on the fake environment: outputs, evaluation, exact resume."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from handspec.errors import InputError
from training import checkpoint as ckpt
from training.rl.config import DroQConfig, TrainConfig
from training.rl.envwrap import TrainingEnv
from fake_env import FakePianoEnv
from training.rl.loop import Trainer

# Same agent config and batch shape as tests/test_droq_agent.py: one compile per session.
SMALL = DroQConfig(hidden_dims=(32, 32))


def fake_factory(config: TrainConfig, rng: np.random.Generator) -> TrainingEnv:
    return TrainingEnv(FakePianoEnv(seed=rng))


def config(**changes) -> TrainConfig:
    base = TrainConfig(song="fake", steps=120, warmup_steps=40, batch_size=32, buffer_size=500,
                       eval_interval=60, log_interval=20, checkpoint_interval=60,
                       save_replay=True, agent=SMALL)
    return base.replace(**changes)


def trainer(cfg: TrainConfig, out, **kwargs) -> Trainer:
    return Trainer(cfg, out, env_factory=fake_factory, progress=False, **kwargs)


def leaves(state):
    return [np.asarray(x) for x in jax.tree.leaves(state)]


def script_eval_f1(monkeypatch, values: list[float]) -> None:
    """The trainer's evaluations report these F1 values, in order (the episodes still run)."""
    import training.rl.loop as loop

    scripted = iter(values)
    real = loop.run_episode

    def run_episode(*args, **kwargs):
        result = real(*args, **kwargs)
        result.metrics["f1"] = next(scripted)
        return result

    monkeypatch.setattr(loop, "run_episode", run_episode)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    t = trainer(config(), out)
    summary = t.run()
    return out, t, summary


def test_a_run_writes_every_output(straight_run):
    out, _, summary = straight_run
    for name in ("config.json", "train.csv", "episodes.csv", "eval.csv", "summary.json",
                 "f1_curve.png"):
        assert (out / name).is_file(), name
    assert list((out / "tb").glob("events.out.tfevents.*"))
    assert TrainConfig.load(out / "config.json") == config()
    evals = (out / "eval.csv").read_text().splitlines()
    assert evals[0].startswith("step,f1,precision,recall,return,length,reward/")
    assert [int(line.split(",")[0]) for line in evals[1:]] == [60, 120]
    assert len((out / "episodes.csv").read_text().splitlines()) == 1 + 6  # 120 steps / 20
    data = json.loads((out / "summary.json").read_text())
    assert data["steps"] == 120 and data["episodes"] == 6
    # updates every 2 steps from step 40 (warm-up) to 120, one each
    assert data["updates"] == summary["updates"] == 41
    assert 0.0 <= data["last_eval"]["f1"] <= 1.0
    assert [s for s, _ in ckpt.list_checkpoints(out / "checkpoints")] == [120, 60]



def tensorboard_scalars(logdir) -> dict[str, list[tuple[int, float]]]:
    """Scalars of TFRecord event files (length, crc, Event proto, crc), read with
    tensorboardX's protobufs (no TensorFlow/TensorBoard needed)."""
    import struct

    from tensorboardX.proto import event_pb2

    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        data, pos = path.read_bytes(), 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                out.setdefault(value.tag, []).append((event.step, value.simple_value))
    return out


def test_tensorboard_has_reward_terms_eval_f1_and_losses(straight_run):
    out, _, _ = straight_run
    tags = tensorboard_scalars(out / "tb")
    for tag in ("reward/press", "reward/sustain", "reward/total", "eval/f1", "eval/precision",
                "eval/recall", "eval/reward/press", "episode/f1", "train/critic_loss",
                "train/temperature", "train/steps_per_s"):
        assert tag in tags, tag
    assert [step for step, _ in tags["eval/f1"]] == [60, 120]


def test_resume_continues_exactly_like_an_uninterrupted_run(straight_run, tmp_path):
    """Stop at step 60 (a checkpoint at an episode end), resume to 120: same step counter,
    config, parameters, optimiser states and RNG as the straight run."""
    _, straight, _ = straight_run
    first = trainer(config(steps=60), tmp_path)
    first.run()
    resumed = trainer(config(), tmp_path, resume=True)
    assert resumed.step == 60 and resumed.episode == 3 and resumed.resumed_from
    assert resumed.config == config()
    resumed.run()
    assert (resumed.step, resumed.episode, resumed.updates) == \
        (straight.step, straight.episode, straight.updates)
    for a, b in zip(leaves(resumed.state), leaves(straight.state)):
        np.testing.assert_array_equal(a, b)
    evals = (tmp_path / "eval.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in evals[1:]] == [60, 120]  # no duplicate rows


def test_resume_restores_what_the_checkpoint_holds(tmp_path):
    t = trainer(config(steps=60, save_replay=False), tmp_path)
    t.run()
    saved = leaves(t.state)
    again = trainer(config(steps=60, save_replay=False), tmp_path, resume=True)
    assert again.step == 60 and again.updates == t.updates
    for a, b in zip(leaves(again.state), saved):
        np.testing.assert_array_equal(a, b)
    assert len(again.replay) == 0  # no replay saved: the buffer starts empty


def test_corrupt_newest_checkpoint_resumes_from_the_previous(tmp_path):
    trainer(config(steps=120, save_replay=False), tmp_path).run()
    newest = ckpt.list_checkpoints(tmp_path / "checkpoints")[0][1]
    newest.write_bytes(newest.read_bytes()[:-10])
    with pytest.warns(ckpt.CheckpointWarning, match="checksum|truncated"):
        again = trainer(config(steps=120, save_replay=False), tmp_path, resume=True)
    assert again.step == 60


def test_existing_run_needs_resume_and_resume_needs_a_run(tmp_path):
    trainer(config(steps=20, eval_interval=20), tmp_path / "a").run()
    with pytest.raises(InputError) as err:
        trainer(config(steps=20), tmp_path / "a")
    assert err.value.field == "out"
    with pytest.raises(InputError) as err:
        trainer(config(), tmp_path / "empty", resume=True)
    assert err.value.field == "resume"


def test_time_budget_stops_with_a_checkpoint(tmp_path):
    t = trainer(config(steps=10_000), tmp_path, time_budget_s=0.0)
    summary = t.run()
    assert summary["steps"] == 1 and ckpt.list_checkpoints(tmp_path / "checkpoints")[0][0] == 1


def test_ctrl_c_stops_between_iterations_with_a_checkpoint(tmp_path):
    """SIGINT during training: the loop finishes the iteration, saves, then raises."""
    import os
    import signal

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the runner was started in the background
    t = trainer(config(steps=1000), tmp_path,
                on_eval=lambda step, result: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        t.run()
    assert t.step == 60  # the first evaluation sent the signal; the next iteration stopped
    assert ckpt.list_checkpoints(tmp_path / "checkpoints")[0][0] == 60
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] and summary["steps"] == 60
    assert signal.getsignal(signal.SIGINT) is before  # handler restored
    resumed = trainer(config(steps=1000), tmp_path, resume=True)
    assert resumed.step == 60


def test_best_checkpoint_holds_the_agent_of_the_best_evaluation(tmp_path, monkeypatch):
    """Evaluation F1 0.2, 0.5, 0.3 (scripted): best.ckpt is the agent at the second
    evaluation; after a crash that lost the checkpoints taken since, the resumed run (its
    checkpoint saying 0.2) still knows 0.5, so later evaluations of 0.4 do not replace it."""
    from training.rl.policy import load_run

    script_eval_f1(monkeypatch, [0.2, 0.5, 0.3, 0.4, 0.45])
    cfg = config(steps=180, eval_interval=60, save_replay=False, keep_checkpoints=3)
    seen = {}
    t = trainer(cfg, tmp_path)
    t.on_eval = lambda step, _: seen.setdefault(step, leaves(t.state.actor))
    t.run()
    best = ckpt.best_path(tmp_path / "checkpoints")
    meta = ckpt.read_meta(best)
    assert meta["step"] == 120 and meta["best_f1"] == 0.5 and meta["last_eval"]["f1"] == 0.5
    stored = ckpt.read_checkpoint(best, t.state)
    for a, b in zip(leaves(stored.agent.actor), seen[120], strict=True):
        np.testing.assert_array_equal(a, b)
    # policy-only: the critics and optimisers are the template's, and the file holds
    # little more than the actor (the step checkpoints hold all of it)
    assert meta["policy_only"]
    for a, b in zip(leaves(stored.agent.critic), leaves(t.state.critic), strict=True):
        np.testing.assert_array_equal(a, b)
    actor_bytes = sum(x.nbytes for x in leaves(t.state.actor))
    step_file = ckpt.list_checkpoints(tmp_path / "checkpoints")[0][1]
    assert best.stat().st_size < 1.2 * actor_bytes + 20_000 < step_file.stat().st_size
    for step, path in ckpt.list_checkpoints(tmp_path / "checkpoints"):
        if step > 60:
            path.unlink()
    again = trainer(cfg, tmp_path, resume=True)
    assert again.step == 60 and again.best_f1 == 0.5
    again.run()  # evaluations 0.4 and 0.45
    assert ckpt.read_meta(best)["step"] == 120
    # load_run (and so eval and collect) take it by name
    env = fake_factory(cfg, np.random.default_rng(0))
    assert load_run(tmp_path, "best", env=env).checkpoint.step == 120


def test_every_run_ends_with_an_evaluation_and_best_by_name_needs_the_file(tmp_path):
    from training.rl.policy import load_run

    trainer(config(steps=50, eval_interval=10**6, save_replay=False), tmp_path).run()
    evals = (tmp_path / "eval.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in evals[1:]] == [50]  # the final policy's
    assert json.loads((tmp_path / "summary.json").read_text())["last_eval"]["step"] == 50
    ckpt.best_path(tmp_path / "checkpoints").unlink()  # as a run of an earlier version
    with pytest.raises(InputError, match="no best.ckpt"):
        load_run(tmp_path, "best")


def test_stop_f1_ends_the_run_at_the_first_evaluation_that_reaches_it(tmp_path, monkeypatch):
    """Evaluation F1 0.2, 0.6, 0.9 (scripted) with stop_f1 0.6: the run ends at the second
    evaluation (not a step later, and with no extra final evaluation), says so, and its
    best.ckpt and newest checkpoint are that step's; resumed with a higher stop_f1 (a
    schedule field, so a resume may change it) it trains on to the next evaluation."""
    script_eval_f1(monkeypatch, [0.2, 0.6, 0.9])
    cfg = config(steps=600, eval_interval=60, save_replay=False, stop_f1=0.6)
    summary = trainer(cfg, tmp_path).run()
    assert summary["steps"] == 120 and summary["reached_stop_f1"]
    assert [point["step"] for point in summary["eval_curve"]] == [60, 120]
    assert ckpt.read_meta(ckpt.best_path(tmp_path / "checkpoints"))["step"] == 120
    assert ckpt.list_checkpoints(tmp_path / "checkpoints")[0][0] == 120
    assert json.loads((tmp_path / "config.json").read_text())["stop_f1"] == 0.6
    again = trainer(cfg.replace(stop_f1=0.8), tmp_path, resume=True).run()
    assert again["steps"] == 180 and again["reached_stop_f1"]


def test_a_run_without_stop_f1_trains_all_its_steps_and_writes_no_such_field(tmp_path):
    summary = trainer(config(steps=120, save_replay=False), tmp_path).run()
    assert summary["steps"] == 120 and not summary["reached_stop_f1"]
    assert "stop_f1" not in json.loads((tmp_path / "config.json").read_text())
