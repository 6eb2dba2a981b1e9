"""``pianohands env ...``: run a simple policy and report F1 and reward terms; render videos."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from handspec.errors import InputError
from pianoenv.episode import run_episode
from pianoenv.policy import make_policy

app = typer.Typer(help="The piano environment: run a policy, render a video.",
                  no_args_is_help=True, add_completion=False)

SongOpt = Annotated[str, typer.Option("--song", help="Built-in name, .mid, PIG file; 'name:chunk'.")]
HandOpt = Annotated[str, typer.Option("--hand", help="Hand name or YAML path.")]
FingeringOpt = Annotated[str, typer.Option("--fingering", help="ot | human | annotator | none")]
PolicyOpt = Annotated[str, typer.Option("--policy", help="random | zero (hold the home pose) | "
                                        "ik (kinematic pianist, no training) | "
                                        "any registered policy (pianoenv.policy)")]


@app.command()
def run(song: SongOpt = "twinkle", hand: HandOpt = "shadow_five", fingering: FingeringOpt = "ot",
        policy: PolicyOpt = "random",
        episodes: Annotated[int, typer.Option(min=1)] = 1,
        seed: int = 0) -> None:
    """Play the song with a policy; print F1, precision, recall and reward terms."""
    from rich.console import Console
    from rich.table import Table

    from pianoenv import suite

    env = suite.load(song, hand, fingering, seed=seed)
    try:
        pol = make_policy(policy, env, seed)
        results = [run_episode(env, pol, seed=seed + i).row() for i in range(episodes)]
    finally:
        env.close()
    table = Table("metric", "mean", "min", "max",
                  title=f"{song} / {hand} / fingering={fingering} / policy={policy} "
                        f"({episodes} episode{'s' if episodes > 1 else ''}, {env.num_steps} steps)")
    for key in results[0]:
        vals = np.array([r[key] for r in results], dtype=float)
        table.add_row(key, f"{vals.mean():.4f}", f"{vals.min():.4f}", f"{vals.max():.4f}")
    Console(width=120).print(table)
    _report_unreachable(pol)


def _report_unreachable(policy) -> None:
    """Print how many goal keys a planning policy (e.g. "ik") reported it cannot press."""
    missed = getattr(policy, "unreachable", None)
    if missed is None:
        return
    from collections import Counter

    keys = len({(u.step, u.key) for u in missed})
    reasons = Counter(u.reason for u in missed)
    detail = "; ".join(f"{n} {why}" for why, n in reasons.most_common())
    typer.echo(f"unreachable: {keys} goal key-steps the policy cannot press"
               + (f" ({detail})" if detail else ""))


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
    # fail before rendering the whole song, not after
    folder = out.parent if str(out.parent) else Path(".")
    if folder.exists() and (not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK)):
        raise InputError("cannot write here (not a writable directory)", file=folder,
                         field="--out")
    if camera not in ("player", "top", "right_closeup"):
        raise InputError(f"unknown camera {camera!r}; one of player, top, right_closeup",
                         field="--camera")
    env = suite.load(song, hand, fingering, seed=seed)
    try:
        pol = make_policy(policy, env, seed)
        result = run_episode(env, pol, seed=seed, render=(width, height), camera=camera)
    finally:
        env.close()
    _report_unreachable(pol)
    path = write_video(result.frames, out, fps=round(1 / env.control_timestep))
    typer.echo(f"{path} ({len(result.frames)} frames, F1 {result.metrics['f1']:.3f})")
