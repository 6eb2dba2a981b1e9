"""``pianohands demo`` (``make demo``): learn a short built-in piece in a few CPU minutes.

1. Scores the uniform-random policy on the piece (3 episodes, seeded): the bar to beat.
2. Trains DroQ until ``steps`` or the time budget, by default as a residual on top of the
   kinematic pianist (``base_policy="ik"``, ``pianoenv.residual``): the untrained agent
   already plays the piece from the annotator's fingering and IK, and learning corrects
   it (``base_policy=None`` trains from scratch, as RP1M). RP1M's Table 4 agent would get ~10k
   updates in 10 CPU minutes here; the demo keeps its algorithm and hyper-parameters
   (dropout 0.01 + LayerNorm critics, GELU, tau 0.05, discount 0.88, learnable temperature,
   Adam 3e-4, one update per 2 steps) but uses two hidden layers of 256 and batches of 128,
   which makes an update ~2.5x cheaper, with 1k warm-up steps and an evaluation every 1k.
3. Evaluates the run's best policy (``best.ckpt``, the best evaluation F1; ``pianohands
   eval --checkpoint best``): learned fingering (PIG + piano roll against the piece's human
   fingering), finger usage, video when GL is available. The final policy's F1 is the
   last point of the curve (every run ends with an evaluation).
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
from pianoenv.episode import run_episode
from pianoenv.policy import make_policy
from training.evaluate import evaluate_run, random_policy_f1
from training.rl.config import DroQConfig, TrainConfig
from training.rl.envwrap import make_env
from training.rl.loop import Trainer
from training.runlog import CsvLog, plot_f1_curve

RANDOM_EPISODES = 3


def demo_config(song: str, hand: str, fingering: str, seed: int, steps: int,
                base_policy: str | None = "ik") -> TrainConfig:
    return TrainConfig(song=song, hand=hand, fingering=fingering, seed=seed, steps=steps,
                       warmup_steps=1_000, buffer_size=200_000, batch_size=128,
                       eval_interval=1_000, log_interval=500, checkpoint_interval=10_000,
                       env_kwargs={"base_policy": base_policy} if base_policy else {},
                       agent=DroQConfig(hidden_dims=(256, 256)))


def baselines(config: TrainConfig, episodes: int = RANDOM_EPISODES) -> dict[str, Any]:
    """The bars to beat on the demo's piece, in the plain environment (no residual): the
    random policy's F1 (``evaluate.random_policy_f1``) and, for a residual run, its base
    policy's F1 alone (deterministic, one episode)."""
    plain = {k: v for k, v in config.env_kwargs.items()
             if k not in ("base_policy", "residual_scale")}
    env = make_env(config.song, config.hand, config.fingering, config.seed, plain).env
    try:
        out: dict[str, Any] = {"random": random_policy_f1(env, seed=config.seed,
                                                          episodes=episodes)}
        base = config.env_kwargs.get("base_policy")
        if base:
            result = run_episode(env, make_policy(base, env, config.seed), seed=config.seed)
            out["base"] = {"policy": base, "f1": float(result.metrics["f1"])}
        return out
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
             steps: int = 60_000, progress: bool = True,
             base_policy: str | None = "ik") -> dict[str, Any]:
    out = Path(out)
    config = demo_config(song, hand, fingering, seed, steps, base_policy)
    _fresh_dir(out)
    bars = baselines(config)
    baseline = bars["random"]
    trainer = Trainer(config, out, progress=progress, time_budget_s=60.0 * minutes,
                      eval_at_start=True)
    summary = trainer.run()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            report = evaluate_run(out, video=True, checkpoint=Path("best"))
        except Exception as exc:  # noqa: BLE001 - no GL: keep the demo, skip the video
            report = evaluate_run(out, video=False, checkpoint=Path("best"))
            report["video_error"] = f"{type(exc).__name__}: {exc}"
    rows = CsvLog(out / "eval.csv").rows()
    summary["eval_curve"] = [{"step": int(float(r["step"])), "f1": float(r["f1"])} for r in rows]
    base = bars.get("base")
    plot_f1_curve(rows, out / "f1_curve.png", random_f1=baseline["f1"],
                  base=(base["policy"], base["f1"]) if base else None,
                  title=f"demo: {song} / {hand} / fingering={fingering} / seed {seed}"
                        + (f"\nresidual on the base policy {base['policy']}" if base else ""))
    summary.update({
        "demo": True, "random_policy": baseline, "random_f1": baseline["f1"],
        "base_policy": bars.get("base"),
        "final_f1": float(summary["last_eval"]["f1"]),
        "final_eval": {k: summary["last_eval"][k] for k in ("f1", "precision", "recall")},
        "played": {"checkpoint": "best.ckpt", "step": report["checkpoint_step"],
                   **{k: report[k] for k in ("f1", "precision", "recall")}},
        "beats_random": bool(summary["last_eval"]["f1"] > baseline["f1"]),
        "learned_fingering": report["files"].get("learned_fingering"),
        "fingering_plot": report["files"].get("piano_roll"),
        "finger_usage_plot": report["files"].get("finger_usage"),
        "video": report["files"].get("video"), "match": report.get("match"),
        "minutes_budget": minutes,
    })
    write_text(out / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
    return summary
