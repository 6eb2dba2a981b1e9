"""How far a hand's fingers reach: the plain-array summary the fingering engine uses.

``FingerReach`` holds no simulator objects, so ``fingering/`` can use it without MuJoCo;
``finger_reach(spec)`` computes it from the compiled model of a spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from handspec.spec import HandSpec


@dataclass(frozen=True)
class FingerReach:
    """Fingertip geometry of one right hand, in the piano frame's axes.

    fingers:   canonical finger names present, thumb first (e.g. thumb, index, middle, ring).
    rest_tips: (F, 3) fingertip positions at the rest pose, relative to the hand's forearm
               base; column 1 is along the keyboard (higher pitch = larger y for the right hand).
    max_span:  (F, F) largest distance along the keyboard (m) between two fingertips that the
               joint ranges allow with the forearm fixed (symmetric, zero diagonal).
    """

    hand: str
    fingers: tuple[str, ...]
    rest_tips: np.ndarray
    max_span: np.ndarray

    def mirrored(self) -> "FingerReach":
        """The same reach for the left hand: along-keyboard coordinates flip sign."""
        tips = self.rest_tips.copy()
        tips[:, 1] *= -1
        return FingerReach(self.hand, self.fingers, tips, self.max_span.copy())


def finger_reach(spec: "HandSpec", samples: int = 4096, seed: int = 0) -> FingerReach:
    """Rest fingertip positions and the widest along-keyboard span of each finger pair.

    Spans come from random joint configurations inside the joint ranges (forearm slides held
    at 0, coupled joints following their driver), which is exact enough for a fingering
    planner and needs no per-hand code.
    """
    import mujoco

    from handspec.model import HandModel, compile_model

    hand = HandModel.build(spec, "right")
    model = compile_model(hand.root)
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    site_ids = [model.site(s.name).id for s in hand.tip_sites]
    rest = data.site_xpos[site_ids].copy()
    rng = np.random.default_rng(seed)
    hinge = model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE
    adr = model.jnt_qposadr[hinge]
    lo, hi = model.jnt_range[hinge, 0], model.jnt_range[hinge, 1]
    couplings = [(model.eq_obj1id[i], model.eq_obj2id[i], model.eq_data[i, 1])
                 for i in range(model.neq) if model.eq_type[i] == mujoco.mjtEq.mjEQ_JOINT]
    ys = np.empty((samples, len(site_ids)))
    for s in range(samples):
        data.qpos[:] = model.qpos0
        data.qpos[adr] = rng.uniform(lo, hi)
        for follower, driver, ratio in couplings:
            data.qpos[model.jnt_qposadr[follower]] = ratio * data.qpos[model.jnt_qposadr[driver]]
        mujoco.mj_kinematics(model, data)
        ys[s] = data.site_xpos[site_ids, 1]
    span = np.abs(ys[:, :, None] - ys[:, None, :]).max(axis=0)
    np.fill_diagonal(span, 0.0)
    return FingerReach(spec.name, hand.fingers, rest, span)
