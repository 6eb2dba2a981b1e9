"""Inverse kinematics of one hand with ``mink`` (differential IK as a QP, on MuJoCo).

Each hand is solved on its *own* compiled model: the hand's PyMJCF root from the scene
(``HandModel.root``, the left one already mirrored) compiled alone, so the QP has the
hand's ~20 degrees of freedom instead of the scene's 134 (88 of them piano keys): 0.5 ms
instead of 8 ms per QP iteration on this machine. The scene mounts the hand at
``HandModel.mount`` without rotation, so piano-frame positions are hand-model positions
plus the mount; ``HandIK`` checks that against the environment's model once.

What the QP knows about the hand comes from the compiled model alone: joint ranges
(``mink.ConfigurationLimit``), couplings such as the Shadow hand's J1 = J2
(the spec's ``couple_next`` compiles to joint equalities, enforced exactly as
``EqualityConstraintTask`` constraints), passive joints (no actuator, no coupling: frozen
with ``DofFreezingTask``), and the position actuators that turn a joint configuration
into an action (``ctrl = gear * q``, clipped to the control range).
"""

from __future__ import annotations

from dataclasses import dataclass

import mink
import mujoco
import numpy as np

from handspec.errors import InputError
from handspec.model import HandModel, compile_model, home_pose, site_body_chain


@dataclass(frozen=True)
class IKConfig:
    """Costs of the IK's regularisers (task costs are per metre of tip error).

    posture: cost per radian pulling finger joints toward the home pose (keeps
      unconstrained fingers relaxed and picks one of many solutions); slides have none.
    wrist_posture: the same for joints that move more than one finger (a wrist): higher, so
      the forearm slides rather than the wrist carry the hand along the keyboard.
    damping: Levenberg-Marquardt damping of each QP iteration (per radian / metre moved).
    iterations: most QP iterations per solve (each linearises at the previous result);
      a solve stops early once an iteration moves no joint more than ``tolerance``.
    """

    posture: float = 3e-3
    wrist_posture: float = 3e-3
    damping: float = 1e-6
    iterations: int = 8
    tolerance: float = 1e-4
    solver: str = "daqp"


class HandIK:
    """Fingertip targets (piano frame) -> joint configuration -> actuator controls of a hand."""

    def __init__(self, hand: HandModel, config: IKConfig | None = None):
        self.hand, self.config = hand, config or IKConfig()
        m = self.model = compile_model(hand.root)
        self.configuration = mink.Configuration(m)
        home = mujoco.MjData(m)
        home_pose(m, home)
        self.q_home = home.qpos.copy()
        self.offset = np.asarray(hand.mount, float)
        self.site_ids = np.array([m.site(s.name).id for s in hand.tip_sites])
        self.joint_ids = np.array([m.joint(j.name).id for j in hand.joints])
        self.qadr = m.jnt_qposadr[self.joint_ids]
        self._index_actuators()
        self.tip_radius = self._tip_radii()
        # the geoms that collide with the other hand (forearm, palm), for ``y_extent``
        self.collision_ids = np.array([m.geom(g.name).id for g in hand.collision_geoms],
                                      dtype=np.int64)
        self.tasks = [mink.FrameTask(s.name, "site", position_cost=0.0, orientation_cost=0.0)
                      for s in hand.tip_sites]
        self.posture = mink.PostureTask(m, cost=self._posture_costs())
        self.posture.set_target(self.q_home)
        self.limits = [mink.ConfigurationLimit(m)]
        self.constraints: list = []
        if m.neq:
            self.constraints.append(mink.EqualityConstraintTask(m, cost=1.0))
        # the same constraints with the actuated slides frozen too (``solve(..., slides=)``)
        self.pinned_constraints = list(self.constraints)
        if len(self.frozen_dofs):
            self.constraints.append(mink.DofFreezingTask(m, dof_indices=list(self.frozen_dofs)))
        pinned = sorted({*self.frozen_dofs.tolist(), *self.slide_dof.tolist()})
        if pinned:
            self.pinned_constraints.append(mink.DofFreezingTask(m, dof_indices=pinned))

    # ----------------------------------------------------------------- set-up
    def _index_actuators(self) -> None:
        m, J = self.model, mujoco.mjtJoint
        act_ids, act_jnt, gear = [], [], []
        for a in self.hand.actuators:
            i = m.actuator(a.name).id
            is_position = (m.actuator_trntype[i] == mujoco.mjtTrn.mjTRN_JOINT
                           and m.actuator_biastype[i] == mujoco.mjtBias.mjBIAS_AFFINE
                           and np.isclose(m.actuator_biasprm[i, 1], -m.actuator_gainprm[i, 0]))
            if not is_position:
                raise InputError(f"actuator {a.name!r} is not a position actuator on a joint; "
                                 "the kinematic pianist commands joint positions",
                                 file=self.hand.spec.name, field="actuators")
            act_ids.append(i)
            act_jnt.append(m.actuator_trnid[i, 0])
            gear.append(m.actuator_gear[i, 0])
        self.act_ids = np.array(act_ids)
        self.act_qadr = m.jnt_qposadr[act_jnt]
        self.act_dof = m.jnt_dofadr[act_jnt]
        self.gear = np.array(gear)
        self.ctrl_lo = m.actuator_ctrlrange[self.act_ids, 0].copy()
        self.ctrl_hi = m.actuator_ctrlrange[self.act_ids, 1].copy()
        unlimited = ~m.actuator_ctrllimited[self.act_ids].astype(bool)
        self.ctrl_lo[unlimited], self.ctrl_hi[unlimited] = -np.inf, np.inf
        self.kp = m.actuator_gainprm[self.act_ids, 0].copy()
        # velocity feedback of the servo (biasprm[2] = -kv) plus the joint's own damping
        self.damping = -m.actuator_biasprm[self.act_ids, 2] + m.dof_damping[self.act_dof]
        # the actuated slides (forearm): their row in the actuator list, dof, range, mass
        is_slide = np.array([m.jnt_type[j] == mujoco.mjtJoint.mjJNT_SLIDE for j in act_jnt],
                            dtype=bool)
        self.slide_act = np.flatnonzero(is_slide)
        self.slide_qadr = self.act_qadr[self.slide_act]
        self.slide_dof = self.act_dof[self.slide_act]
        slide_jnt = np.array(act_jnt, dtype=np.int64)[self.slide_act]
        self.slide_range = m.jnt_range[slide_jnt].copy()
        self.slide_range[~m.jnt_limited[slide_jnt].astype(bool)] = (-np.inf, np.inf)
        self.slide_mass = self._effective_mass(self.slide_dof)
        # piano-frame y (along the keyboard) each slide moves the hand per metre: slides sit
        # at the root of the kinematic tree, so their axes do not turn with the hand
        home = mujoco.MjData(m)
        home.qpos[:] = self.q_home
        mujoco.mj_kinematics(m, home)
        self.slide_y = home.xaxis[slide_jnt, 1].copy() if len(slide_jnt) else np.zeros(0)
        followers = {int(m.eq_obj1id[e]) for e in range(m.neq)
                     if m.eq_type[e] == mujoco.mjtEq.mjEQ_JOINT}
        driven = set(int(j) for j in act_jnt) | followers
        self.frozen_dofs = np.array([m.jnt_dofadr[j] for j in range(m.njnt)
                                     if j not in driven and m.jnt_type[j] in (J.mjJNT_HINGE,
                                                                              J.mjJNT_SLIDE)],
                                    dtype=np.int64)

    def _effective_mass(self, dofs: np.ndarray) -> np.ndarray:
        """Diagonal of the joint-space inertia (armature included) at the home pose: for a
        slide carrying the hand, the mass the servo accelerates."""
        m = self.model
        d = mujoco.MjData(m)
        d.qpos[:] = self.q_home
        mujoco.mj_forward(m, d)
        full = np.zeros((m.nv, m.nv))
        mujoco.mj_fullM(m, d, full)
        return np.diag(full)[dofs].copy()

    def _posture_costs(self) -> np.ndarray:
        """Per-dof posture cost: none on slides, ``wrist_posture`` on hinges that move more
        than one fingertip (found from the kinematic tree, not from names), else ``posture``."""
        m, cfg = self.model, self.config
        chains = [site_body_chain(m, s) for s in self.site_ids]
        cost = np.full(m.nv, cfg.posture)
        for dof in range(m.nv):
            j = m.dof_jntid[dof]
            if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_SLIDE:
                cost[dof] = 0.0
            elif sum(int(m.jnt_bodyid[j]) in c for c in chains) > 1:
                cost[dof] = cfg.wrist_posture
        return cost

    def _tip_radii(self) -> np.ndarray:
        """Radius of the colliding geom each fingertip site sits on (0 if there is none)."""
        m = self.model
        radii = []
        for s in self.site_ids:
            body = m.site_bodyid[s]
            geoms = [g for g in range(m.ngeom) if m.geom_bodyid[g] == body and m.geom_contype[g]]
            radii.append(max((float(m.geom_size[g, 0]) for g in geoms), default=0.0))
        return np.array(radii)

    def check_against(self, scene_model: mujoco.MjModel, scene_sites: list[str],
                      scene_joints: list[str]) -> None:
        """Raise if this hand model and the scene disagree on where the tips are."""
        d = mujoco.MjData(scene_model)
        home_pose(scene_model, d)
        q = self.q_home.copy()
        for name, adr in zip(scene_joints, self.qadr):
            q[adr] = d.qpos[scene_model.joint(name).qposadr[0]]
        tips = self.tip_positions(q)
        scene = d.site_xpos[[scene_model.site(s).id for s in scene_sites]]
        err = float(np.abs(tips - scene).max())
        if err > 1e-6:
            raise RuntimeError(f"hand model and scene disagree on tip positions by {err:.2e} m")

    # ----------------------------------------------------------------- solving
    def tip_positions(self, q: np.ndarray) -> np.ndarray:
        """(F, 3) fingertip positions in the piano frame at configuration ``q``."""
        c = self.configuration
        c.update(q)
        return c.data.site_xpos[self.site_ids] + self.offset

    def y_extent(self, q: np.ndarray) -> tuple[float, float]:
        """Lowest and highest piano-frame y (along the keyboard) of the geoms that collide
        with the other hand (bounding boxes, so a turned palm counts at its full reach),
        at configuration ``q``; (inf, -inf) for a hand without such geoms."""
        c = self.configuration
        c.update(q)
        d, m = c.data, self.model
        lo, hi = np.inf, -np.inf
        for g in self.collision_ids:
            rot = d.geom_xmat[g].reshape(3, 3)
            centre = d.geom_xpos[g, 1] + rot[1] @ m.geom_aabb[g, :3] + self.offset[1]
            half = np.abs(rot[1]) @ m.geom_aabb[g, 3:]
            lo, hi = min(lo, centre - half), max(hi, centre + half)
        return float(lo), float(hi)

    def solve(self, targets: np.ndarray, cost: np.ndarray, q_start: np.ndarray,
              slides: np.ndarray | None = None) -> np.ndarray:
        """The configuration that best puts the tips on ``targets`` (piano frame), weighted
        per axis by ``cost`` (F, 3), starting from ``q_start`` (joint limits, couplings and
        passive joints respected). ``slides``, if given, pins the actuated slides there
        (``slide_qadr`` order): the rest of the hand reaches from where the forearm is."""
        c, cfg = self.configuration, self.config
        constraints = self.constraints
        if slides is not None and len(self.slide_qadr):
            q_start = q_start.copy()
            q_start[self.slide_qadr] = np.clip(slides, *self.slide_range.T)
            constraints = self.pinned_constraints
        c.update(q_start)
        for task, target, w in zip(self.tasks, targets, cost):
            task.set_position_cost(w)
            task.set_target(mink.SE3.from_translation(target - self.offset))
        tasks = [*self.tasks, self.posture]
        for _ in range(cfg.iterations):
            v = mink.solve_ik(c, tasks, 1.0, cfg.solver, damping=cfg.damping,
                              limits=self.limits, constraints=constraints)
            c.integrate_inplace(v, 1.0)
            if np.abs(v).max() < cfg.tolerance:
                break
        return c.q.copy()

    def load_offsets(self, q: np.ndarray, tips: np.ndarray, upward: np.ndarray) -> np.ndarray:
        """Command offsets (actuator order) that hold configuration ``q`` while the tips
        ``tips`` (indices into ``site_ids``) are pushed up with forces ``upward`` (N).

        A position servo holds a load only with an error: torque = kp (u - q). The keys
        push the pressing tips up with ``J^T f`` on the joints; without the offset
        ``-J^T f / kp`` the compliant joints give way (measured on a Bach chorale: the
        wrist pitch, kp 10, sat 0.04 rad up, ~8 mm at the tips, and black keys stopped
        short of the pressed threshold). A coupled follower's torque goes to the joint it
        follows (``eq_data`` ratio), whose actuator carries it.
        """
        m, c = self.model, self.configuration
        c.update(q)
        tau = np.zeros(m.nv)
        jac = np.zeros((3, m.nv))
        for tip, f in zip(tips, upward):
            mujoco.mj_jacSite(m, c.data, jac, None, int(self.site_ids[tip]))
            tau += jac[2] * f
        for e in range(m.neq):
            if m.eq_type[e] == mujoco.mjtEq.mjEQ_JOINT and m.eq_obj2id[e] >= 0:
                follower = m.jnt_dofadr[m.eq_obj1id[e]]
                leader = m.jnt_dofadr[m.eq_obj2id[e]]
                tau[leader] += m.eq_data[e, 1] * tau[follower]
        return -self.gear * tau[self.act_dof] / self.kp

    def ctrl(self, q: np.ndarray) -> np.ndarray:
        """Position-actuator controls that hold configuration ``q`` (in the control range)."""
        return np.clip(self.gear * q[self.act_qadr], self.ctrl_lo, self.ctrl_hi)

    def observed_q(self, joints: np.ndarray) -> np.ndarray:
        """A full configuration of this hand model from its observed joints (env order)."""
        q = self.q_home.copy()
        q[self.qadr] = joints
        return q
