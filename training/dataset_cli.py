"""``pianohands dataset info|verify|stats`` and the top-level ``collect`` and ``rp1m`` commands.

``dataset_app`` is a typer sub-app; ``register_collect(app)`` adds ``collect`` and ``rp1m`` to
the main app (``training/cli.py`` wires both). PATH arguments take files or directories (all
``*.h5`` below them). Heavy imports (h5py, MuJoCo, JAX, matplotlib) happen inside commands.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from handspec.errors import InputError
from training.cli_options import parse_key_values
from training.rl.config import base_policy_name
from training.signals import sigterm_as_exit

dataset_app = typer.Typer(help="Demonstration datasets (RP1M layout): info, verify, stats.",
                          no_args_is_help=True, add_completion=False)

PathsArg = Annotated[list[Path], typer.Argument(
    metavar="PATH...", help="Dataset files (.h5) or directories holding them.")]


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, directories replaced by their ``*.h5`` files (sorted, recursive)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.h5") if not p.name.startswith("."))
            if not found:
                raise InputError("directory holds no .h5 files", file=path, field="PATH")
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise InputError("no such file or directory", file=path, field="PATH")
    return out


def _console():
    from rich.console import Console

    return Console(width=140)


def _fmt(x: float, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


# --------------------------------------------------------------------------- dataset ...
@dataset_app.command("info")
def info(paths: PathsArg,
         as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
         = False) -> None:
    """Counts, sizes and F1 per file, and F1 per song over all files."""
    import numpy as np
    from rich.table import Table

    from training.data import summarize

    summaries = [summarize(p) for p in expand_paths(paths)]
    by_song: dict[str, list[float]] = {}
    for s in summaries:
        by_song.setdefault(s.song.rsplit(":", 1)[0] if s.chunk >= 0 else s.song, []).extend(s.f1)
    if as_json:
        typer.echo(json.dumps({
            "files": [{"path": s.path, "song": s.song, "chunk": s.chunk, "hand": s.hand,
                       "hand_hash": s.hand_hash, "demos": s.num_demos, "steps": s.total_steps,
                       "bytes": s.nbytes, "mb_per_episode": s.mb_per_episode,
                       "f1_mean": s.mean_f1} for s in summaries],
            "songs": {song: {"episodes": len(f1), "f1_mean": float(np.mean(f1)) if f1 else None}
                      for song, f1 in by_song.items()}}, indent=2))
        return
    table = Table("file", "song", "hand", "demos", "steps", "MB", "MB/ep", "F1 mean", "F1 min",
                  "F1 max", title="demonstration files")
    for s in summaries:
        f1 = np.asarray(s.f1) if s.f1 else np.array([np.nan])
        table.add_row(Path(s.path).name, s.song, s.hand, str(s.num_demos), str(s.total_steps),
                      f"{s.nbytes / 1e6:.2f}", _fmt(s.mb_per_episode, 3), _fmt(float(f1.mean())),
                      _fmt(float(f1.min())), _fmt(float(f1.max())))
    demos = sum(s.num_demos for s in summaries)
    size = sum(s.nbytes for s in summaries)
    table.add_row("total", f"{len(by_song)} songs", "", str(demos),
                  str(sum(s.total_steps for s in summaries)), f"{size / 1e6:.2f}",
                  _fmt(size / 1e6 / demos if demos else float("nan")), "", "", "")
    songs = Table("song", "files", "episodes", "F1 mean", title="per song")
    for song, f1 in sorted(by_song.items()):
        n_files = sum(1 for s in summaries if (s.song.rsplit(":", 1)[0] if s.chunk >= 0 else s.song) == song)
        songs.add_row(song, str(n_files), str(len(f1)), _fmt(float(np.mean(f1)) if f1 else float("nan")))
    console = _console()
    console.print(table)
    console.print(songs)


@dataset_app.command("verify")
def verify(paths: PathsArg,
           quick: Annotated[bool, typer.Option(
               "--quick", help="Structure and attributes only; skip reading the data "
                               "(finite values, goals, F1 recomputed from key states).")] = False
           ) -> None:
    """Check files end to end; prints 'ok' per good file, one error line per problem (exit 2)."""
    from training.data import verify_file

    bad = 0
    for path in expand_paths(paths):
        try:
            report = verify_file(path, deep=not quick)
        except InputError as exc:
            typer.echo(f"error: {exc.one_line()}", err=True)
            bad += 1
            continue
        if report.ok:
            typer.echo(f"ok {path}: {report.num_demos} demos, {report.total_steps} steps")
        else:
            bad += 1
            for where, message in report.problems:
                typer.echo(f"error: {path}: {where}: {' '.join(message.split())}", err=True)
    if bad:
        typer.echo(f"error: {bad} file{'s' if bad > 1 else ''} failed verification", err=True)
        raise typer.Exit(code=2)


@dataset_app.command("stats")
def stats(paths: PathsArg,
          out: Annotated[Path, typer.Option("--out", help="Directory for the PNGs and stats.json.")]
          = Path("dataset_stats")) -> None:
    """RP1M Fig. 4 panels (pressed keys by colour, active keys per piece, F1) as PNG."""
    import numpy as np

    from handspec.atomic import write_text as atomic_write_text
    from training.data import compute_stats
    from training.data.plot import plot_fig4

    st = compute_stats(expand_paths(paths))
    written = plot_fig4(st, out)
    f1 = np.asarray(st.file_f1, float)
    ev = np.asarray([x for x in st.eval_f1 if x is not None], float)
    summary = {
        "files": len(st.files), "episodes": len(st.episode_f1),
        "white_key_fraction": st.white_fraction,
        "active_keys_per_piece": {"mean": float(np.mean(st.active_keys)) if st.active_keys else None,
                                  "min": int(min(st.active_keys)) if st.active_keys else None,
                                  "max": int(max(st.active_keys)) if st.active_keys else None},
        "dataset_f1_per_file": {"mean": float(f1.mean()) if f1.size else None,
                                "frac_ge_0.75": float((f1 >= 0.75).mean()) if f1.size else None,
                                "frac_ge_0.5": float((f1 >= 0.5).mean()) if f1.size else None},
        "specialist_eval_f1": {"mean": float(ev.mean()) if ev.size else None,
                               "frac_ge_0.75": float((ev >= 0.75).mean()) if ev.size else None,
                               "frac_ge_0.5": float((ev >= 0.5).mean()) if ev.size else None,
                               "files_with_eval": int(ev.size)},
        "key_steps": st.key_steps.tolist(),
        "plots": {k: str(v) for k, v in written.items()},
    }
    atomic_write_text(Path(out) / "stats.json", json.dumps(summary, indent=2) + "\n")
    typer.echo(f"{len(st.files)} files, {len(st.episode_f1)} episodes; white keys "
               f"{100 * st.white_fraction:.1f}% of active key-steps; episode F1 mean "
               f"{_fmt(summary['dataset_f1_per_file']['mean'])}; specialist evaluation F1 mean "
               f"{_fmt(summary['specialist_eval_f1']['mean'])} ({ev.size} files), >= 0.75: "
               f"{_fmt(summary['specialist_eval_f1']['frac_ge_0.75'], 2)}")
    for path in written.values():
        typer.echo(str(path))


# --------------------------------------------------------------------------- collect
def collect_command(
    out: Annotated[Path, typer.Option("--out", help="Dataset file to write (.h5); resumed if it "
                                                    "exists.")],
    run: Annotated[Optional[str], typer.Argument(
        metavar="[RUN]", help="Training run directory, or baseline:random / baseline:zero "
                              "(or give --policy instead).", show_default=False)] = None,
    episodes: Annotated[int, typer.Option("--episodes", min=1, help="Episodes the file should "
                                                                    "hold (RP1M: 500).")] = 500,
    seed: Annotated[int, typer.Option(help="Collection seed (episode i uses a seed derived from "
                                           "it and i).")] = 0,
    deterministic: Annotated[bool, typer.Option(
        "--deterministic/--stochastic", help="Act with the policy's mode instead of sampling "
                                             "(all episodes then look alike).")] = False,
    checkpoint: Annotated[Optional[Path], typer.Option(
        help="A checkpoint file of RUN, or best (its best evaluation F1; default: the newest "
        "readable one).")] = None,
    policy: Annotated[Optional[str], typer.Option(
        "--policy", help="Any registered policy (random, zero, ...) instead of RUN.")] = None,
    song: Annotated[Optional[str], typer.Option(help="Song for a baseline RUN or --policy.")] = None,
    hand: Annotated[str, typer.Option(help="Hand for a baseline RUN or --policy.")] = "shadow_five",
    fingering: Annotated[str, typer.Option(
        help="Fingering mode for a baseline RUN or --policy.")] = "ot",
    commit_every: Annotated[int, typer.Option(
        min=1, help="Episodes per atomic commit (a kill loses at most this many).")] = 25,
    overwrite: Annotated[bool, typer.Option(help="Start a new file instead of resuming.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Roll out a trained specialist and write its episodes in the robomimic HDF5 layout."""
    from training.collect import BASELINES, collect, load_policy, registered_policy

    if out.suffix not in (".h5", ".hdf5"):
        raise InputError("must end in .h5 or .hdf5", file=out, field="--out")
    if (run is None) == (policy is None):
        raise InputError("give a RUN (run directory or baseline:NAME) or --policy NAME, not "
                         "both", field="RUN" if policy is None else "--policy")
    if policy is not None or run.startswith("baseline:"):
        name = policy if policy is not None else run.split(":", 1)[1]
        if policy is None and name not in BASELINES:
            raise InputError(f"unknown baseline {name!r}; one of {', '.join(BASELINES)}",
                             field="RUN")
        if song is None:
            raise InputError(f"{'--policy' if policy else 'a baseline RUN'} needs --song",
                             field="--song")
        source = registered_policy(song, hand, name, fingering=fingering)
    else:
        if song is not None:
            raise InputError("--song is only for baseline RUNs (a run plays its own song)",
                             field="--song")
        source = load_policy(run, deterministic=deterministic, checkpoint=checkpoint)
    with sigterm_as_exit():
        result = collect(source, out, episodes, seed=seed, commit_every=commit_every,
                         overwrite=overwrite, progress=progress)
    typer.echo(f"{result.path}: {result.num_demos} demos ({result.new_demos} new), F1 "
               f"{_fmt(result.mean_f1)} over the new ones, {result.nbytes / 1e6:.2f} MB "
               f"({result.nbytes / 1e6 / max(result.num_demos, 1):.3f} MB/episode), "
               f"{_fmt(result.steps_per_s, 0)} steps/s")


# --------------------------------------------------------------------------- rp1m
def _parse_train_args(items: list[str], steps: int | None) -> dict:
    """``--train-arg KEY=VALUE`` (JSON values; ``agent.KEY`` for DroQ fields) -> overrides."""
    out: dict = {}
    for key, parsed in parse_key_values(items, "--train-arg").items():
        if key.startswith("agent."):
            out.setdefault("agent", {})[key[len("agent."):]] = parsed
        else:
            out[key] = parsed
    if steps is not None:
        out["steps"] = steps
    return out


def rp1m_command(
    songs: Annotated[str, typer.Option(
        "--songs", help="Comma-separated songs (name, name:chunk, .mid, PIG file, "
                        "music21:<path>), @FILE with one per line, 'builtin' or 'music21'.")],
    out: Annotated[Path, typer.Option("--out", help="Pipeline directory (manifest, runs, data).")],
    hand: Annotated[str, typer.Option(help="Hand name or YAML path.")] = "shadow_five",
    specialist: Annotated[str, typer.Option(
        help="droq (RP1M: trained per chunk), a registered policy without training (random, "
             "zero, ik), or package.module:attr.")] = "droq",
    base_policy: Annotated[str, typer.Option(
        "--base-policy", help="droq learns a residual on this registered policy (ik: the "
                              "kinematic pianist, the fastest learner measured, see "
                              "docs/results.md); none: from scratch, as RP1M")] = "ik",
    steps: Annotated[Optional[int], typer.Option(
        min=1, help="Training steps per chunk (default: RP1M's 8M); --train-arg "
                    "stop_f1=0.75 ends a chunk's training at its first passing evaluation.")] = None,
    train_arg: Annotated[Optional[list[str]], typer.Option(
        "--train-arg", help="TrainConfig override KEY=VALUE (JSON value; agent.KEY for the "
                            "agent), repeatable, e.g. --train-arg batch_size=128")] = None,
    fingering: Annotated[str, typer.Option(help="ot | human | annotator | none")] = "ot",
    max_chunks: Annotated[Optional[int], typer.Option(
        min=1, help="At most this many chunks per song (from the start).")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="At most this many songs.")] = None,
    min_f1: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Keep a specialist if its evaluation F1 reaches this (RP1M: 0.75).")] = 0.75,
    eval_episodes: Annotated[int, typer.Option(min=1, help="Evaluation episodes.")] = 1,
    episodes: Annotated[int, typer.Option(min=1, help="Rollouts to collect per chunk.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of training, evaluation and collection.")] = 0,
    commit_every: Annotated[int, typer.Option(min=1, help="Episodes per atomic commit.")] = 25,
    backend: Annotated[str, typer.Option(help="local | ray")] = "local",
    workers: Annotated[int, typer.Option(
        min=0, help="local: worker processes (0 = in this process); ray without --address: "
                    "CPUs of the private cluster.")] = 1,
    address: Annotated[Optional[str], typer.Option(
        help="ray: cluster address (auto, host:6379, ray://host:10001).")] = None,
    cpus_per_task: Annotated[float, typer.Option(help="CPUs declared per chunk task.")] = 1.0,
    gpus_per_task: Annotated[float, typer.Option(help="GPUs declared per chunk task.")] = 0.0,
    retries: Annotated[int, typer.Option(min=0, help="Retries of a failed chunk task.")] = 2,
) -> None:
    """RP1M's dataset pipeline: per song chunk train, evaluate, keep if F1 >= threshold,
    collect; a manifest records everything and reruns skip finished chunks."""
    from training.pipeline import make_backend, plan, read_song_list, run_pipeline

    if backend == "local" and address is not None:
        raise InputError("--address is for --backend ray", field="--address")
    song_list = read_song_list(songs)[:limit]
    train = _parse_train_args(train_arg or [], steps)
    base = base_policy_name(base_policy)
    if base is not None and specialist == "droq":
        env_kwargs = train.setdefault("env_kwargs", {})
        if not isinstance(env_kwargs, dict):
            raise InputError("env_kwargs must be a JSON object", field="--train-arg")
        env_kwargs.setdefault("base_policy", base)
    tasks = plan(song_list, hand=hand, out=out, max_chunks=max_chunks, specialist=specialist,
                 fingering=fingering, train=train,
                 eval_episodes=eval_episodes, min_f1=min_f1, episodes=episodes, seed=seed,
                 commit_every=commit_every)
    runner = make_backend(backend, workers=workers, address=address,
                          cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task)

    def show(entry: dict, n: int, total: int) -> None:
        status = entry.get("status")
        what = (f"eval F1 {_fmt(entry.get('eval_f1'))}, {entry.get('demos', 0)} demos"
                if status != "failed" else entry.get("error", ""))
        secs = (entry.get("wall_time_s") or {}).get("total")
        typer.echo(f"[{n}/{total}] {entry['song']}: {status} ({what})"
                   + (f" in {secs:.0f} s" if secs is not None else "")
                   + (f" after {entry['attempts']} attempts" if entry.get("attempts", 1) > 1 else ""))

    typer.echo(f"{len(tasks)} chunks, backend {runner.name}; output in {out}")
    with sigterm_as_exit():
        report = run_pipeline(tasks, runner, retries=retries, on_entry=show)
    typer.echo(f"{len(report.skipped)} already done, {report.count('collected')} collected, "
               f"{report.count('rejected')} rejected (F1 < {min_f1}), {report.failed} failed; "
               f"manifest {report.manifest}")
    if report.failed:
        typer.echo(f"error: {report.failed} chunk task{'s' if report.failed > 1 else ''} failed "
                   f"(see 'errors' in {report.manifest}); rerun to retry them", err=True)
        raise typer.Exit(code=1)


def register_collect(app: typer.Typer) -> None:
    """Add the top-level ``collect`` and ``rp1m`` commands to ``app``."""
    app.command("collect", no_args_is_help=True)(collect_command)
    app.command("rp1m", no_args_is_help=True)(rp1m_command)
