"""``pianohands demo`` (``make demo``): learn a short built-in piece in a few CPU minutes.

1. Scores the uniform-random policy on the piece (3 episodes, seeded): the bar to beat.
2. Trains DroQ until ``steps`` or the time budget. RP1M's Table 4 agent would get ~10k
   updates in 10 CPU minutes here; the demo keeps its algorithm and hyper-parameters
   (dropout 0.01 + LayerNorm critics, GELU, tau 0.05, discount 0.88, learnable temperature,
   Adam 3e-4, one update per 2 steps) but uses two hidden layers of 256 and batches of 128,
   which makes an update ~2.5x cheaper, with 1k warm-up steps and an evaluation every 1k.
3. Evaluates the final policy (``pianohands eval``): learned fingering (PIG + piano roll
   against the piece's human fingering), finger usage, video when GL is available.
4. Writes ``f1_curve.png`` (with the random policy's F1 as a line) and ``summary.json``.

Re-running replaces a previous demo in the same directory (recognised by ``demo.json``);
any other existing directory is refused.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

from handspec.atomic import write_text
from handspec.errors import InputError
from training.evaluate import evaluate_run, random_policy_f1
from training.rl.config import DroQConfig, TrainConfig
from training.rl.envwrap import make_env
from training.rl.loop import Trainer
from training.runlog import CsvLog, plot_f1_curve

RANDOM_EPISODES = 3


def demo_config(song: str, hand: str, fingering: str, seed: int, steps: int) -> TrainConfig:
    return TrainConfig(song=song, hand=hand, fingering=fingering, seed=seed, steps=steps,
                       warmup_steps=1_000, buffer_size=200_000, batch_size=128,
                       eval_interval=1_000, log_interval=500, checkpoint_interval=10_000,
                       agent=DroQConfig(hidden_dims=(256, 256)))


def random_baseline(config: TrainConfig, episodes: int = RANDOM_EPISODES) -> dict[str, float]:
    """The random policy's F1 on the demo's environment (``evaluate.random_policy_f1``)."""
    env = make_env(config.song, config.hand, config.fingering, config.seed, config.env_kwargs).env
    try:
        return random_policy_f1(env, seed=config.seed, episodes=episodes)
    finally:
        env.close()


def _fresh_dir(out: Path) -> None:
    if out.exists():
        if not (out / "demo.json").is_file():
            if any(out.iterdir()):
                raise InputError("exists and is not a previous demo; choose another --out",
                                 file=out, field="--out")
        else:
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "demo.json", json.dumps({"demo": True}) + "\n")


def run_demo(out: str | Path, *, minutes: float = 8.5, song: str = "demo_short",
             hand: str = "shadow_five", fingering: str = "ot", seed: int = 0,
             steps: int = 60_000, progress: bool = True) -> dict[str, Any]:
    out = Path(out)
    config = demo_config(song, hand, fingering, seed, steps)
    _fresh_dir(out)
    baseline = random_baseline(config)
    trainer = Trainer(config, out, progress=progress, time_budget_s=60.0 * minutes)
    summary = trainer.run()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            report = evaluate_run(out, video=True)
        except Exception as exc:  # noqa: BLE001 - no GL: keep the demo, skip the video
            report = evaluate_run(out, video=False)
            report["video_error"] = f"{type(exc).__name__}: {exc}"
    log = CsvLog(out / "eval.csv")
    rows = log.rows()
    if not rows or int(float(rows[-1]["step"])) != summary["steps"]:
        # the final policy's evaluation closes the curve (also when no periodic one ran)
        log.write({"step": summary["steps"], "f1": report["f1"], "precision": report["precision"],
                   "recall": report["recall"], "return": report["return"],
                   "length": report["steps"],
                   **{f"reward/{k}": v for k, v in sorted(report["reward_terms"].items())}})
        rows = log.rows()
    summary["eval_curve"] = [{"step": int(float(r["step"])), "f1": float(r["f1"])} for r in rows]
    plot_f1_curve(rows, out / "f1_curve.png", random_f1=baseline["f1"],
                  title=f"demo: {song} / {hand} / fingering={fingering} / seed {seed}")
    summary.update({
        "demo": True, "random_policy": baseline, "random_f1": baseline["f1"],
        "final_f1": float(report["f1"]), "final_eval": {k: report[k] for k in ("f1", "precision", "recall")},
        "beats_random": bool(report["f1"] > baseline["f1"]),
        "learned_fingering": report["files"].get("learned_fingering"),
        "fingering_plot": report["files"].get("piano_roll"),
        "finger_usage_plot": report["files"].get("finger_usage"),
        "video": report["files"].get("video"), "match": report.get("match"),
        "minutes_budget": minutes,
    })
    write_text(out / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
    return summary
