"""What every experiment shares: the experiment directory with its resume rules, one trainer
run per (arm, seed), the final evaluation, the random-policy floor, per-arm statistics and
the session (open, train the arms, summary). The budget is ``budget.Budget``, statistics
``stats``, plots ``plots``.

An experiment directory looks like::

    runs/<name>/
      experiment.json        what was asked (song, arms, budget, base TrainConfig): re-running
                             the same command resumes; a different experiment is refused
      experiment.log         one line per event (run started, resumed, skipped, finished)
      <arm>/seed_<k>/        a ``pianohands train`` run directory (config.json, eval.csv,
                             checkpoints/, f1_curve.png, summary.json) + final/ (the
                             final policy's evaluation and learned fingering)
      *.png, summary.json    the experiment's plots and numbers

Resuming: a seed whose ``summary.json`` reached the step budget is skipped; one with a
checkpoint continues from it (``Trainer(resume=True)``; the replay is saved with each
checkpoint, so it continues exactly); one without a checkpoint starts again. Raising
``--steps`` (or ``--seeds``) on a finished experiment extends it; everything else that
defines the experiment must match ``experiment.json``.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import pickle
import platform
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fingering.match import finger_usage
from fingering.pig import read_pig, write_pig
from handspec.atomic import write_text
from handspec.errors import InputError
from handspec.load import load_hand
from pianoenv.episode import run_episode
from pianoenv.songs import load_goals
from training import checkpoint as ckpt
from training.evaluate import learned_fingering, random_policy_f1
from training.experiments.budget import Budget, base_identity
from training.rl.config import TrainConfig
from training.rl.envwrap import TrainingEnv
from training.rl.loop import Trainer
from training.rl.policy import DroQPolicy, load_run
from training.experiments.stats import ConfidenceInterval, CurveBand, curve_band, mean_ci
from training.seeds import FINAL_EVAL_ENV, RANDOM_BASELINE, derive_seed
from training.signals import sigterm_as_interrupt

FINAL_DIR = "final"
FINAL_VERSION = 2  # final_eval.json layout; older caches are recomputed


# ------------------------------------------------------------------------------ I/O helpers
def write_json(path: Path, data: Any) -> Path:
    """Atomic, indented JSON (NaN/inf become null: summary.json must be strict JSON)."""
    return write_text(path, json.dumps(_jsonable(data), indent=2) + "\n")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def machine_info() -> dict[str, Any]:
    """Where and under what load the numbers were measured (reported, not controlled)."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        load = None
    return {"cpus": os.cpu_count(), "load_average_1_5_15min": load,
            "platform": platform.platform(), "python": platform.python_version(),
            "machine": platform.machine()}


def command_line(argv: Sequence[str] | None) -> str:
    """The invocation as a shell line; calls from Python (a notebook) say so."""
    if argv is None:
        return "(Python API)"
    return shlex.join(["pianohands", *argv])


# ------------------------------------------------------------------------------ directory
class ExperimentDir:
    """``runs/<name>/`` of one experiment: its identity, its log and its run directories."""

    def __init__(self, root: Path, record: dict[str, Any]):
        self.root = Path(root)
        self.record = record

    @property
    def record_path(self) -> Path:
        return self.root / "experiment.json"

    @classmethod
    def open(cls, root: str | Path, experiment: str, identity: Mapping[str, Any], *,
             steps: int, seeds: Sequence[int]) -> ExperimentDir:
        """Creates the directory, or reopens the same experiment to resume or extend it.

        ``identity`` holds everything that defines the experiment (song, arms, base config,
        ...); on reopening it must equal the saved one, field by field, else an
        ``InputError`` names the first differing field. ``steps`` may only grow.
        """
        root = Path(root)
        record_path = root / "experiment.json"
        identity = _jsonable(dict(identity))
        if record_path.is_file():
            try:
                saved = json.loads(record_path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InputError(f"not valid JSON ({exc}); delete the directory to start over",
                                 file=record_path, field="experiment") from None
            if not isinstance(saved, dict) or saved.get("experiment") != experiment:
                raise InputError(f"holds a {saved.get('experiment') if isinstance(saved, dict) else '?'} "
                                 f"experiment, not {experiment}; choose another --out",
                                 file=record_path, field="experiment")
            old = saved.get("identity", {})
            for key in sorted(set(old) | set(identity)):
                if old.get(key) != identity.get(key):
                    raise InputError(f"this directory holds another experiment (saved "
                                     f"{_short(old.get(key))}, given {_short(identity.get(key))}); "
                                     "choose another --out or delete it", file=record_path, field=key)
            if steps < int(saved.get("steps", 0)):
                raise InputError(f"runs here already aim at {saved['steps']} steps; ask for at least "
                                 "that many (budgets may grow, not shrink)", file=record_path,
                                 field="steps")
            record = dict(saved, steps=int(steps),
                          seeds=sorted(set(saved.get("seeds", [])) | {int(s) for s in seeds}))
        else:
            if root.exists() and any(root.iterdir()):
                raise InputError("exists and holds no experiment.json; choose another --out",
                                 file=root, field="--out")
            record = {"experiment": experiment, "identity": identity, "steps": int(steps),
                      "seeds": sorted(int(s) for s in seeds), "created": time.strftime("%Y-%m-%d %H:%M:%S")}
        root.mkdir(parents=True, exist_ok=True)
        write_json(record_path, record)
        return cls(root, record)

    def arm_dir(self, arm: str) -> Path:
        return self.root / arm_slug(arm)

    def run_dir(self, arm: str, seed: int) -> Path:
        return self.arm_dir(arm) / f"seed_{seed}"

    def start_session(self, command: str) -> None:
        """Records an invocation in experiment.json (``sessions``) and experiment.log."""
        sessions = list(self.record.get("sessions", []))
        sessions.append({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": command})
        self.record["sessions"] = sessions
        write_json(self.record_path, self.record)
        self.log(f"command: {command}", echo=False)

    def log(self, message: str, echo: bool = True) -> None:
        """Appends a timestamped line to ``experiment.log`` (and prints it to stderr)."""
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {message}"
        with (self.root / "experiment.log").open("a") as handle:
            handle.write(line + "\n")
        if echo:
            print(line, file=sys.stderr, flush=True)


def arm_slug(arm: str) -> str:
    """Folder name of an arm: a hand given as a YAML path becomes its file stem."""
    name = Path(arm).stem if arm.endswith((".yaml", ".yml")) or "/" in arm else arm
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "arm"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ------------------------------------------------------------------------------ environments
EnvFactory = Callable[[TrainConfig, np.random.Generator], TrainingEnv]


def song_goals(song: str, max_episode_steps: int | None = None):
    """The goals an experiment's environment plays (for checks before any training)."""
    return load_goals(song).head(max_episode_steps)


def song_slug(song: str) -> str:
    """A folder-friendly name for a song spec: ``.../008-1_fingering.txt:0`` -> ``008-1_0``."""
    name, _, chunk = song.strip().rpartition(":") if song.strip().rpartition(":")[2].isdigit() \
        else (song.strip(), "", "")
    stem = Path(name).name.replace("_fingering.txt", "")
    stem = stem.rsplit(".", 1)[0] if stem.endswith((".mid", ".midi", ".txt")) else stem
    slug = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem) or "song"
    return f"{slug}_{chunk}" if chunk else slug


def check_hand(name: str, flag: str):
    """``load_hand`` for a CLI flag: an unknown name's error names the flag."""
    try:
        return load_hand(name)
    except InputError as exc:
        if exc.file is None and exc.field is None:
            raise InputError(exc.message, field=flag) from None
        raise


def check_positive(name: str, value: int | None, minimum: int = 1) -> None:
    if value is not None and value < minimum:
        raise InputError(f"must be >= {minimum}, got {value}", field=name)


# ------------------------------------------------------------------------------ runs
@dataclass
class SeedRun:
    """One (arm, seed) trainer run after ``train_seed``: what happened and its summary."""

    arm: str
    seed: int
    path: Path
    status: str                       # "trained" | "resumed" | "done" (skipped, finished before)
    summary: dict[str, Any]
    config: TrainConfig
    final: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return is_finished(self.summary, self.config.steps)

    def eval_curve(self) -> list[tuple[int, float]]:
        return [(int(p["step"]), float(p["f1"])) for p in self.summary.get("eval_curve", [])]


def is_finished(summary: Mapping[str, Any] | None, steps: int) -> bool:
    return bool(summary) and int(summary.get("steps", 0)) >= steps and not summary.get("interrupted")


def _read_summary(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def train_seed(exp: ExperimentDir, arm: str, config: TrainConfig, *, env_factory: EnvFactory,
               progress: bool = True, deadline: float | None = None,
               tensorboard: bool = True) -> tuple[SeedRun, Any]:
    """Trains, resumes or skips one run; returns it and the live ``Trainer`` (None if skipped).

    ``deadline`` (a ``time.perf_counter()`` value) stops the run there with a checkpoint;
    the next invocation resumes it. The trainer is returned so the caller can evaluate its
    final policy without reading the checkpoint back.
    """
    out = exp.run_dir(arm, config.seed)
    summary = _read_summary(out / "summary.json")
    if is_finished(summary, config.steps):
        exp.log(f"{arm} seed {config.seed}: finished before ({summary['steps']} steps), skipped")
        return SeedRun(arm, config.seed, out, "done", summary, config), None
    status = "trained"
    if (out / "config.json").is_file():
        saved = TrainConfig.load(out / "config.json")
        if saved.replace(steps=config.steps, buffer_size=config.buffer_size) != config:
            raise InputError("this run was trained with another configuration than the "
                             "experiment asks for now; delete it to start over",
                             file=out / "config.json", field="config")
        if ckpt.list_checkpoints(ckpt.checkpoint_dir(out)):
            config = saved.replace(steps=config.steps)  # the budget may grow; the replay keeps its size
            config.save(out / "config.json")
            status = "resumed"
        else:
            exp.log(f"{arm} seed {config.seed}: no checkpoint to resume from, starting again")
            shutil.rmtree(out)
    elif out.exists():
        shutil.rmtree(out)  # a directory without config.json was never a run
    trainer = Trainer(config, out, resume=status == "resumed", env_factory=env_factory,
                      progress=progress, tensorboard=tensorboard)
    if deadline is not None:  # the trainer's budget counts the run's time over all sessions
        trainer.time_budget_s = trainer.elapsed + max(0.0, deadline - time.perf_counter())
    if status == "resumed":
        exp.log(f"{arm} seed {config.seed}: resuming at step {trainer.step}")
    else:
        exp.log(f"{arm} seed {config.seed}: training {config.steps} steps ({config.song}, "
                f"{config.hand}, fingering={config.fingering})")
    summary = trainer.run()
    exp.log(f"{arm} seed {config.seed}: {summary['steps']} steps in {summary['wall_time_s']:.0f} s "
            f"(total), last eval F1 {(summary.get('last_eval') or {}).get('f1', float('nan')):.3f}")
    return SeedRun(arm, config.seed, out, status, summary, config), trainer


def final_evaluation(run: SeedRun, trainer: Any, env_factory: EnvFactory,
                     out_dir: Path | None = None) -> dict[str, Any]:
    """F1 and the learned fingering of the run's final policy (deterministic), cached.

    Writes ``<run>/final/final_eval.json`` and, when the environment has a note list,
    ``<run>/final/learned_fingering.txt`` (PIG format). A cached result for the same
    training step is reused, so resuming an experiment does not re-run finished seeds.
    ``out_dir`` replaces ``<run>/final`` (to leave a loaded run's directory untouched).
    """
    out = Path(out_dir) if out_dir is not None else run.path / FINAL_DIR
    cached = _read_summary(out / "final_eval.json")
    if (cached is not None and cached.get("step") == run.summary.get("steps")
            and cached.get("version") == FINAL_VERSION):
        run.final = cached
        return cached
    env = env_factory(run.config, np.random.default_rng(derive_seed(run.config.seed,
                                                                    FINAL_EVAL_ENV)))
    if trainer is not None:
        policy = DroQPolicy(trainer.agent, trainer.state, env, deterministic=True)
        step = trainer.step
    else:
        loaded = load_run(run.path, env=env)
        policy, step = loaded.policy(deterministic=True), loaded.checkpoint.step
    result = run_episode(env.env, policy, seed=0)
    final: dict[str, Any] = {
        "version": FINAL_VERSION, "step": step, "f1": result.metrics.get("f1"),
        "precision": result.metrics.get("precision"), "recall": result.metrics.get("recall"),
        "return": result.episode_return, "episode_steps": result.length,
        "reward_terms": result.reward_terms,
    }
    # (step, hand, finger, key) of every finger on a pressed key: when fingers really
    # pressed together (the note list only says when the score wants them held)
    final["contacts"] = str(write_json(out / "contacts.json",
                                       [list(c) for c in result.contact_log]))
    goals = env.env.song_goals
    if goals.notes is not None and len(goals.notes.notes):
        learned = learned_fingering(goals.notes, goals.note_steps, result.contact_log)
        final["learned_fingering"] = str(write_pig(learned, out / "learned_fingering.txt"))
        final["notes"] = len(learned.notes)
        final["notes_pressed"] = sum(1 for n in learned.notes if n.fingers)
        final["finger_usage"] = finger_usage([learned]).tolist()  # (2, 5): rows right, left
    env.close()
    write_json(out / "final_eval.json", final)
    run.final = final
    return final


def read_contacts(run: SeedRun) -> list[tuple[int, str, str, int]]:
    """The final episode's contact log written by ``final_evaluation`` ([] when absent)."""
    path = run.final.get("contacts")
    if not path or not Path(path).is_file():
        return []
    return [(int(t), str(h), str(f), int(k)) for t, h, f, k in json.loads(Path(path).read_text())]


def read_learned_fingering(run: SeedRun):
    """The learned fingering written by ``final_evaluation`` (None when there is none)."""
    path = run.final.get("learned_fingering")
    if not path or not Path(path).is_file():
        return None
    return read_pig(path)


def random_baseline(exp: ExperimentDir, arm: str, config: TrainConfig, env_factory: EnvFactory,
                    episodes: int = 2) -> dict[str, float]:
    """F1 of the uniform-random policy on the arm's environment: the floor to beat (cached;
    ``training.evaluate.random_policy_f1``)."""
    path = exp.arm_dir(arm) / "random_policy.json"
    cached = _read_summary(path)
    if cached is not None and cached.get("episodes") == episodes:
        return cached
    # uniform random actions on the piano itself, not random corrections of a base policy
    env = env_factory(config.plain(), np.random.default_rng(derive_seed(config.seed, RANDOM_BASELINE)))
    try:
        out: dict[str, Any] = random_policy_f1(env.env, seed=config.seed, episodes=episodes)
    finally:
        env.close()
    out["episodes"] = episodes
    write_json(path, out)
    return out


@dataclass(frozen=True)
class ArmResult:
    """One arm over its seeds: final and best F1 with CIs, the F1 curve band."""

    final_f1: ConfidenceInterval
    best_f1: ConfidenceInterval
    mean_curve_f1: ConfidenceInterval   # mean of each seed's eval curve (area under it)
    per_seed_final: tuple[float, ...]
    band: CurveBand

    def to_dict(self) -> dict[str, Any]:
        return {"final_f1": self.final_f1.to_dict(), "best_eval_f1": self.best_f1.to_dict(),
                "mean_eval_f1": self.mean_curve_f1.to_dict(),
                "per_seed_final_f1": list(self.per_seed_final), "curve": self.band.to_dict()}


def aggregate_arm(runs: Sequence[SeedRun]) -> ArmResult:
    """Statistics over the seeds that reached the step budget; a run stopped early by a
    time budget would mix a younger policy into the mean, so it waits for its next session."""
    runs = [r for r in runs if r.finished]
    finals = tuple(float(r.final.get("f1", math.nan)) for r in runs)
    best = [float(r.summary.get("best_eval_f1") if r.summary.get("best_eval_f1") is not None
                  else math.nan) for r in runs]
    curves = [r.eval_curve() for r in runs]
    area = [float(np.mean([v for _, v in c])) if c else math.nan for c in curves]
    return ArmResult(mean_ci(finals), mean_ci(best), mean_ci(area), finals, curve_band(curves))


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def runs_table(runs: Sequence[SeedRun]) -> list[dict[str, Any]]:
    """Per-run rows for summary.json: where, what happened, steps, wall time, final F1."""
    return [{"arm": r.arm, "seed": r.seed, "dir": str(r.path), "status": r.status,
             "steps": r.summary.get("steps"), "target_steps": r.config.steps,
             "finished": r.finished, "wall_time_s": r.summary.get("wall_time_s"),
             "steps_per_s": _rate(r.summary), "final_f1": r.final.get("f1"),
             "best_eval_f1": r.summary.get("best_eval_f1")} for r in runs]


def _rate(summary: Mapping[str, Any]) -> float | None:
    wall = summary.get("wall_time_s") or 0.0
    return round(float(summary.get("steps", 0)) / wall, 2) if wall else None


def run_arms(exp: ExperimentDir, configs: Mapping[str, Sequence[TrainConfig]],
             env_factory: EnvFactory, *, progress: bool = True,
             time_budget_s: float | None = None, tensorboard: bool = True,
             workers: int = 1) -> dict[str, list[SeedRun]]:
    """Trains (or resumes, or skips) every (arm, seed) and evaluates each final policy.

    Runs are taken seed by seed across the arms (seed 0 of every arm first), so a session
    cut short by ``time_budget_s`` (seconds for this whole call) leaves every arm with
    results; runs it did not reach are reported as "pending" and the next invocation
    continues. ``workers`` > 1 trains that many runs at once, each in its own process
    pinned to its own CPU (``_parallel``), in the same order; one worker keeps steps/s
    comparable between arms, more use all CPUs (each run is then slower than alone when
    the CPUs share a core, as the two vCPUs of a small cloud machine do).
    """
    deadline = None if time_budget_s is None else time.time() + time_budget_s
    order = [(arm, config) for i in range(max((len(c) for c in configs.values()), default=0))
             for arm, arm_configs in configs.items() for config in arm_configs[i:i + 1]]
    with sigterm_as_interrupt():
        if workers > 1 and len(order) > 1:
            done = _parallel(exp, order, env_factory, workers=workers, deadline=deadline,
                             tensorboard=tensorboard, progress=progress)
        else:
            done = [_run_one(exp, arm, config, env_factory, n, len(order), progress=progress,
                             deadline=deadline, tensorboard=tensorboard)
                    for n, (arm, config) in enumerate(order, start=1)]
    out: dict[str, list[SeedRun]] = {arm: [] for arm in configs}
    for run in done:
        out[run.arm].append(run)
    return out


def _run_one(exp: ExperimentDir, arm: str, config: TrainConfig, env_factory: EnvFactory,
             number: int, total: int, *, progress: bool, deadline: float | None,
             tensorboard: bool) -> SeedRun:
    """One (arm, seed): trained and evaluated, or left pending when the time is spent.
    ``deadline`` is wall-clock (``time.time()``) so worker processes share it."""
    if deadline is not None and time.time() >= deadline:
        exp.log(f"{arm} seed {config.seed}: left for the next session (time budget spent)",
                echo=progress)
        return pending_seed(exp, arm, config)
    exp.log(f"run {number}/{total}: {arm} seed {config.seed}", echo=progress)
    local = None if deadline is None else time.perf_counter() + (deadline - time.time())
    run, trainer = train_seed(exp, arm, config, env_factory=env_factory, progress=progress,
                              deadline=local, tensorboard=tensorboard)
    final_evaluation(run, trainer, env_factory)
    return run


def _parallel(exp: ExperimentDir, order: Sequence[tuple[str, TrainConfig]],
              env_factory: EnvFactory, *, workers: int, deadline: float | None,
              tensorboard: bool, progress: bool) -> list[SeedRun]:
    """``_run_one`` for every run, ``workers`` at a time in spawned processes (JAX and fork
    do not mix), each process pinned to one CPU for its life. Results keep ``order``."""
    try:
        pickle.dumps(env_factory)
    except Exception:  # noqa: BLE001 - any pickling failure means the same thing here
        raise InputError("this environment factory cannot be sent to worker processes; use "
                         "workers=1", field="--workers") from None
    context = mp.get_context("spawn")
    cpus = context.Queue()
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    for i in range(workers):
        cpus.put(available[i % len(available)] if available else None)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_pin_worker,
                             initargs=(cpus,)) as pool:
        futures = [pool.submit(_run_one, exp, arm, config, env_factory, n, len(order),
                               progress=False, deadline=deadline, tensorboard=tensorboard)
                   for n, (arm, config) in enumerate(order, start=1)]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _pin_worker(cpus: Any) -> None:
    """Initializer of a worker process: its own CPU, if the platform can pin."""
    cpu = cpus.get()
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def pending_seed(exp: ExperimentDir, arm: str, config: TrainConfig) -> SeedRun:
    """A run this session did not reach: whatever an earlier session left (maybe nothing)."""
    path = exp.run_dir(arm, config.seed)
    summary = _read_summary(path / "summary.json") or {}
    run = SeedRun(arm, config.seed, path, "pending", summary, config)
    cached = _read_summary(path / FINAL_DIR / "final_eval.json")
    if cached is not None and cached.get("step") == summary.get("steps"):
        run.final = cached
    return run


def budget_record(runs: Mapping[str, Sequence[SeedRun]], started: float) -> dict[str, Any]:
    """Steps and wall time actually spent (all sessions) and this session's wall time."""
    flat = [r for rs in runs.values() for r in rs]
    return {"runs": len(flat), "finished_runs": sum(r.finished for r in flat),
            "env_steps_total": int(sum(int(r.summary.get("steps", 0)) for r in flat)),
            "train_wall_time_s_total": round(sum(float(r.summary.get("wall_time_s") or 0.0)
                                                  for r in flat), 1),
            "session_wall_time_s": round(time.perf_counter() - started, 1)}


# ------------------------------------------------------------------------------ sessions
def open_experiment(budget: Budget, name: str, out: Path, identity: Mapping[str, Any],
                    base: TrainConfig, *, steps: int | None = None,
                    seeds: Sequence[int] | None = None) -> ExperimentDir:
    """The experiment directory (``ExperimentDir.open``) with the budget's part of the
    identity (episode cut, replay capacity, base config), this session recorded."""
    identity = {**identity, "max_episode_steps": budget.max_episode_steps,
                "replay_capacity": budget.buffer_size, "base_config": base_identity(base)}
    exp = ExperimentDir.open(out, name, identity, steps=budget.steps if steps is None else steps,
                             seeds=range(budget.seeds) if seeds is None else seeds)
    exp.start_session(command_line(budget.argv))
    return exp


def train_arms(budget: Budget, exp: ExperimentDir, configs: Mapping[str, Sequence[TrainConfig]],
               env_factory: EnvFactory) -> dict[str, list[SeedRun]]:
    """``run_arms`` with the budget's progress, time budget and TensorBoard settings."""
    return run_arms(exp, configs, env_factory, progress=budget.progress,
                    time_budget_s=budget.time_budget_s, tensorboard=budget.tensorboard,
                    workers=budget.workers)


def common_summary(budget: Budget, exp: ExperimentDir, base: TrainConfig,
                   runs: Mapping[str, Sequence[SeedRun]], started: float) -> dict[str, Any]:
    """The part of summary.json every experiment writes."""
    flat = [r for rs in runs.values() for r in rs]
    return {"out": str(exp.root), "command": command_line(budget.argv),
            "max_episode_steps": budget.max_episode_steps, "train_config": base.to_dict(),
            "budget": budget_record(runs, started), "runs": runs_table(flat),
            "machine": machine_info()}




def finish(exp: ExperimentDir, summary: dict[str, Any]) -> dict[str, Any]:
    """Writes summary.json and logs where it is."""
    write_json(exp.root / "summary.json", summary)
    exp.log(f"summary: {exp.root / 'summary.json'}")
    return summary
