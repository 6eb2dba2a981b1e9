"""``verify_file``: check a demonstration file end to end, naming every problem's field.

What can be recomputed is recomputed: F1/precision/recall from the key states and goals,
each step's reward from its named terms and the reward weights, ``return`` from the
rewards, ``env_args`` from the provenance, the hand hash from the stored spec. Everything
stored must be finite. Goals must be the same in every demo; when they are not, the demos
that differ from the majority are named (not the ones that agree).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handspec.errors import InputError
from pianoenv.metrics import step_prf
from training.data.format import (CONTACT_DTYPE, NUM_KEYS, DatasetMeta, Episode, demo_index,
                                  h5_key, spec_json_hash)
from training.data.reader import DemoFile


@dataclass
class VerifyReport:
    path: Path
    num_demos: int = 0
    total_steps: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, message)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, where: str, message: str) -> None:
        self.problems.append((where, message))


def per_step_prf(goal: np.ndarray, pressed: np.ndarray) -> np.ndarray:
    """(T, 3) precision, recall, F1 per step: ``pianoenv.metrics.step_prf`` of each step, so
    a verified file agrees with the environment's own metric by construction."""
    return np.array([step_prf(g, p) for g, p in zip(goal, pressed)], dtype=np.float64
                    ).reshape(len(goal), 3)


def recompute_metrics(ep: Episode, meta: DatasetMeta) -> dict[str, float]:
    """Episode precision/recall/F1 from the stored key states and goals alone.

    The metric of step t compares the goal of step t with the keys *after* action t, which
    are the key states of observation t+1 (``final_obs`` for the last step).
    """
    keys = np.concatenate([ep.obs["piano/keys"][1:], ep.final_obs["piano/keys"][None]])
    pressed = keys >= np.asarray(meta.pressed_threshold, np.float32)
    goal = np.asarray(ep.obs["goal"][:, :NUM_KEYS]).astype(bool)
    prf = per_step_prf(goal, pressed).mean(axis=0)
    return {"precision": float(prf[0]), "recall": float(prf[1]), "f1": float(prf[2])}


# One step whose pressed/not-pressed decision flips at the float32 boundary moves the
# episode mean by at most 1/T; allow two such steps.
def _metric_tolerance(num_steps: int) -> float:
    return 2.0 / max(num_steps, 1) + 1e-6


def verify_file(path: str | Path, *, deep: bool = True) -> VerifyReport:
    """Check a demonstration file; every problem is reported with the field it concerns.

    Unreadable files, foreign HDF5 files and broken provenance raise ``InputError``. With
    ``deep`` the data themselves are checked too (see the module docstring): finite values
    everywhere, 0/1 goals, actions inside the action spec, metrics recomputed from key
    states, rewards from their terms, returns from rewards, contacts in range and the same
    goals in every demo. A dataset HDF5 cannot read (a corrupt chunk) is a problem of its
    demo, reported like the others.
    """
    path = Path(path)
    report = VerifyReport(path)
    with DemoFile(path) as df:
        meta, data = df.meta, df.data_group
        _verify_provenance(meta, data, report)
        for name in data:
            if demo_index(name) is None:
                report.add(f"data/{name}", "unexpected entry (not demo_<i>)")
        indices = [demo_index(n) for n in df.demo_names]
        if indices != list(range(len(indices))):
            missing = sorted(set(range(max(indices, default=-1) + 1)) - set(indices))
            report.add("data", f"demo indices are not contiguous from 0 (missing {missing[:5]})")
        if _int_attr(data.attrs, "num_demos") != df.num_demos:
            report.add("data.attrs.num_demos",
                       f"says {data.attrs.get('num_demos')}, file holds {df.num_demos}")
        counted = 0
        goals: dict[int, bytes] = {}
        weights = _reward_weights(meta, report)
        for name in df.demo_names:
            i = demo_index(name)
            try:
                counted += _verify_demo(df, i, report, deep, weights, goals)
            except InputError as exc:  # an unreadable dataset: this demo's problem
                report.add(exc.field or f"demo_{i}", exc.message)
                counted += _stored_steps(df, i)
        _verify_goals(goals, report)
        if _int_attr(data.attrs, "total") != counted:
            report.add("data.attrs.total", f"says {data.attrs.get('total')}, demos hold {counted}")
        report.num_demos, report.total_steps = df.num_demos, counted
    return report


def _stored_steps(df: DemoFile, i: int) -> int:
    """Steps demo ``i`` holds by its shapes (metadata, readable when its data are not)."""
    try:
        return int(df.group(i)["actions"].shape[0])
    except (InputError, KeyError, OSError, RuntimeError):
        return 0


def _int_attr(attrs, key: str) -> int | None:
    try:
        return int(attrs.get(key, -1))
    except (TypeError, ValueError, OSError):
        return None


def _verify_provenance(meta: DatasetMeta, data, report: VerifyReport) -> None:
    """Attributes that must agree with each other: hash, sizes, JSON ``env_args``."""
    if spec_json_hash(meta.hand_spec) != meta.hand_hash:
        report.add("data.attrs.hand_hash", "does not match the stored hand_spec")
    try:
        json.loads(meta.hand_spec)
    except (TypeError, ValueError):
        report.add("data.attrs.hand_spec", "not valid JSON")
    if len(meta.obs_dims) != len(meta.obs_keys):
        report.add("data.attrs.obs_dims", "length differs from obs_keys")
    if len(meta.action_min) != len(meta.action_max):
        report.add("data.attrs.action_max", "length differs from action_min")
    numbers = [*meta.action_min, *meta.action_max, *meta.pressed_threshold, meta.control_timestep]
    if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers):
        report.add("data.attrs", "action bounds, pressed_threshold or control_timestep not finite")
    if not isinstance(meta.env_kwargs, dict) or not isinstance(meta.policy, dict):
        report.add("data.attrs.env_kwargs", "env_kwargs and policy must be JSON objects")
        return
    raw = data.attrs.get("env_args")
    try:
        env_args = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (TypeError, ValueError):
        report.add("data.attrs.env_args", "missing or not valid JSON")
        return
    if env_args != json.loads(json.dumps(meta.env_args())):
        report.add("data.attrs.env_args", "differs from the provenance (song, hand, fingering, "
                                          "env_kwargs)")


def _reward_weights(meta: DatasetMeta, report: VerifyReport) -> dict[str, float] | None:
    """The weights the environment summed its terms with (defaults unless env_kwargs set
    ``reward_weights``); None when they cannot be known."""
    from pianoenv.rewards import RewardWeights

    given = meta.env_kwargs.get("reward_weights") if isinstance(meta.env_kwargs, dict) else None
    try:
        return RewardWeights(**(given or {})).as_dict()
    except TypeError:
        report.add("data.attrs.env_kwargs", f"reward_weights {given!r} are not RewardWeights")
        return None


def _verify_goals(goals: dict[int, bytes], report: VerifyReport) -> None:
    """Every demo plays the same goals; the demos that differ from the majority are named."""
    if len(set(goals.values())) <= 1:
        return
    counts = Counter(goals.values())
    top = counts.most_common(2)
    tie = len(top) > 1 and top[0][1] == top[1][1]
    for i, digest in sorted(goals.items()):
        if tie or digest != top[0][0]:
            report.add(f"demo_{i}/obs/goal",
                       f"differs from the goals of {len(goals) - counts[digest]} other demo(s) "
                       + ("(no majority; mixed songs?)" if tie else "(mixed songs?)"))


def _finite(report: VerifyReport, where: str, a: np.ndarray) -> bool:
    if np.issubdtype(np.asarray(a).dtype, np.floating) and not np.isfinite(a).all():
        report.add(where, "holds NaN or inf")
        return False
    return True


_REQUIRED = ("obs", "final_obs", "actions", "rewards", "dones", "reward_terms", "contacts")


def _verify_demo(df: DemoFile, i: int, report: VerifyReport, deep: bool,
                 weights: dict[str, float] | None, goals: dict[int, bytes]) -> int:
    meta, g, where = df.meta, df.group(i), f"demo_{i}"
    missing = [k for k in _REQUIRED if k not in g]
    if missing:
        report.add(where, f"missing {', '.join(missing)}")
        return 0
    T = int(g.attrs.get("num_samples", -1))
    if T != meta.num_steps:
        report.add(f"{where}.attrs.num_samples", f"is {T}, episodes have {meta.num_steps} steps")
    T = meta.num_steps
    for key, dim in zip(meta.obs_keys, meta.obs_dims):
        for grp, shape in (("obs", (T, dim)), ("final_obs", (dim,))):
            name = h5_key(key)
            if name not in g[grp]:
                report.add(f"{where}/{grp}/{name}", "missing")
            elif g[grp][name].shape != shape:
                report.add(f"{where}/{grp}/{name}", f"has shape {g[grp][name].shape}, expected {shape}")
    for name, shape in (("actions", (T, meta.action_dim)), ("rewards", (T,)), ("dones", (T,))):
        if g[name].shape != shape:
            report.add(f"{where}/{name}", f"has shape {g[name].shape}, expected {shape}")
    for term, ds in g["reward_terms"].items():
        if ds.shape != (T,):
            report.add(f"{where}/reward_terms/{term}", f"has shape {ds.shape}, expected ({T},)")
    if g["contacts"].dtype != CONTACT_DTYPE:
        report.add(f"{where}/contacts", f"has dtype {g['contacts'].dtype}, expected {CONTACT_DTYPE}")
    for key in ("f1", "precision", "recall"):
        v = g.attrs.get(key)
        if v is None or not 0.0 <= float(v) <= 1.0:
            report.add(f"{where}.attrs.{key}", f"is {v}, expected a value in [0, 1]")
    ret = g.attrs.get("return")
    if ret is None or not math.isfinite(float(ret)):
        report.add(f"{where}.attrs.return", f"is {ret}, expected a finite number")
    if not deep or any(w.startswith(where + "/") or w.startswith(where + ".attrs.num")
                       for w, _ in report.problems):
        return int(g["actions"].shape[0])
    ep = df.episode(i)
    _verify_demo_data(df, i, ep, weights, report)
    if "goal" in ep.obs:
        goals[i] = np.ascontiguousarray(ep.obs["goal"]).tobytes()
    return T


def _verify_demo_data(df: DemoFile, i: int, ep: Episode, weights: dict[str, float] | None,
                      report: VerifyReport) -> None:
    """The deep checks of one demo: values, recomputable quantities."""
    meta, where, T = df.meta, f"demo_{i}", df.meta.num_steps
    dones = df.read(i, "dones")
    if dones[-1] != 1 or np.count_nonzero(dones) != 1:
        report.add(f"{where}/dones", "must be 1 on the last step only")
    for grp, arrays in (("obs", ep.obs), ("final_obs", ep.final_obs)):
        for key, a in arrays.items():
            if key in meta.binary_obs_keys:
                if not np.isin(a, (0, 1)).all():
                    report.add(f"{where}/{grp}/{h5_key(key)}",
                               "binary observation holds values other than 0/1")
            else:
                _finite(report, f"{where}/{grp}/{h5_key(key)}", a)
    lo, hi = np.asarray(meta.action_min, np.float32), np.asarray(meta.action_max, np.float32)
    if _finite(report, f"{where}/actions", ep.actions) and \
            ((ep.actions < lo - 1e-5) | (ep.actions > hi + 1e-5)).any():
        report.add(f"{where}/actions", "outside the action spec")
    terms_ok = all([_finite(report, f"{where}/reward_terms/{k}", v)
                    for k, v in ep.reward_terms.items()])
    if _finite(report, f"{where}/rewards", ep.rewards):
        _verify_rewards(ep, weights, where, report, terms_ok)
        if not math.isclose(float(np.sum(ep.rewards, dtype=np.float64)),
                            float(df.demo_attrs(i).get("return", np.nan)),
                            rel_tol=1e-4, abs_tol=1e-3):
            report.add(f"{where}.attrs.return", "differs from the sum of rewards")
    c = ep.contacts
    if c.size and ((c["step"] < 0) | (c["step"] >= T) | (c["finger"] < 0)
                   | (c["finger"] >= len(meta.finger_names)) | (c["key"] < 0)
                   | (c["key"] >= NUM_KEYS)).any():
        report.add(f"{where}/contacts", "step, finger or key out of range")
    if "piano/keys" in ep.obs and "goal" in ep.obs:
        got = recompute_metrics(ep, meta)
        tol = _metric_tolerance(T)
        for key in ("f1", "precision", "recall"):
            if abs(got[key] - ep.metrics.get(key, np.nan)) > tol or np.isnan(ep.metrics.get(key, np.nan)):
                report.add(f"{where}.attrs.{key}", f"is {ep.metrics.get(key)}, key states give "
                                                   f"{got[key]:.4f}")


def _verify_rewards(ep: Episode, weights: dict[str, float] | None, where: str,
                    report: VerifyReport, terms_ok: bool) -> None:
    """rewards == reward_terms/total == sum of weight x term, step by step (float32 sums:
    tolerance relative to the size of the terms)."""
    terms = {k: np.asarray(v, np.float64) for k, v in ep.reward_terms.items()}
    total = terms.pop("total", None)
    rewards = np.asarray(ep.rewards, np.float64)
    if total is not None and not np.allclose(rewards, total, rtol=1e-6, atol=1e-6):
        step = int(np.argmax(np.abs(rewards - total)))
        report.add(f"{where}/rewards", f"differ from reward_terms/total (first at step {step})")
    if not terms or weights is None or not terms_ok:
        return
    unknown = sorted(set(terms) - set(weights))
    if unknown:
        report.add(f"{where}/reward_terms/{unknown[0]}", "a term with no reward weight")
        return
    parts = np.stack([weights[k] * v for k, v in terms.items()])
    expected = parts.sum(axis=0)
    scale = np.abs(parts).sum(axis=0)
    bad = np.abs(expected - (total if total is not None else rewards)) > 1e-5 + 1e-5 * scale
    if bad.any():
        step = int(np.argmax(bad))
        target = "reward_terms/total" if total is not None else "rewards"
        report.add(f"{where}/{target}", f"is not the weighted sum of the reward terms (first at "
                                        f"step {step}: {float((total if total is not None else rewards)[step]):.6g}"
                                        f" vs {float(expected[step]):.6g})")
