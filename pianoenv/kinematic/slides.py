"""Forearm slides that arrive in time: a smooth, anticipating trajectory and its servo command.

Why: the forearm slides carry the whole hand (~2.4 kg on the Shadow-like hands) with a
position servo of gain ``kp`` and damping ``c`` (kp 300, c 40: natural frequency 11 rad/s,
damping ratio 0.75, so ~0.5 s to settle, 10 control steps). Commanded step by step, the hand
reaches a new position several steps after the plan needs it there, and on fast passages the
tip arrives beside its key (PIG 040 chunk 0: 505 of 528 missed key-steps with the tip >6 mm
beside its key had the IK solution on the key; the slide's median tracking error was 2.1 cm).

What: the plan's slide positions ``q*(t)`` (from solving the IK for every step of the song
once, offline) are replaced by a smooth trajectory ``r`` that leaves early and arrives on
time: the minimiser of

    sum_t w_t (r_t - q*_t)^2  +  smoothness * sum_t (r_{t+1} - 2 r_t + r_{t-1})^2

(a weighted Whittaker smoother, one banded linear solve). ``w_t`` is 1 where the hand holds
or is about to strike a key and ``free_weight`` where it has nothing to play, so the slide
moves while the fingers are free and stays put while they press. The servo is then commanded
with its exact inverse (``servo_feedforward``: ``m q'' = kp (u - q) - c q'`` with ``m`` the
slide's effective mass from the model, sampled with the environment's zero-order hold), so
the slide is on ``r`` at every control step instead of ~0.13 s behind it. The fingers' IK
is solved with the slides pinned to ``r``, so they compensate what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm, solveh_banded


@dataclass(frozen=True)
class SlideConfig:
    """Knobs of the slide trajectory (see the module docstring).

    enabled: False commands the slides like every other joint (the IK's step-by-step
      solution with velocity feed-forward), the pianist before this module.
    smoothness: weight of the squared second difference (per control step) against the
      squared position error; larger spreads a hand shift over more steps.
    free_weight: weight of the position error on steps where the hand presses nothing and
      hovers over nothing (it may be anywhere on its way).
    clearance: least gap (m) along the keyboard between the two hands' forearm and palm
      geoms (``keep_apart``), or None to let each hand's plan ignore the other (as before:
      BWV 66.6 chunk 0 then had 101 steps planned with the hands overlapping, and 92 steps
      with the palms in contact; with 5 mm, 19).

    The defaults keep the slides close to the IK's positions while the hand plays (a
    legato passage has no free step to move in, and a smoothed path there leaves the
    fingers to absorb centimetres) and smooth freely in between (the ratio
    free_weight / smoothness sets how early a shift starts). Measured over 36 chunk x hand
    cells (``benchmarks/ik_table.py``, ``benchmarks/results/ik_table_planned_s*.md``): mean
    F1 0.766 at smoothness 1, 0.763 at 3, 0.766 at 30 (step-by-step slides: 0.701); 30
    collapsed on the C major scale (shadow_five 0.880 -> 0.621), 1 kept it at 0.814.
    """

    enabled: bool = True
    smoothness: float = 1.0
    free_weight: float = 3e-4
    clearance: float | None = 0.005


def smooth_trajectory(target: np.ndarray, weight: np.ndarray, smoothness: float,
                      start: np.ndarray | None = None) -> np.ndarray:
    """The weighted Whittaker smoother of ``target`` (T, D) with per-step ``weight`` (T,).

    ``start`` (D,), if given, is where the trajectory is before step 0: it enters as a
    heavily weighted first sample, so the trajectory leaves from there.
    """
    target = np.asarray(target, float)
    if target.ndim == 1:
        target = target[:, None]
    w = np.asarray(weight, float)
    if start is not None:
        target = np.vstack([np.asarray(start, float)[None], target])
        w = np.concatenate([[1e6], w])
    T = len(target)
    if T < 3 or smoothness <= 0:
        out = target
    else:
        # normal equations (W + s D'D) r = W q*, D the (T-2, T) second-difference matrix;
        # D'D is pentadiagonal: upper banded storage with 2 super-diagonals
        diag, off1 = np.zeros(T), np.zeros(T - 1)
        diag[:-2] += 1.0
        diag[1:-1] += 4.0
        diag[2:] += 1.0
        off1[:-1] -= 2.0
        off1[1:] -= 2.0
        off2 = np.ones(T - 2)
        ab = np.zeros((3, T))
        ab[2] = w + smoothness * diag
        ab[1, 1:] = smoothness * off1
        ab[0, 2:] = smoothness * off2
        out = solveh_banded(ab, w[:, None] * target)
    return out[1:] if start is not None else out


def servo_feedforward(ref: np.ndarray, start: np.ndarray, dt: float, kp: np.ndarray,
                      damping: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Commands ``u`` (T, D) under which position servos follow ``ref`` (T, D) exactly.

    Each slide is modelled as ``m q'' = kp (u - q) - c q'``, with the command held over each
    control step of ``dt`` (zero-order hold) as the environment does. Discretised exactly
    (matrix exponential), one step is ``x' = A x + B u`` with ``x = (q, q')``, so the command
    that puts ``q`` on ``ref[t]`` at the end of step ``t`` from the model's state is
    ``(ref[t] - (A x)_q) / B_q``; the model is then stepped with it. The trajectory starts at
    rest at ``start``. The inverse is stable (the sampled system's zero lies inside the unit
    circle), and the commands depend only on the plan, so they are computed once.
    """
    ref = np.asarray(ref, float)
    out = np.zeros_like(ref)
    for d in range(ref.shape[1]):
        m, c, k = float(mass[d]), float(damping[d]), float(kp[d])
        # continuous (q, q', u) dynamics augmented so expm gives A and B of the ZOH at once
        cont = np.array([[0.0, 1.0, 0.0], [-k / m, -c / m, k / m], [0.0, 0.0, 0.0]])
        full = expm(cont * dt)
        A, B = full[:2, :2], full[:2, 2]
        x = np.array([float(start[d]), 0.0])
        for t in range(len(ref)):
            u = (ref[t, d] - A[0] @ x) / B[0]
            out[t, d] = u
            x = A @ x + B * u
    return out


def keep_apart(lower_top: np.ndarray, upper_bottom: np.ndarray, clearance: float,
               upper_share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shifts along the keyboard (T,) of the lower and the upper hand that leave at least
    ``clearance`` between the lower hand's highest point ``lower_top`` (T,) and the upper
    hand's lowest ``upper_bottom`` (T,).

    Why: each hand's IK is solved alone, and where voices cross (the tenor above the alto in
    a chorale) both hands are planned into the same place; the palms then collide and drag
    each other off every key they hold (BWV 66.6 chunk 0: 101 of 550 steps planned with the
    hands overlapping, up to 11 cm). Where the gap is short, the upper hand moves up by
    ``upper_share`` of the shortfall and the lower hand down by the rest, so the hand that
    presses keeps its keys and the one that is free gets out of the way.
    """
    short = np.maximum(clearance - (np.asarray(upper_bottom) - np.asarray(lower_top)), 0.0)
    share = np.clip(upper_share, 0.0, 1.0)
    return -(1.0 - share) * short, share * short
