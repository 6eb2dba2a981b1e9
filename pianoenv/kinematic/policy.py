"""The kinematic pianist: annotator fingering -> fingertip targets -> IK -> servo commands.

A ``Policy`` (``pianoenv.policy``) that plays any song with any hand spec without training.
At construction it fingers the whole song with the offline annotator for the hand's reach
(``plan.plan_fingering``) and plans the forearm slides over the whole song
(``slides``: the IK solved once per step, the two hands moved apart where they would
collide, the slide path smoothed so the hand shifts while its fingers are free, and the
servo commands that follow that path without lag); at
control step ``t`` it

1. builds fingertip targets for step ``t + 1`` (``targets.TargetBuilder``: press, hover
   over the next key, or lift clear) and solves them with IK on each hand's own model
   (``ik.HandIK``), warm-started from step ``t``'s solution. ``q*(s)``, the configuration
   wanted at the *end* of step ``s``, is cached, so a step usually costs one new solve per
   hand (two more for a hand whose tip must stay lifted, see 2.);
2. commands the position servos ahead of the plan so they arrive in time. A servo with
   gain ``kp`` and damping ``c`` lags a target moving at speed ``v`` by ``c v / kp``
   (0.13 s for the Shadow forearm slide: ~3 control steps), so the command is
   ``q*(t) + c / kp (q*(t+1) - q*(t)) / dt + g (q*(t-1) - q)``: velocity feed-forward
   from the plan (left out on the last step of a note, where it would lift the finger
   early) plus a proportional correction of the error measured in the observation
   (``hands/joints``). Acceleration feed-forward was tried and dropped for these joints:
   the plan changes in steps, and its second difference made the commands jump. The
   slides are the exception: they follow their smooth planned path with its exact
   commands plus a proportional-integral correction (``ServoConfig.slide_*``: the held
   fingertips' friction on the keys resists every shift of the hand, which a position
   servo alone answers with a standing error of ``force / kp``), and every IK solve holds
   them on that path (``HandIK.solve(slides=)``). A tip that is not over its key yet is
   kept at approach height until it is (``_align``: sideways first, then down);
3. puts the sustain pedal down when the goal says so (``sustain_goal``).

Goal keys it cannot press are listed in ``unreachable`` as ``(step, key, reason)``: planning
failures from the annotator (too many simultaneous keys, ...) at construction, and IK
failures (out of the slide range, a span too wide, out of a finger's reach, the forearm
still on its planned way, or the other hand in the way) as the steps are solved.

It reads only the environment's public parts (``finger_names``, ``hands``, ``model``,
``actuator_names``, ``song_goals``, ``spec``, ``control_timestep``) and the observation;
it never touches the environment's ``MjData``. A trainer can use it as a base policy
(``base_action(timestep)``) or as a source of demonstrations (``run_episode(..., record=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dm_env
import mujoco
import numpy as np

from fingering.annotate import AnnotatorConfig
from fingering.notes import NUM_KEYS
from handspec.reach import finger_reach
from pianoenv.kinematic.ik import HandIK, IKConfig
from pianoenv.kinematic.plan import FingerPlan, Unreachable, plan_fingering
from pianoenv.kinematic.slides import (SlideConfig, keep_apart, servo_feedforward,
                                       smooth_trajectory)
from pianoenv.kinematic.targets import TargetBuilder, TargetConfig


# a miss of the planned slide path, not of the hand's reach: the IK wanted the forearm
# elsewhere at this step, and the smoothed trajectory is still moving there
FOREARM_ON_ITS_WAY = "forearm still on its way (planned slide path)"
# the two hands' slides were moved apart at this step so that they do not collide
OTHER_HAND_IN_THE_WAY = "the other hand is in the way (hands kept apart)"


@dataclass(frozen=True)
class ServoConfig:
    """How commands lead the plan: feed-forward on/off and the feedback gain ``g``."""

    feedforward: bool = True
    feedback: float = 0.5
    reach_tolerance: float = 0.005   # m of horizontal tip error at which a press counts as missed
    align_tolerance: float = 0.006   # m: a tip further than this from its key stays lifted
    hold_keys_down: bool = True      # offset the commands by the keys' load (HandIK.load_offsets)
    # the forearm slides: proportional gain on their planned path (None: ``feedback``) and
    # an integral term, capped at ``slide_integral_limit`` m of summed error. Why: the held
    # tips' friction on the keys resists every shift of the hand (on BWV 66.6 chunk 0 the
    # right hand's in-out slide was over 1 cm off its path on 35% of the steps; with the
    # keys' friction lowered from 1 to 0.15 the pianist's F1 rose from 0.60 to 0.72). Measured
    # over 13 chunks (benchmarks/results/pianist_sweep_2026-12-01.md): mean F1 0.742
    # without, 0.753-0.784 with the gains tried, 0.784 at these.
    slide_feedback: float | None = 1.5
    slide_integral: float = 0.3
    slide_integral_limit: float = 0.1


class KinematicPianist:
    """Plays ``env``'s song with ``env``'s hands from the annotator's fingering and IK.

    Args:
      env: a ``pianoenv.env.PianoEnv`` (any hand spec, any song or chunk).
      targets / ik / servo / slides: the knobs of each stage (defaults are the measured
        ones; ``slides`` plans the forearm slides ahead, ``pianoenv.kinematic.slides``).
      annotator: weights of the offline annotator (``fingering.annotate``).
      respect_hands: keep the song's hand for each note (default); False lets the annotator
        split the notes between the hands for this hand's reach.
    """

    def __init__(self, env: Any, *, targets: TargetConfig | None = None,
                 ik: IKConfig | None = None, servo: ServoConfig | None = None,
                 slides: SlideConfig | None = None,
                 annotator: AnnotatorConfig | None = None, respect_hands: bool = True):
        self.env = env
        self.servo = servo or ServoConfig()
        self.slides = slides or SlideConfig()
        self.finger_names: tuple[tuple[str, str], ...] = tuple(env.finger_names)
        self.hands = [HandIK(hand, ik) for hand in env.hands]
        rows, start = [], 0
        for hik in self.hands:
            rows.append(np.arange(start, start + len(hik.site_ids)))
            start += len(hik.site_ids)
        self._rows = rows
        self._joint_slices = _slices([len(h.qadr) for h in self.hands])
        self._check_layout()
        self.plan: FingerPlan = plan_fingering(env.song_goals, self.finger_names,
                                               finger_reach(env.spec), annotator,
                                               respect_hands)
        radius = np.concatenate([h.tip_radius for h in self.hands])
        self.targets = TargetBuilder(self.plan, radius, self._rows, targets)
        self.dt = float(env.control_timestep)
        self.slide_ref: list[np.ndarray] | None = None   # per hand (T, slides): positions
        self.slide_cmd: list[np.ndarray] | None = None   # per hand (T, slides): commands
        self.slide_wanted: list[np.ndarray] | None = None  # where the step-wise IK put them
        self.slide_apart: list[np.ndarray] | None = None   # per hand (T,): moved for the other
        if self.slides.enabled and self.plan.num_steps:
            self.slide_ref, self.slide_wanted = self._plan_slides()
            self.slide_cmd = [servo_feedforward(ref, h.q_home[h.slide_qadr], self.dt,
                                                h.kp[h.slide_act], h.damping[h.slide_act],
                                                h.slide_mass)
                              for h, ref in zip(self.hands, self.slide_ref)]
        self.reset(0)

    def _check_layout(self) -> None:
        """The per-hand models must match the scene: same tips, joints, actuators, order."""
        env = self.env
        acts = tuple(a.full_identifier for hand in env.hands for a in hand.actuators)
        if acts != tuple(env.actuator_names):
            raise RuntimeError("actuator order of the hands differs from the action order")
        for hik, hand in zip(self.hands, env.hands):
            hik.check_against(env.model, [s.full_identifier for s in hand.tip_sites],
                              [j.full_identifier for j in hand.joints])

    # ----------------------------------------------------------------- Policy
    def reset(self, seed: int) -> None:
        """Forget the episode: step counter 0, plan cache empty, planning misses only."""
        del seed  # deterministic
        self._t = 0
        self._engaged = np.full(len(self.finger_names), -1)
        self._slide_error_sum = [np.zeros(len(h.slide_act)) for h in self.hands]
        self._q: dict[int, list[np.ndarray]] = {}
        self._reported: set[tuple[int, int]] = {(u.step, u.key) for u in self.plan.unreachable}
        self.unreachable: list[Unreachable] = list(self.plan.unreachable)

    def __call__(self, timestep: dm_env.TimeStep) -> np.ndarray:
        if timestep.first() and self._t != 0:
            self.reset(0)
        obs = timestep.observation
        joints = np.asarray(obs["hands/joints"], float)
        t = self._t
        self._check_goal(t, obs)
        if t == 0:
            self._q[-1] = [h.observed_q(joints[s]) for h, s in zip(self.hands, self._joint_slices)]
        for s in range(t, t + 2):
            if s not in self._q:
                self._q[s] = self._solve(s)
        self._q.pop(t - 2, None)
        self._align(t, np.asarray(obs["fingertips"], float).reshape(-1, 3))
        action = []
        for i, hik in enumerate(self.hands):
            action.append(self._command(hik, i, joints[self._joint_slices[i]]))
        sustain = float(np.asarray(obs["sustain_goal"])[0] >= 0.5)
        self._t += 1
        return np.append(np.concatenate(action), sustain).astype(np.float32)

    def _check_goal(self, t: int, obs) -> None:
        """The plan is the song's; the observed goal of this step must be the plan's."""
        goal = np.asarray(obs["goal"])[:NUM_KEYS] > 0.5
        expected = self.env.song_goals.keys[t] if t < self.plan.num_steps else \
            np.zeros(NUM_KEYS, dtype=bool)
        if not np.array_equal(goal, expected):
            raise RuntimeError(f"step {t}: the observed goal is not the planned song's (was the "
                               "policy reset with the environment, and made for this env?)")

    def base_action(self, timestep: dm_env.TimeStep) -> np.ndarray:
        """Alias of ``__call__`` for residual learners (base action + learned residual)."""
        return self(timestep)

    # ----------------------------------------------------------------- internals
    def _command(self, hik: HandIK, i: int, joints: np.ndarray) -> np.ndarray:
        t, dt, sv = self._t, self.dt, self.servo
        prev, now, nxt = (hik.gear * self._q[s][i][hik.act_qadr] for s in (t - 1, t, t + 1))
        u = now.copy()
        rows = self._rows[i]
        held = self.plan.press[t, rows] if t < self.plan.num_steps else np.full(len(rows), -1)
        after = self.plan.press[t + 1, rows] if t + 1 < self.plan.num_steps else \
            np.full(len(rows), -1)
        releasing = ((held >= 0) & (after != held)).any()
        # no feed-forward into a release: it would lift the finger during the note's last step
        if sv.feedforward and not releasing:
            u += hik.damping / hik.kp * (nxt - now) / dt
        error = prev - hik.gear * hik.observed_q(joints)[hik.act_qadr]
        gain = np.full(len(u), sv.feedback)
        if self.slide_ref is not None and len(hik.slide_act):
            # the slides get their planned commands (the servo's exact inverse along the
            # path) plus their own proportional-integral correction
            sa, cmd = hik.slide_act, self.slide_cmd[i]
            u[sa] = hik.gear[sa] * cmd[min(t, len(cmd) - 1)]
            if sv.slide_feedback is not None:
                gain[sa] = sv.slide_feedback
            if sv.slide_integral:
                total = np.clip(self._slide_error_sum[i] + error[sa],
                                -sv.slide_integral_limit, sv.slide_integral_limit)
                self._slide_error_sum[i] = total
                u[sa] += sv.slide_integral * total
        u += gain * error
        pressing = np.flatnonzero(held >= 0)
        if sv.hold_keys_down and len(pressing):
            u += hik.load_offsets(self._q[t][i], pressing,
                                  self.targets.press_force(held[pressing]))
        return np.clip(u, hik.ctrl_lo, hik.ctrl_hi)

    def _slides_at(self, i: int, step: int) -> np.ndarray | None:
        """Where hand ``i``'s slides are planned at the end of ``step`` (None: not planned)."""
        if self.slide_ref is None:
            return None
        ref = self.slide_ref[i]
        return ref[min(max(step, 0), len(ref) - 1)]

    def _plan_slides(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The forearm slides' trajectory per hand, (T, n_slides), planned ahead, and the
        slide positions of the step-by-step solutions it smooths.

        The IK is solved for every step of the song once, from the home pose, with the
        slides free; the slide positions of those solutions are then smoothed with weight 1
        where the hand presses or is about to strike and ``free_weight`` elsewhere
        (``slides.smooth_trajectory``), so the hand shifts while its fingers are free.
        """
        cfg, T = self.slides, self.plan.num_steps
        q = [h.q_home.copy() for h in self.hands]
        wanted = [np.zeros((T, len(h.slide_qadr))) for h in self.hands]
        extent = [np.zeros((T, 2)) for _ in self.hands]
        weight = [np.full(T, cfg.free_weight) for _ in self.hands]
        for step in range(T):
            pos, cost = self.targets.targets(step)
            press, hover, ahead = self.targets.modes(step)
            busy = (press >= 0) | ((hover >= 0) & (ahead <= 1))
            for i, hik in enumerate(self.hands):
                rows = self._rows[i]
                q[i] = hik.solve(pos[rows], cost[rows], q[i])
                wanted[i][step] = q[i][hik.slide_qadr]
                extent[i][step] = hik.y_extent(q[i])
                if busy[rows].any():
                    weight[i][step] = 1.0
        apart = self._apart(wanted, wanted, extent, weight)
        smooth = []
        for i, hik in enumerate(self.hands):
            ref = smooth_trajectory(apart[i], weight[i], cfg.smoothness,
                                    start=hik.q_home[hik.slide_qadr]) if T else apart[i]
            smooth.append(np.clip(ref, *hik.slide_range.T))
        out = self._apart(smooth, wanted, extent, weight)
        # steps on which a hand was moved to make room for the other (for ``_why``)
        self.slide_apart = [(np.abs(a - w) + np.abs(o - s)).max(axis=1, initial=0.0) > 1e-4
                            for a, w, o, s in zip(apart, wanted, out, smooth)]
        return out, wanted

    def _apart(self, ref: list[np.ndarray], wanted: list[np.ndarray],
               extent: list[np.ndarray], weight: list[np.ndarray]) -> list[np.ndarray]:
        """``ref`` with the two hands' slides moved apart where they would collide
        (``slides.keep_apart``; ``extent`` is each hand's y-extent at ``wanted``, and the
        slides move it rigidly). One hand, or hands without collision geoms or a slide
        along the keyboard, are returned as they are."""
        hands, clearance = self.hands, self.slides.clearance
        if clearance is None or len(hands) != 2 or not all(
                len(h.collision_ids) and np.abs(h.slide_y).max(initial=0.0) > 0 for h in hands):
            return ref
        low, up = sorted(range(2), key=lambda i: hands[i].offset[1])
        moved = [(r - w) @ h.slide_y for r, w, h in zip(ref, wanted, hands)]
        shift = keep_apart(extent[low][:, 1] + moved[low], extent[up][:, 0] + moved[up],
                           clearance, weight[low] / (weight[low] + weight[up]))
        out = [r.copy() for r in ref]
        for i, dy in zip((low, up), shift):
            h = hands[i]
            s = int(np.argmax(np.abs(h.slide_y)))
            out[i][:, s] = np.clip(out[i][:, s] + dy / h.slide_y[s], *h.slide_range[s])
        return out

    def _solve(self, step: int) -> list[np.ndarray]:
        pos, cost = self.targets.targets(step)
        press, _, _ = self.targets.modes(step)
        out = []
        for i, hik in enumerate(self.hands):
            rows = self._rows[i]
            q = hik.solve(pos[rows], cost[rows], self._q[step - 1][i], self._slides_at(i, step))
            out.append(q)
            pressing = [(r, f) for r, f in enumerate(rows) if press[f] >= 0]
            if pressing:
                self._check_reach(step, i, q, pos[rows], press[rows], pressing)
        return out

    def _align(self, step: int, tips: np.ndarray) -> None:
        """Sideways first, then down: a tip that is not over its key yet stays lifted.

        A fingertip that comes down while still beside its key lands on the neighbour (a
        wrong note), and once it is below the key tops the neighbour's side holds the
        whole hand back. So where the observed tip is more than ``align_tolerance`` (along
        the keyboard) from the key it presses at ``step``, or hovers just above before a
        strike, that hand's configuration for ``step`` is solved again with those tips at
        approach height over their keys.
        """
        key = self._low_keys(step)
        if not (key >= 0).any():
            return
        pos, cost = self.targets.targets(step)
        err = np.abs(tips[:, 1] - pos[:, 1])
        # hysteresis: a tip already down on this key lifts again only when pushed off by
        # twice the tolerance (the pressing and the lifted pose differ, and toggling
        # between them would itself throw the tip sideways)
        engaged = (key >= 0) & (key == self._engaged)
        tol = np.where(engaged, 2 * self.servo.align_tolerance, self.servo.align_tolerance)
        far = (key >= 0) & (err > tol)
        self._engaged = np.where(far, -1, key)
        if not far.any():
            return
        pos[far, 2] = self.targets.approach_height(key[far]) + self.targets.tip_radius[far]
        # step + 1 is solved again, with the same tips still lifted: the feed-forward
        # differentiates the two steps, and a plan that lifts at t but presses at t + 1
        # would drive the servos toward the pressing pose the tip is not above yet
        nxt_pos, nxt_cost = self.targets.targets(step + 1)
        lift = far & (self._low_keys(step + 1) == key)
        nxt_pos[lift, 2] = pos[lift, 2]
        for i, hik in enumerate(self.hands):
            rows = self._rows[i]
            if far[rows].any():
                self._q[step][i] = hik.solve(pos[rows], cost[rows], self._q[step - 1][i],
                                             self._slides_at(i, step))
                self._q[step + 1][i] = hik.solve(nxt_pos[rows], nxt_cost[rows],
                                                 self._q[step][i], self._slides_at(i, step + 1))

    def _low_keys(self, step: int) -> np.ndarray:
        """Per tip: the key it presses at ``step`` or hovers just above (-1 for neither)."""
        press, hover, ahead = self.targets.modes(step)
        return np.where(press >= 0, press, np.where(ahead <= 1, hover, -1))

    def _check_reach(self, step: int, i: int, q: np.ndarray, target: np.ndarray,
                     keys: np.ndarray, pressing: list[tuple[int, int]]) -> None:
        hik = self.hands[i]
        tips = hik.tip_positions(q)
        for r, _ in pressing:
            k = int(keys[r])
            err_xy = float(np.linalg.norm(tips[r, :2] - target[r, :2]))
            too_high = tips[r, 2] - target[r, 2] > self.targets.config.press_extra
            if (err_xy <= self.servo.reach_tolerance and not too_high) or \
                    (step, k) in self._reported:
                continue
            self._reported.add((step, k))
            why = self._why(step, i, q, target[r] - tips[r], len(pressing))
            self.unreachable.append(Unreachable(step, k, why))

    def _why(self, step: int, i: int, q: np.ndarray, error: np.ndarray,
             n_pressing: int) -> str:
        """Why a tip missed its key: the hand moved aside for the other hand at this step,
        else a slide stuck at the end of its range in the direction the tip still has to go
        (where the IK wanted the slides, when they are planned), else a forearm still on its
        planned way there, else the span of a chord, else the finger's own reach."""
        hik = self.hands[i]
        if self.slide_apart is not None and self.slide_apart[i][min(step, len(
                self.slide_apart[i]) - 1)]:
            return OTHER_HAND_IN_THE_WAY
        m, data = hik.model, hik.configuration.data
        wanted = q.copy()
        if self.slide_wanted is not None:
            planned = self.slide_wanted[i]
            wanted[hik.slide_qadr] = planned[min(step, len(planned) - 1)]
        for j in range(m.njnt):
            if m.jnt_type[j] != mujoco.mjtJoint.mjJNT_SLIDE or not m.jnt_limited[j]:
                continue
            lo, hi = m.jnt_range[j]
            qj, push = wanted[m.jnt_qposadr[j]], float(error @ data.xaxis[j])
            if (hi - qj < 1e-4 and push > 0) or (qj - lo < 1e-4 and push < 0):
                return "out of the forearm's slide range"
        if np.abs(wanted - q)[hik.slide_qadr].max(initial=0.0) > 1e-3:
            return FOREARM_ON_ITS_WAY
        return "span too wide for the hand" if n_pressing > 1 else "out of the finger's reach"


def _slices(sizes: list[int]) -> list[slice]:
    out, start = [], 0
    for n in sizes:
        out.append(slice(start, start + n))
        start += n
    return out
