"""The RP1M pipeline: for every song chunk, train a specialist, evaluate it, keep it if its
F1 clears a threshold, collect its rollouts, and record everything in a manifest.

    DIR/manifest.json              one entry per chunk: status, F1, paths, wall time, errors
    DIR/runs/<slug>-<hash>/        the specialist's training run (``training.rl.loop.Trainer``)
    DIR/data/<slug>.h5             its demonstrations (``training.data``)

Each chunk is one task (``run_chunk``), run by a backend (``training.backends``: local
processes or Ray). Every stage of a task resumes: training from its last checkpoint,
collection after its last committed episode, so a killed pipeline loses little, and a
rerun skips chunks whose manifest entry is finished with the same settings (the entry's
``fingerprint``). Only the driver writes the manifest (atomically, after every task).

Specialists are pluggable: ``droq`` (RP1M), ``random`` / ``zero`` (baselines: no training;
handy for smoke runs and calibrating the threshold), or ``package.module:attr`` naming an
object with ``train(task, run_dir) -> dict`` and ``load(task, run_dir) -> PolicySource``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from handspec.errors import InputError
from pianoenv.policy import available_policies
from training.backends import Backend, Outcome, run_tasks, safe_call
from training.collect import PolicySource, collect, rollout
from training.data import DemoFile, episode_seed
from training.locks import FileLock
from training.rl.config import RESUMABLE_FIELDS

MANIFEST_VERSION = 1
SONG_FILE_SUFFIXES = (".mid", ".midi", ".txt")  # MIDI and PIG files (pianoenv.songs.loading)
DONE = ("collected", "rejected")


# --------------------------------------------------------------------------- tasks
def slugify(song: str, chunk: int) -> str:
    """A file-system-safe name for a song chunk: ``music21:bach/bwv66.6`` chunk 0 ->
    ``music21_bach_bwv66.6-c000``; paths keep their file name."""
    name = song
    if Path(song).suffix.lower() in SONG_FILE_SUFFIXES:  # a file: its stem is the readable part
        name = Path(song).stem
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "song"
    return f"{safe[:80]}-c{chunk:03d}"


@dataclass(frozen=True)
class ChunkTask:
    """Everything one worker needs to produce one chunk's specialist and data."""

    song: str                  # the chunk's spec, "twinkle:0"
    slug: str
    hand: str
    out: str                   # the pipeline directory
    specialist: str = "droq"
    fingering: str = "ot"
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides
    eval_episodes: int = 1
    min_f1: float = 0.75
    episodes: int = 500
    seed: int = 0
    commit_every: int = 25

    def fingerprint(self) -> str:
        """Hash of the settings that define the result (not where it is written)."""
        payload = {k: v for k, v in asdict(self).items() if k != "out"}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def train_hash(self) -> str:
        """Hash of what training learns from: a new one means a new run directory; schedule
        changes (more steps) resume the existing run."""
        learn = {k: v for k, v in self.train.items() if k not in RESUMABLE_FIELDS}
        payload = {"specialist": self.specialist, "song": self.song, "hand": self.hand,
                   "fingering": self.fingering, "seed": self.seed, "train": learn}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:8]

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / "runs" / f"{self.slug}-{self.train_hash()}"

    @property
    def data_path(self) -> Path:
        return Path(self.out) / "data" / f"{self.slug}.h5"


# --------------------------------------------------------------------------- specialists
class Specialist(Protocol):
    def train(self, task: ChunkTask, run_dir: Path) -> dict[str, Any]: ...
    def load(self, task: ChunkTask, run_dir: Path) -> PolicySource: ...


def train_config(task: ChunkTask):
    """The ``TrainConfig`` of a task: defaults (RP1M Table 4) + the task's overrides."""
    from training.rl.config import TrainConfig

    base = TrainConfig(song=task.song, hand=task.hand, fingering=task.fingering,
                       seed=task.seed).to_dict()
    overrides = dict(task.train)
    agent = {**base.pop("agent"), **overrides.pop("agent", {})}
    return TrainConfig.from_dict({**base, **overrides, "agent": agent}, file="--train-arg")


class DroQSpecialist:
    """RP1M's specialist: DroQ trained with the OT fingering reward (``training.rl.loop``)."""

    def train(self, task: ChunkTask, run_dir: Path) -> dict[str, Any]:
        from training import checkpoint as ckpt
        from training.rl.loop import Trainer

        config = train_config(task)
        summary_path = run_dir / "summary.json"
        if summary_path.is_file():
            summary = json.loads(summary_path.read_text())
            best = summary.get("best_eval_f1")
            passed = (config.stop_f1 is not None and best is not None
                      and best >= config.stop_f1)  # ended at --train-arg stop_f1
            if (summary.get("steps", 0) >= config.steps or passed) \
                    and not summary.get("interrupted"):
                return summary  # trained already
        has_ckpt = bool(ckpt.list_checkpoints(ckpt.checkpoint_dir(run_dir)))
        if (run_dir / "config.json").is_file() and not has_ckpt:
            shutil.rmtree(run_dir)  # killed before its first checkpoint: nothing to keep
        return Trainer(config, run_dir, resume=has_ckpt, progress=False).run()

    def load(self, task: ChunkTask, run_dir: Path) -> PolicySource:
        """The agent of the run's best evaluation (``best.ckpt``), else its newest
        checkpoint: residual learners can drift below their start, and the specialist a
        dataset needs is the best one trained (the pipeline evaluates it again)."""
        from training import checkpoint as ckpt
        from training.collect import load_policy

        best = ckpt.best_path(ckpt.checkpoint_dir(run_dir))
        return load_policy(run_dir, checkpoint=best)


class BaselineSpecialist:
    """No training: a registered policy (``pianoenv.policy``: random, zero = home pose,
    ik = the kinematic pianist, ...)."""

    def __init__(self, kind: str):
        self.kind = kind

    def train(self, task: ChunkTask, run_dir: Path) -> dict[str, Any]:
        return {"steps": 0, "wall_time_s": 0.0}

    def load(self, task: ChunkTask, run_dir: Path) -> PolicySource:
        from training.collect import registered_policy

        return registered_policy(task.song, task.hand, self.kind, fingering=task.fingering)


def resolve_specialist(name: str) -> Specialist:
    if name == "droq":
        return DroQSpecialist()
    if name in available_policies():
        return BaselineSpecialist(name)
    module, sep, attr = name.partition(":")
    if not sep or not module or not attr:
        raise InputError(f"unknown specialist {name!r}; one of droq, "
                         f"{', '.join(available_policies())}, or package.module:attr",
                         field="--specialist")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"cannot import {name!r} ({exc})", field="--specialist") from None
    return obj() if isinstance(obj, type) else obj


def _set_deterministic(source: PolicySource, deterministic: bool) -> None:
    if hasattr(source.policy, "deterministic"):
        source.policy.deterministic = deterministic
        source.info = {**source.info, "deterministic": deterministic}


# --------------------------------------------------------------------------- one chunk
def evaluate(source: PolicySource, episodes: int, seed: int) -> dict[str, float]:
    """Mean F1/precision/recall of the policy's mode over ``episodes`` evaluation episodes
    (seeds from their own stream, never a collection episode)."""
    _set_deterministic(source, True)
    rows = [rollout(source.env, source.policy, episode_seed(seed, i, stream=1)).metrics
            for i in range(episodes)]
    return {k: float(np.mean([r[k] for r in rows])) for k in ("f1", "precision", "recall")}


def run_chunk(task: ChunkTask) -> dict[str, Any]:
    """Train (or resume), evaluate, and collect if good enough. Returns the manifest entry."""
    start = time.perf_counter()
    specialist = resolve_specialist(task.specialist)
    run_dir = task.run_dir
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    summary = specialist.train(task, run_dir)
    t_train = time.perf_counter()
    source = specialist.load(task, run_dir)
    scores = evaluate(source, task.eval_episodes, task.seed)
    t_eval = time.perf_counter()
    entry: dict[str, Any] = {
        "ok": True, "song": task.song, "slug": task.slug, "hand": task.hand,
        "specialist": task.specialist, "eval": scores, "eval_f1": scores["f1"],
        "min_f1": task.min_f1, "run_dir": _rel(run_dir, task.out) if run_dir.exists() else None,
        "dataset": None,
        "demos": 0, "dataset_f1": None, "train_steps": summary.get("steps"),
        "train_wall_time_s": summary.get("wall_time_s"), "fingerprint": task.fingerprint(),
        "host": socket.gethostname(), "pid": os.getpid(),
    }
    if scores["f1"] >= task.min_f1:
        _set_deterministic(source, False)
        # a file from an earlier specialist of this chunk (retrained, other settings) is
        # replaced: the data must come from the specialist that passed the evaluation
        collect(source, task.data_path, task.episodes, seed=task.seed,
                commit_every=task.commit_every, replace_mismatched=True, progress=False)
        with DemoFile(task.data_path) as df:
            f1 = [float(df.group(i).attrs["f1"]) for i in range(df.num_demos)]
            entry.update(status="collected", dataset=_rel(task.data_path, task.out),
                         demos=df.num_demos, dataset_f1=float(np.mean(f1)),
                         dataset_bytes=df.nbytes())
    else:
        entry["status"] = "rejected"
        if task.data_path.exists():  # collected by an earlier specialist that passed
            stale = task.data_path.with_name(task.data_path.name + ".rejected")
            os.replace(task.data_path, stale)
            entry["stale_dataset"] = _rel(stale, task.out)
    end = time.perf_counter()
    entry["wall_time_s"] = {"train": round(t_train - start, 3), "eval": round(t_eval - t_train, 3),
                            "collect": round(end - t_eval, 3), "total": round(end - start, 3)}
    entry["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return entry


def run_chunk_safe(task: ChunkTask) -> dict[str, Any]:
    """``run_chunk`` with failures returned as records (what the backends call)."""
    return safe_call(run_chunk, task)


def _rel(path: Path, root: str) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- planning
def expand_songs(songs: Sequence[str], *, max_chunks: int | None = None) -> list[tuple[str, int]]:
    """Song specs -> (song, chunk) pairs: ``name:N`` is that chunk, a bare name all of its
    chunks (the first ``max_chunks``). Unknown songs and bad chunks are ``InputError``s."""
    from pianoenv.songs import load_goals, parse_song_spec

    pairs: list[tuple[str, int]] = []
    for spec in songs:
        name, chunk = parse_song_spec(spec)
        goals = load_goals(name)
        count = goals.num_chunks
        if chunk is not None:
            if not 0 <= chunk < count:
                raise InputError(f"chunk {chunk} is out of range (0..{count - 1})", file=name,
                                 field="--songs")
            pairs.append((name, chunk))
        else:
            pairs.extend((name, c) for c in range(min(count, max_chunks or count)))
    return pairs


def plan(songs: Sequence[str], *, hand: str, out: str | Path, max_chunks: int | None = None,
         **settings: Any) -> list[ChunkTask]:
    """One ``ChunkTask`` per song chunk; two chunks with the same slug are an error."""
    from handspec.load import load_hand

    load_hand(hand)  # fail early, with the YAML's error
    resolve_specialist(settings.get("specialist", "droq"))
    tasks, seen = [], {}
    for name, chunk in expand_songs(songs, max_chunks=max_chunks):
        slug = slugify(name, chunk)
        spec = f"{name}:{chunk}"
        if slug in seen and seen[slug] != spec:
            raise InputError(f"{spec} and {seen[slug]} would share the file name {slug}; "
                             "rename one", field="--songs")
        if slug in seen:
            continue
        seen[slug] = spec
        tasks.append(ChunkTask(song=spec, slug=slug, hand=hand, out=str(out), **settings))
    if not tasks:
        raise InputError("no song chunks to run", field="--songs")
    if "train" in settings and settings.get("specialist", "droq") == "droq":
        train_config(tasks[0])  # validate --train-arg before starting anything
    return tasks


# --------------------------------------------------------------------------- manifest
class Manifest:
    """``DIR/manifest.json``: the pipeline's record, one entry per chunk (by slug)."""

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path, self.data = path, data

    @classmethod
    def load(cls, out: str | Path) -> "Manifest":
        path = Path(out) / "manifest.json"
        if not path.is_file():
            return cls(path, {"version": MANIFEST_VERSION, "tasks": {}})
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"unreadable manifest ({exc})", file=path, field="manifest") from None
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION or \
                not isinstance(data.get("tasks"), dict):
            raise InputError(f"not a version-{MANIFEST_VERSION} pipeline manifest", file=path,
                             field="version")
        return cls(path, data)

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.data["tasks"]

    def is_done(self, task: ChunkTask) -> bool:
        """Finished with these settings, and (if collected) its file still holds the demos."""
        entry = self.tasks.get(task.slug)
        if not entry or entry.get("status") not in DONE or \
                entry.get("fingerprint") != task.fingerprint():
            return False
        if entry["status"] == "collected":
            try:
                with DemoFile(Path(task.out) / entry["dataset"]) as df:
                    return df.num_demos >= task.episodes
            except InputError:
                return False
        return True

    def record(self, outcome: Outcome) -> dict[str, Any]:
        task: ChunkTask = outcome.task
        entry = {k: v for k, v in outcome.result.items() if k not in ("ok", "retriable")}
        if not outcome.ok:
            entry = {"song": task.song, "slug": task.slug, "hand": task.hand, "status": "failed",
                     "fingerprint": task.fingerprint(), **entry}
        entry["attempts"] = outcome.attempts
        entry["errors"] = list(outcome.errors)
        previous = self.tasks.get(task.slug) or {}
        earlier = previous.get("earlier_errors", []) + previous.get("errors", [])
        if earlier:  # failures of earlier pipeline runs stay on record
            entry["earlier_errors"] = earlier[-20:]
        self.tasks[task.slug] = entry
        return entry

    def save(self) -> None:
        from handspec.atomic import write_text as atomic_write_text

        self.data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write_text(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")


@dataclass
class PipelineReport:
    manifest: Path
    skipped: list[str]
    finished: list[dict[str, Any]]

    def count(self, status: str) -> int:
        return sum(1 for e in self.finished if e.get("status") == status)

    @property
    def failed(self) -> int:
        return self.count("failed")


def run_pipeline(tasks: Sequence[ChunkTask], backend: Backend, *, retries: int = 2,
                 on_entry: Callable[[dict[str, Any], int, int], None] | None = None,
                 fn: Callable[[ChunkTask], dict[str, Any]] = run_chunk_safe) -> PipelineReport:
    """Run the unfinished tasks on ``backend``; the manifest is saved after each one.

    A lock (``DIR/.pipeline.lock``) keeps two drivers out of one directory.
    """
    out = Path(tasks[0].out)
    out.mkdir(parents=True, exist_ok=True)
    with driver_lock(out):
        manifest = Manifest.load(out)
        manifest.data.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        todo = [t for t in tasks if not manifest.is_done(t)]
        skipped = [t.slug for t in tasks if t not in todo]
        finished = []
        for n, outcome in enumerate(run_tasks(backend, fn, todo, retries=retries), start=1):
            entry = manifest.record(outcome)
            manifest.save()
            finished.append(entry)
            if on_entry is not None:
                on_entry(entry, n, len(todo))
        manifest.save()
    return PipelineReport(manifest.path, skipped, finished)


def driver_lock(out: Path) -> FileLock:
    """The lock (``OUT/.pipeline.lock``) one pipeline driver holds on its directory."""
    return FileLock(Path(out) / ".pipeline.lock", "another pipeline is running in this directory",
                    file=out, field="--out")


def make_backend(name: str, *, workers: int = 1, address: str | None = None,
                 cpus_per_task: float = 1.0, gpus_per_task: float = 0.0) -> Backend:
    from training.backends import InlineBackend, LocalBackend, RayBackend

    if name == "local":
        return InlineBackend() if workers == 0 else LocalBackend(workers, max(1, int(cpus_per_task)))
    if name == "ray":
        return RayBackend(address, num_cpus=cpus_per_task, num_gpus=gpus_per_task,
                          local_cpus=workers if address is None and workers > 0 else None)
    raise InputError(f"unknown backend {name!r}; one of local, ray", field="--backend")


def read_song_list(text: str) -> list[str]:
    """``--songs``: comma-separated specs, ``@FILE`` (one per line, # comments), ``builtin``
    (every built-in piece) or ``music21`` (the playable music21 corpus)."""
    items: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.startswith("@"):
            path = Path(part[1:])
            try:
                lines = path.read_text().splitlines()
            except OSError as exc:
                raise InputError(f"cannot read ({exc.strerror})", file=path, field="--songs") from None
            items.extend(ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip())
        elif part == "builtin":
            from pianoenv.songs import builtin_names

            items.extend(builtin_names())
        elif part == "music21":
            from pianoenv.songs.music21_library import music21_library

            items.extend(name for name, _ in music21_library())
        else:
            items.append(part)
    if not items:
        raise InputError("no songs given", field="--songs")
    return list(dict.fromkeys(items))
