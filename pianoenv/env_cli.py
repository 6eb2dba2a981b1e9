"""``pianohands env ...``: run a simple policy and report F1 and reward terms; render videos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable

import numpy as np
import typer

from handspec.errors import InputError

app = typer.Typer(help="The piano environment: run a policy, render a video.",
                  no_args_is_help=True, add_completion=False)

SongOpt = Annotated[str, typer.Option("--song", help="Built-in name, .mid, PIG file; 'name:chunk'.")]
HandOpt = Annotated[str, typer.Option("--hand", help="Hand name or YAML path.")]
FingeringOpt = Annotated[str, typer.Option("--fingering", help="ot | human | none")]
PolicyOpt = Annotated[str, typer.Option("--policy", help="random | zero (hold the home pose)")]
POLICIES = ("random", "zero")


def make_policy(env, name: str, seed: int) -> Callable[[object], np.ndarray]:
    """A baseline policy for ``env``: uniform random actions, or holding the home pose."""
    spec = env.action_spec()
    if name == "random":
        rng = np.random.default_rng(seed)
        return lambda ts: rng.uniform(spec.minimum, spec.maximum).astype(np.float32)
    if name == "zero":
        env.reset()
        hold = np.append(env.data.ctrl[env._act_ids], 0.0).astype(np.float32)
        return lambda ts: hold
    raise InputError(f"unknown policy {name!r}; one of {', '.join(POLICIES)}", field="--policy")


def run_episode(env, policy, on_step: Callable[[], None] | None = None) -> dict[str, float]:
    """Play one episode; returns episode metrics plus the mean of every reward term."""
    ts = env.reset()
    sums: dict[str, float] = {}
    steps = 0
    while not ts.last():
        ts = env.step(policy(ts))
        steps += 1
        for k, v in env.reward_terms.items():
            sums[k] = sums.get(k, 0.0) + v
        if on_step is not None:
            on_step()
    out = env.episode_metrics()
    out.update({f"reward/{k}": v / max(steps, 1) for k, v in sums.items()})
    return out


@app.command()
def run(song: SongOpt = "twinkle", hand: HandOpt = "shadow_five", fingering: FingeringOpt = "ot",
        policy: PolicyOpt = "random",
        episodes: Annotated[int, typer.Option(min=1)] = 1,
        seed: int = 0) -> None:
    """Play the song with a baseline policy; print F1, precision, recall and reward terms."""
    from rich.console import Console
    from rich.table import Table

    from pianoenv import suite

    env = suite.load(song, hand, fingering, seed=seed)
    try:
        pol = make_policy(env, policy, seed)
        results = [run_episode(env, pol) for _ in range(episodes)]
    finally:
        env.close()
    table = Table("metric", "mean", "min", "max",
                  title=f"{song} / {hand} / fingering={fingering} / policy={policy} "
                        f"({episodes} episode{'s' if episodes > 1 else ''}, {env.num_steps} steps)")
    for key in results[0]:
        vals = np.array([r[key] for r in results], dtype=float)
        table.add_row(key, f"{vals.mean():.4f}", f"{vals.min():.4f}", f"{vals.max():.4f}")
    Console(width=120).print(table)


@app.command()
def render(song: SongOpt = "twinkle", hand: HandOpt = "shadow_five",
           fingering: FingeringOpt = "ot", policy: PolicyOpt = "zero",
           out: Annotated[Path, typer.Option("--out", help="MP4 file to write.")] = Path("video.mp4"),
           camera: Annotated[str, typer.Option(help="player | top | right_closeup")] = "player",
           width: Annotated[int, typer.Option(min=64, max=1920)] = 640,
           height: Annotated[int, typer.Option(min=64, max=1080)] = 480,
           seed: int = 0) -> None:
    """Render an episode offscreen to MP4 (20 fps = real time at the 0.05 s control step)."""
    from pianoenv import suite
    from pianoenv.video import write_video

    if out.suffix.lower() != ".mp4":
        raise InputError("must end in .mp4", file=out, field="--out")
    if camera not in ("player", "top", "right_closeup"):
        raise InputError(f"unknown camera {camera!r}; one of player, top, right_closeup",
                         field="--camera")
    env = suite.load(song, hand, fingering, seed=seed)
    frames: list[np.ndarray] = []
    try:
        pol = make_policy(env, policy, seed)
        metrics = run_episode(env, pol, lambda: frames.append(env.render(width, height, camera)))
    finally:
        env.close()
    path = write_video(frames, out, fps=round(1 / env.control_timestep))
    typer.echo(f"{path} ({len(frames)} frames, F1 {metrics['f1']:.3f})")
