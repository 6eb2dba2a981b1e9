"""``pianohands train | eval | demo``: one-line errors with exit code 2, and (slow) real runs
on the real environment, including ``kill -9`` then ``--resume``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from training.cli import main
from training.rl.config import DroQConfig, TrainConfig

TINY = ["--song", "demo_short", "--hidden-dims", "16", "--batch-size", "16",
        "--buffer-size", "1000", "--warmup-steps", "40", "--no-progress", "--no-tensorboard"]


@pytest.fixture(autouse=True)
def no_persistent_jax_cache(monkeypatch):
    """The CLI caches compiled programs under ~/.cache; tests must not write there."""
    monkeypatch.setenv("PIANOHANDS_JAX_CACHE", "off")


def fails(capsys, argv: list[str], *needles: str) -> str:
    """Runs the CLI, expects exit code 2 and one error line containing ``needles``."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.mark.parametrize("flags, needles", [
    (["--hidden-dims", "256,x"], ["--hidden-dims"]),
    (["--fingering", "maybe"], ["fingering", "ot"]),
    (["--discount", "1.5"], ["discount"]),
    (["--steps", "0"], ["steps"]),
    (["--env-arg", "novalue"], ["--env-arg"]),
    (["--steps", "ten"], ["--steps"]),
    (["--song", "no_such_song"], ["no_such_song", "song"]),
    (["--hand", "no_such_hand"], ["no_such_hand"]),
    # issue 15: non-finite and out-of-range values are one line naming the field
    (["--target-entropy", "nan"], ["target_entropy", "finite"]),
    (["--actor-lr", "inf"], ["actor_lr", "finite"]),
    (["--critic-lr", "0"], ["critic_lr"]),
    (["--time-budget", "-1"], ["--time-budget", "> 0"]),
    (["--time-budget", "nan"], ["--time-budget"]),
    (["--seed", "-1"], ["seed", ">= 0"]),
    (["--seed", "12345678901234567890"], ["seed", "must be < 4294967296"]),
    (["--stop-f1", "1.5"], ["stop_f1", "must be <= 1"]),
    (["--stop-f1", "0"], ["stop_f1", "must be > 0"]),
])
def test_bad_train_flags(capsys, tmp_path, flags, needles):
    fails(capsys, ["train", "--out", str(tmp_path / "run"), *flags], *needles)
    assert not (tmp_path / "run" / "config.json").exists()  # nothing half-made


def test_train_refuses_an_existing_run_and_resume_needs_one(capsys, tmp_path):
    TrainConfig().save(tmp_path / "config.json")
    fails(capsys, ["train", "--out", str(tmp_path)], str(tmp_path), "out", "--resume")
    fails(capsys, ["train", "--out", str(tmp_path / "nothing"), "--resume"], "nothing", "resume")


def test_resume_cannot_change_the_learning_problem(capsys, tmp_path):
    TrainConfig(song="demo_short").save(tmp_path / "config.json")
    fails(capsys, ["train", "--out", str(tmp_path), "--resume", "--discount", "0.5"],
          "discount", "config.json")


def test_resume_with_only_corrupt_checkpoints_is_one_line(capsys, tmp_path):
    TrainConfig(song="demo_short", agent=DroQConfig(hidden_dims=(8,))).save(tmp_path / "config.json")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "step_0000000100.ckpt").write_bytes(b"PIANOHANDS-CKPT-1\nbroken")
    fails(capsys, ["train", "--out", str(tmp_path), "--resume"], "checkpoint", "no readable",
          "step_0000000100.ckpt")


def test_bad_config_file(capsys, tmp_path):
    (tmp_path / "c.json").write_text('{"agent": {"tau": "fast"}}')
    fails(capsys, ["train", "--out", str(tmp_path / "r"), "--config", str(tmp_path / "c.json")],
          "c.json", "tau")


def test_eval_needs_a_run_with_a_checkpoint(capsys, tmp_path):
    fails(capsys, ["eval", str(tmp_path)], str(tmp_path), "config.json")
    TrainConfig(song="demo_short").save(tmp_path / "config.json")
    fails(capsys, ["eval", str(tmp_path), "--pig", str(tmp_path / "none.txt")], "none.txt", "--pig")
    fails(capsys, ["eval", str(tmp_path), "--checkpoint", str(tmp_path / "x.ckpt")], "x.ckpt")
    TrainConfig(song="demo_short", agent=DroQConfig(hidden_dims=(8,))).save(tmp_path / "config.json")
    fails(capsys, ["eval", str(tmp_path)], "checkpoint", "train first")


def test_demo_refuses_a_foreign_directory(capsys, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    fails(capsys, ["demo", "--out", str(tmp_path)], str(tmp_path), "--out")
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_train_help_lists_every_table_4_flag(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--hidden-dims", "--num-qs", "--critic-dropout", "--critic-layer-norm",
                 "--activation", "--tau", "--discount", "--learnable-temperature", "--actor-lr",
                 "--adam-b1", "--adam-b2", "--adam-eps", "--batch-size", "--warmup-steps",
                 "--update-interval", "--buffer-size", "--steps", "--resume", "--env-arg"):
        assert flag in out, flag


# --------------------------------------------------------------------------- real runs
@pytest.mark.slow
def test_train_eval_resume_on_the_real_environment(capsys, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY, "--steps", "200", "--eval-interval", "100",
                 "--checkpoint-interval", "100", "--save-replay"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 200 and summary["episodes"] == 2
    # the default run learns a residual on the kinematic pianist: shadow_five's obs (1144)
    # + the base action (39), action 39; RP1M's from-scratch run stores 948 bytes
    assert summary["replay_bytes_per_transition"] == 948 + 39 * 4
    assert json.loads((run / "config.json").read_text())["env_kwargs"]["base_policy"] == "ik"
    assert main(["train", "--out", str(run), "--resume", "--steps", "300"]) == 0
    assert "resuming from" in capsys.readouterr().err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 300 and summary["resumed_from"].endswith("step_0000000200.ckpt")
    assert main(["eval", str(run), "--no-video"]) == 0
    report = json.loads((run / "eval" / "metrics.json").read_text())
    assert 0.0 <= report["f1"] <= 1.0 and report["checkpoint_step"] == 300
    from fingering.pig import read_pig

    learned = read_pig(run / "eval" / "learned_fingering.txt")
    assert len(learned.notes) == report["notes"] == 8  # demo_short: 5 + 3 notes
    assert (run / "eval" / "piano_roll.png").is_file()  # built-in piece: human fingering known
    assert (run / "eval" / "finger_usage.png").is_file()


@pytest.mark.slow
def test_kill_9_then_resume_continues_from_the_last_checkpoint(tmp_path):
    run = tmp_path / "run"
    env = dict(os.environ, PIANOHANDS_JAX_CACHE="off")
    proc = subprocess.Popen(
        [sys.executable, "-m", "training.cli", "train", "--out", str(run), *TINY,
         "--steps", "100000", "--eval-interval", "100000", "--checkpoint-interval", "100",
         "--save-replay"], cwd=Path(__file__).resolve().parents[1], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 170
        while time.time() < deadline and len(list((run / "checkpoints").glob("step_*.ckpt"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.5)
        assert len(list((run / "checkpoints").glob("step_*.ckpt"))) >= 2, "no checkpoints in time"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    from training.checkpoint import list_checkpoints

    last = list_checkpoints(run / "checkpoints")[0][0]
    assert main(["train", "--out", str(run), "--resume", "--steps", str(last + 100),
                 "--checkpoint-interval", "100"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == last + 100 and summary["resumed_from"]
    assert not list(run.rglob("*.tmp"))


@pytest.mark.slow
def test_demo_end_to_end_and_rerun(capsys, tmp_path):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--steps", "150", "--minutes", "5", "--no-progress"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("random_f1", "final_f1", "best_eval_f1", "beats_random", "eval_curve",
                "learned_fingering", "fingering_plot", "wall_time_s"):
        assert key in summary, key
    assert summary["steps"] == 150 and 0 <= summary["random_f1"] <= 1
    # the curve ends with the final policy; the report and video play the best evaluated one
    curve = summary["eval_curve"]
    assert curve[-1]["step"] == 150 and summary["final_f1"] == pytest.approx(curve[-1]["f1"])
    best = max(curve, key=lambda point: point["f1"])
    assert summary["played"]["f1"] == pytest.approx(best["f1"], abs=1e-6)  # CSV: 6 digits
    assert summary["played"]["step"] == best["step"]
    for name in ("f1_curve.png", "eval/learned_fingering.txt", "eval/piano_roll.png",
                 "eval/finger_usage.png"):
        assert (out / name).is_file(), name
    assert "vs random policy" in capsys.readouterr().out
    assert main(argv) == 0  # a second demo replaces the first
    assert json.loads((out / "summary.json").read_text())["steps"] == 150


@pytest.mark.slow
def test_a_corrupt_newest_checkpoint_is_one_warning_line_and_the_previous_is_used(capsys, tmp_path):
    """Both checkpoints exist, the newest is cut short: eval warns once (one line, naming the
    file) and uses the older one; no Python warning noise reaches the user."""
    import numpy as np

    from training import checkpoint as ckpt
    from training.rl.agent import DroQ
    from training.rl.envwrap import make_env

    config = TrainConfig(song="demo_short", agent=DroQConfig(hidden_dims=(8,)))
    config.save(tmp_path / "config.json")
    env = make_env("demo_short", "shadow_five", "ot", np.random.default_rng(0))
    state = DroQ(config.agent, env.layout.dense_dim, env.layout.num_bits, env.action_dim).init(0)
    ckpt.save_checkpoint(tmp_path / "checkpoints", 100, state, {})
    newest = ckpt.save_checkpoint(tmp_path / "checkpoints", 200, state, {})
    newest.write_bytes(newest.read_bytes()[:-7])
    assert main(["eval", str(tmp_path), "--no-video"]) == 0
    err = capsys.readouterr().err
    warning_lines = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warning_lines) == 1 and "step_0000000200.ckpt" in warning_lines[0]
    assert "CheckpointWarning" not in err and ".py:" not in err
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert report["checkpoint_step"] == 100


@pytest.mark.slow
def test_eval_with_video_leaves_no_traceback_at_exit(tmp_path, needs_gl):
    """The renderer's GL context is closed by eval itself; left to a destructor at
    interpreter exit it printed an EGL traceback after a successful eval."""
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY, "--steps", "100",
                 "--eval-interval", "100"]) == 0
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", "from training.cli import entry; entry()",
                           "eval", str(run), "--out", str(tmp_path / "eval")],
                          cwd=root, env=dict(os.environ, PYTHONPATH=str(root)),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "eval" / "video.mp4").is_file()
    assert "Traceback" not in proc.stderr, proc.stderr
