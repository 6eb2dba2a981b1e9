"""Atomic, checksummed checkpoints with fallback to the previous good one.

A checkpoint is one file ``checkpoints/step_<step>.ckpt`` (the newest ``keep`` are kept, for
``--resume``), or ``checkpoints/best.ckpt``: the agent at the evaluation with the highest F1
so far (``save_best``; what a user or the dataset pipeline takes as the run's policy). The
best checkpoint is *policy-only*: it stores the agent's ``POLICY_FIELDS`` (the actor, a
tenth of the state) and loading fills the rest from the template, so it can be evaluated,
played and collected from, but a run resumes only from ``step_*.ckpt``::

    b"PIANOHANDS-CKPT-1\\n" + sha256(payload) + payload

where ``payload`` is flax msgpack of ``{"agent": <AgentState as a state dict>, "meta": <JSON
bytes>}``; ``meta`` holds the step counters, the numpy generators' states, the config and
the replay file's name. The replay (optional, large) goes to ``replay_<step>.npz`` *before*
the checkpoint that names it, so a checkpoint never points at a missing replay.

Files are written to a temporary name in the same directory, fsync-ed, then ``os.replace``d:
a crash (``kill -9``) leaves the previous checkpoints intact and at worst a stray ``.tmp``
file, which loading ignores and ``remove_stale_temporaries`` deletes (the next save, and a
trainer holding the run directory's lock, call it). Loading walks from the newest checkpoint back; one that is
truncated, fails its checksum or does not match the agent's structure gives a warning and
the previous one is used. No readable checkpoint at all is an ``InputError`` (one line).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import numpy as np

from handspec.errors import InputError
from handspec.atomic import write_bytes as atomic_write_bytes

MAGIC = b"PIANOHANDS-CKPT-1\n"
_NAME = re.compile(r"^step_(\d+)\.ckpt$")
BEST = "best.ckpt"


class CheckpointWarning(UserWarning):
    """A checkpoint could not be read and an older one is used instead."""


@dataclass
class Checkpoint:
    path: Path
    step: int
    agent: Any                 # AgentState
    meta: dict[str, Any]

    @property
    def replay_path(self) -> Path | None:
        name = self.meta.get("replay_file")
        return self.path.parent / name if name else None


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(step, path) of checkpoint files, newest first."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found, reverse=True)


def is_temporary(path: Path) -> bool:
    """A file ``handspec.atomic`` was writing (``.<name>.<random>.tmp<suffix>``)."""
    return path.name.startswith(".") and ".tmp" in path.name and path.is_file()


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete temporaries a killed writer left in ``directory``; returns what was removed.

    Only safe while no other process writes there: the trainer holds the run directory's
    lock when it calls this (``training.rl.loop``)."""
    removed = []
    if directory.is_dir():
        for path in directory.iterdir():
            if is_temporary(path):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def save_checkpoint(directory: Path, step: int, agent_state: Any, meta: dict[str, Any],
                    replay: Any | None = None, keep: int = 2) -> Path:
    """Writes ``step_<step>.ckpt`` (and its replay first); keeps the newest ``keep``."""
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(directory)
    meta = dict(meta, step=int(step))
    if replay is not None:
        replay_name = f"replay_{step:010d}.npz"
        replay.save(directory / replay_name)
        meta["replay_file"] = replay_name
    path = _write(directory / f"step_{step:010d}.ckpt", agent_state, meta)
    _prune(directory, keep)
    return path


def save_best(directory: Path, step: int, agent_state: Any, meta: dict[str, Any]) -> Path:
    """Writes ``best.ckpt`` (replacing the previous best): policy-only, no replay, never
    pruned. Why policy-only: every run keeps one, and a dataset of thousands of specialists
    should not store thousands of critics and optimiser states nobody loads."""
    directory.mkdir(parents=True, exist_ok=True)
    fields = getattr(type(agent_state), "POLICY_FIELDS", None)
    return _write(directory / BEST, agent_state, dict(meta, step=int(step), policy_only=True),
                  fields)


def best_path(directory: Path) -> Path | None:
    """``directory``'s ``best.ckpt``, or None before the first evaluation wrote one."""
    path = Path(directory) / BEST
    return path if path.is_file() else None


def read_meta(path: Path) -> dict[str, Any]:
    """The metadata of a checkpoint file, checked (header, checksum), without the agent."""
    payload = _verified_payload(path)
    try:
        return _meta(flax.serialization.msgpack_restore(payload))
    except Exception as exc:  # noqa: BLE001 - any decoding failure means an unusable file
        raise InputError(f"cannot decode ({type(exc).__name__}: {exc})", file=path,
                         field="checkpoint") from None


def _meta(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(bytes(np.asarray(data["meta"], np.uint8)).decode())


def _write(path: Path, agent_state: Any, meta: dict[str, Any],
           fields: tuple[str, ...] | None = None) -> Path:
    state = jax.tree.map(np.asarray, flax.serialization.to_state_dict(agent_state))
    if fields is not None:
        state = {name: state[name] for name in fields}
    payload = flax.serialization.msgpack_serialize(
        {"agent": state, "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)})
    atomic_write_bytes(path, MAGIC + hashlib.sha256(payload).digest() + payload)
    return path


def _prune(directory: Path, keep: int) -> None:
    kept = list_checkpoints(directory)[:keep]
    kept_steps = {step for step, _ in kept}
    for step, path in list_checkpoints(directory)[keep:]:
        path.unlink(missing_ok=True)
    for replay in directory.glob("replay_*.npz"):
        match = re.match(r"^replay_(\d+)\.npz$", replay.name)
        if match and int(match.group(1)) not in kept_steps:
            replay.unlink(missing_ok=True)


def _verified_payload(path: Path) -> bytes:
    """The payload of a checkpoint file whose header and checksum are right, else InputError."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=path, field="checkpoint") from None
    head = len(MAGIC) + 32
    if len(blob) < head or not blob.startswith(MAGIC):
        raise InputError("not a pianohands checkpoint (bad header or truncated)", file=path,
                         field="checkpoint")
    digest, payload = blob[len(MAGIC):head], blob[head:]
    if hashlib.sha256(payload).digest() != digest:
        raise InputError("checksum mismatch: the file is corrupt or was cut short", file=path,
                         field="checkpoint")
    return payload


def check_intact(directory: Path) -> None:
    """Fails fast (InputError) when checkpoints exist but none passes its checksum.

    Cheap (no network needed), so ``--resume`` can refuse before building anything.
    """
    candidates = list_checkpoints(directory)
    problems = []
    for _, path in candidates:
        try:
            _verified_payload(path)
            return
        except InputError as exc:
            problems.append(exc.one_line())
    if candidates:
        raise InputError(f"no readable checkpoint ({len(problems)} tried; newest: {problems[0]})",
                         file=directory, field="checkpoint")


def read_checkpoint(path: Path, template: Any) -> Checkpoint:
    """Reads one checkpoint into the structure of ``template`` (an AgentState).

    Raises ``InputError`` naming the file when it is truncated, corrupt or does not match.
    """
    payload = _verified_payload(path)
    try:
        data = flax.serialization.msgpack_restore(payload)
        meta = _meta(data)
        stored = _with_added_fields(template, data["agent"], every=bool(meta.get("policy_only")))
        agent = flax.serialization.from_state_dict(template, stored)
    except Exception as exc:  # noqa: BLE001 - any decoding failure means an unusable file
        raise InputError(f"cannot decode ({type(exc).__name__}: {exc})", file=path,
                         field="checkpoint") from None
    mismatch = _structure_mismatch(template, agent)
    if mismatch:
        raise InputError(f"parameter {mismatch} does not match this config (different "
                         "network sizes or observation/action sizes?)", file=path, field="agent")
    return Checkpoint(path=path, step=int(meta["step"]), agent=agent, meta=meta)


def _with_added_fields(template: Any, state: Any, every: bool = False) -> Any:
    """``state`` plus the template's value of every field the agent state gained after the
    checkpoint was written (``ADDED_FIELDS``: batch-norm statistics, actor metrics), so
    checkpoints of earlier versions still load; with ``every`` (a policy-only checkpoint),
    of every field it does not store."""
    fresh = flax.serialization.to_state_dict(template)
    added = tuple(fresh) if every else getattr(type(template), "ADDED_FIELDS", ())
    missing = [name for name in added if isinstance(state, dict) and name not in state]
    if not missing:
        return state
    return {**state, **{name: fresh[name] for name in missing}}


def _structure_mismatch(template: Any, restored: Any) -> str | None:
    flat_t = jax.tree_util.tree_flatten_with_path(template)[0]
    flat_r = jax.tree_util.tree_flatten_with_path(restored)[0]
    if len(flat_t) != len(flat_r):
        return "count"
    for (path, a), (_, b) in zip(flat_t, flat_r):
        if np.shape(a) != np.shape(b):
            return jax.tree_util.keystr(path)
    return None


def load_latest(directory: Path, template: Any, *, need_replay: bool = False) -> Checkpoint | None:
    """The newest readable checkpoint in ``directory``; None when there is none at all.

    Unreadable ones (and, with ``need_replay``, ones whose replay file is unreadable) are
    skipped with a ``CheckpointWarning``; if every one fails, an ``InputError`` says why.
    """
    candidates = list_checkpoints(directory)
    if not candidates:
        return None
    problems = []
    for _, path in candidates:
        try:
            ckpt = read_checkpoint(path, template)
            if need_replay and ckpt.replay_path is not None and not ckpt.replay_path.is_file():
                raise InputError("its replay file is missing", file=ckpt.replay_path, field="replay")
            return ckpt
        except InputError as exc:
            problems.append(exc.one_line())
            warnings.warn(f"skipping unusable checkpoint: {exc.one_line()}", CheckpointWarning,
                          stacklevel=2)
    raise InputError(f"no readable checkpoint ({len(problems)} tried; newest: {problems[0]})",
                     file=directory, field="checkpoint")


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """JSON-able state of a numpy Generator (PCG64's 128-bit ints are fine in JSON)."""
    return rng.bit_generator.state


def set_generator_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state
