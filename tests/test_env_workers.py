"""Environment workers (``TrainConfig.env_workers``): actor processes feeding one learner.

On the fake environment (no MuJoCo) except the one CLI run. What is checked: the learner
keeps the synchronous loop's update-to-data ratio, writes the same outputs, stores every
transition exactly (several workers share one replay ring), stops and reaps its workers on
every exit (normal, Ctrl-C, SIGTERM, a worker's crash or death, the learner's own death),
and resumes. No timing is asserted.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_env import FakePianoEnv
from handspec.errors import InputError
from training import checkpoint as ckpt
from training.locks import FileLock
from training.rl.actors import EnvWorkerError, ReplayStreams, worker_seed
from training.rl.config import DroQConfig, TrainConfig
from training.rl.envwrap import TrainingEnv
from training.rl.loop import Trainer
from training.rl.replay import ObsLayout, ReplayBuffer
from training.seeds import ACT, derive_seed
from training.signals import sigterm_as_interrupt

ROOT = Path(__file__).resolve().parents[1]
SMALL = DroQConfig(hidden_dims=(32, 32))  # as test_training_loop: one compile per session


def fake_factory(config: TrainConfig, rng: np.random.Generator) -> TrainingEnv:
    return TrainingEnv(FakePianoEnv(seed=rng))


class ExplodingEnv(FakePianoEnv):
    """Raises at its 6th step (only workers step: the learner's env only evaluates)."""

    def step(self, action):
        if self._t == 5:
            raise ValueError("boom")
        return super().step(action)


class VanishingEnv(FakePianoEnv):
    """Ends its process without a word (as a segfault would) at its 6th step."""

    def step(self, action):
        if self._t == 5:
            os._exit(7)
        return super().step(action)


def long_factory(config: TrainConfig, rng: np.random.Generator) -> TrainingEnv:
    """Episodes far longer than the runs: workers must stop mid-episode."""
    return TrainingEnv(FakePianoEnv(num_steps=5000, seed=rng))


def exploding_factory(config: TrainConfig, rng: np.random.Generator) -> TrainingEnv:
    return TrainingEnv(ExplodingEnv(seed=rng))


def vanishing_factory(config: TrainConfig, rng: np.random.Generator) -> TrainingEnv:
    return TrainingEnv(VanishingEnv(seed=rng))


def config(**changes) -> TrainConfig:
    base = TrainConfig(song="fake", steps=120, warmup_steps=40, batch_size=32, buffer_size=500,
                       eval_interval=60, log_interval=20, checkpoint_interval=60,
                       save_replay=True, agent=SMALL, env_workers=1, param_sync_interval=4)
    return base.replace(**changes)


def trainer(cfg: TrainConfig, out, factory=fake_factory, **kwargs) -> Trainer:
    return Trainer(cfg, out, env_factory=factory, progress=False, tensorboard=False, **kwargs)


def sync_updates(cfg: TrainConfig, first: int, last: int) -> int:
    """Updates the synchronous loop does over steps first..last (the replay holds a batch
    from warm-up on in these configs)."""
    return cfg.updates_per_interval * sum(
        1 for s in range(first, last + 1) if s >= cfg.warmup_steps and s % cfg.update_interval == 0)


def assert_reaped(pids: list[int]) -> None:
    assert pids and all(not Path(f"/proc/{pid}").exists() for pid in pids), pids
    assert mp.active_children() == []


@pytest.fixture(scope="module")
def workers_run(tmp_path_factory):
    """A finished run with one worker; the workers get a Ctrl-C of their own at step 60 (a
    terminal's Ctrl-C reaches the whole process group) and must ignore it."""
    out = tmp_path_factory.mktemp("workers")
    affinity = os.sched_getaffinity(0)
    seen: dict[str, list[int]] = {}

    def on_eval(step: int, result) -> None:
        seen["pids"] = list(t.workers.pids)
        for pid in t.workers.pids:
            os.kill(pid, signal.SIGINT)

    t = trainer(config(), out, on_eval=on_eval)
    summary = t.run()
    return out, t, summary, seen, affinity


def test_workers_keep_the_update_to_data_ratio_and_every_output(workers_run):
    out, t, summary, seen, _ = workers_run
    cfg = config()
    assert summary["steps"] == 120 and summary["episodes"] == 6 and not summary["interrupted"]
    assert summary["updates"] == t.updates == sync_updates(cfg, 1, 120) == 41
    evals = (out / "eval.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in evals[1:]] == [60, 120]
    episodes = [line.split(",") for line in (out / "episodes.csv").read_text().splitlines()]
    assert [int(row[0]) for row in episodes[1:]] == [20, 40, 60, 80, 100, 120]
    assert all(float(row[episodes[0].index("length")]) == 20 for row in episodes[1:])
    train = (out / "train.csv").read_text().splitlines()
    assert "steps_per_s" in train[0] and len(train) == 1 + 6
    assert t.replay.num_valid == 120  # every received step stored, none twice
    workers = summary["workers"]
    assert summary["env_workers"] == workers["count"] == 1
    assert workers["replay_restarts"] == 0 and workers["param_broadcasts"] >= 2
    assert workers["policy_lag_samples"] > 0 and workers["policy_lag_max"] >= 0
    assert workers["learner_wait_s"] >= 0 and len(workers["worker_put_wait_s"]) == 1
    assert ckpt.list_checkpoints(out / "checkpoints")[0][0] == 120


def test_workers_ignore_ctrl_c_and_are_reaped(workers_run):
    _, t, summary, seen, affinity = workers_run
    assert seen["pids"] == summary["workers"]["pids"]  # alive at step 60, ignored SIGINT
    assert_reaped(seen["pids"])
    assert os.sched_getaffinity(0) == affinity  # the learner's pinning is undone
    FileLock(t.paths.lock, "busy").acquire().release()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_workers_checkpoints_and_the_run_resumes(tmp_path, sig):
    seen = {}

    def on_eval(step: int, result) -> None:
        seen["pids"] = list(t.workers.pids)
        os.kill(os.getpid(), sig)

    cfg = config()
    t = trainer(cfg, tmp_path, factory=long_factory, on_eval=on_eval)
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt):  # as an experiment runs it
        t.run()
    assert signal.getsignal(signal.SIGTERM) is before
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] and summary["steps"] == 60  # stopped at the boundary
    assert ckpt.list_checkpoints(tmp_path / "checkpoints")[0][0] == 60
    assert_reaped(seen["pids"])
    assert [p.exitcode for p in t.workers.procs] == [0]  # stopped when told, mid-episode
    if sig == signal.SIGINT:
        return  # resuming once is enough (each session spawns its workers)
    again = trainer(cfg.replace(steps=100), tmp_path, factory=long_factory, resume=True)
    assert again.step == 60 and len(again.replay) == 60  # the replay is restored
    summary = again.run()
    assert summary["steps"] == 100 and summary["resumed_from"].endswith("step_0000000060.ckpt")
    assert summary["updates"] == sync_updates(cfg, 1, 100) and len(again.replay) == 100
    assert summary["workers"]["pids"] != seen["pids"]  # fresh workers
    assert_reaped(summary["workers"]["pids"])


@pytest.mark.parametrize("factory, message", [
    (exploding_factory, r"env worker 0 failed at its step 5: ValueError: boom"),
    (vanishing_factory, r"env worker 0 \(pid \d+\) died \(exit code 7\)"),
])
def test_a_failing_worker_stops_the_learner_with_a_clear_error(tmp_path, factory, message,
                                                               capfd):
    t = trainer(config(eval_interval=1000), tmp_path, factory=factory)
    with pytest.raises(EnvWorkerError, match=message):
        t.run()
    assert_reaped(t.workers.pids)
    FileLock(t.paths.lock, "busy").acquire().release()  # the run directory is free again
    assert not (tmp_path / "summary.json").exists()  # a crash, as in the single-process loop
    if factory is exploding_factory:
        assert "ValueError: boom" in capfd.readouterr().err  # the worker's traceback


def test_a_factory_that_cannot_reach_a_worker_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InputError) as err:
        trainer(config(), tmp_path / "run", factory=lambda c, rng: fake_factory(c, rng))
    assert err.value.field == "env_workers" and "pickled" in err.value.message
    assert not (tmp_path / "run").exists()


ORPHAN = """
import sys
sys.path.insert(0, sys.argv[2])
from test_env_workers import config, trainer

def on_eval(step, result):
    print(*t.workers.pids, flush=True)

t = trainer(config(steps=10**6, warmup_steps=10**6, eval_interval=10**6,
                   checkpoint_interval=10**6), sys.argv[1], on_eval=on_eval, eval_at_start=True)
t.run()
"""


@pytest.mark.slow
def test_workers_exit_when_their_learner_is_killed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", ORPHAN, str(tmp_path / "run"),
                             str(Path(__file__).parent)], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip(), proc.stderr.read()
        pids = [int(p) for p in line.split()]
    finally:
        proc.send_signal(signal.SIGKILL)  # no finally block of the learner runs
        proc.wait()

    def gone(pid: int) -> bool:
        try:  # reparented: reaped by init, or a zombie of a parent that does not reap
            return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
        except (FileNotFoundError, ProcessLookupError):
            return True

    deadline = time.monotonic() + 60
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(gone(pid) for pid in pids)


# ------------------------------------------------------------------ pieces
def test_worker_seeds_differ_by_worker_stream_and_session():
    seeds = {worker_seed(7, w, s, session) for w in range(3) for s in range(3)
             for session in (0, 5000)}
    assert len(seeds) == 18 and derive_seed(7, ACT) not in seeds
    assert worker_seed(7, 1, 2, 0) == worker_seed(7, 1, 2, 0)


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=6),
       order=st.randoms(use_true_random=False), capacity=st.sampled_from([7, 64]))
def test_interleaved_worker_episodes_store_exactly_the_sent_transitions(lengths, order,
                                                                        capacity):
    """Episodes of several workers arrive interleaved step by step; every transition
    stored in the replay is one that was sent (observation, action, reward, next
    observation), and while nothing is overwritten, every sent one is stored."""
    layout = ObsLayout(dense_dim=2, num_bits=3)
    replay = ReplayBuffer(capacity, layout, action_dim=1)
    streams = ReplayStreams(replay)
    # worker w, episode with steps t = 0..n-1; observation (w, t), action w*100 + t
    pending = {w: 0 for w in range(len(lengths))}
    sent = set()
    started = set()

    def obs(w: int, t: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array([w, t], np.float32), np.array([t % 2, 1, w % 2], np.uint8)

    while pending:
        w = order.choice(sorted(pending))
        t = pending[w]
        if w not in started:
            streams.first(w, *obs(w, 0))
            started.add(w)
            continue
        streams.add(w, np.array([w * 100 + t], np.float32), float(t), 1.0, *obs(w, t + 1),
                    last=t + 1 == lengths[w])
        sent.add((w, t, w * 100 + t, w, t + 1))
        pending[w] += 1
        if pending[w] == lengths[w]:
            del pending[w]
    stored = set()
    for slot in np.flatnonzero(replay.valid):
        nxt = (slot + 1) % capacity
        stored.add((int(replay.dense[slot, 0]), int(replay.dense[slot, 1]),
                    int(replay.action[slot, 0]), int(replay.dense[nxt, 0]),
                    int(replay.dense[nxt, 1])))
    assert stored <= sent
    slots_used = sum(lengths) + len(lengths) + streams.restarts
    if slots_used <= capacity:
        assert stored == sent and len(replay) == sum(lengths)


# ------------------------------------------------------------------ the command line
@pytest.mark.slow
def test_train_command_with_env_workers(tmp_path):
    from training.cli import main

    run = tmp_path / "run"
    argv = ["train", "--song", "demo_short", "--out", str(run), "--env-workers", "1",
            "--steps", "60", "--warmup-steps", "60", "--hidden-dims", "16", "--batch-size", "16",
            "--buffer-size", "1000", "--eval-interval", "60", "--no-progress",
            "--no-tensorboard"]
    assert main(argv) == 0
    assert TrainConfig.load(run / "config.json").env_workers == 1
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 60 and summary["env_workers"] == 1
    assert_reaped(summary["workers"]["pids"])
