"""A built hand plus the handles an environment needs, whatever the hand.

``HandModel`` is the only thing ``pianoenv`` reads about a hand: its PyMJCF root, the
fingertip sites in canonical finger order, actuators, movable joints, the geoms that count
for hand-hand collisions and where to mount it. Generated and user-supplied ("bring your
own") hands look the same from here on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from dm_control import mjcf

from handspec.build import Side, build_hand, side_prefix
from handspec.spec import HandSpec


@dataclass(frozen=True)
class HandModel:
    spec: HandSpec
    side: Side
    root: mjcf.RootElement
    fingers: tuple[str, ...]
    tip_sites: tuple          # mjcf site elements, canonical finger order
    actuators: tuple          # mjcf actuator elements, model order
    joints: tuple             # movable mjcf joint elements (slides, wrist, fingers)
    collision_geoms: tuple    # geoms checked against the other hand (forearm, palm)
    mount: np.ndarray         # (3,) wrist position in the piano frame

    @property
    def prefix(self) -> str:
        return side_prefix(self.side)

    @property
    def action_dim(self) -> int:
        return len(self.actuators)

    @staticmethod
    def build(spec: HandSpec, side: Side = "right") -> "HandModel":
        root = build_hand(spec, side)
        p = side_prefix(side)
        fingers = spec.finger_names
        if spec.mjcf is not None:
            ext = spec.mjcf
            tips = tuple(root.find("site", ext.tip_sites[f]) for f in fingers)
            names = ext.actuators
            actuators = tuple(root.find("actuator", n) for n in names) if names else \
                tuple(root.find_all("actuator"))
            collision: tuple = ()
            mount = np.array(ext.mount, float)
        else:
            tips = tuple(root.find("site", f"{p}{f}_tip") for f in fingers)
            actuators = tuple(root.find_all("actuator"))
            collision = tuple(g for g in (root.find("geom", f"{p}forearm"),
                                          root.find("geom", f"{p}palm")) if g is not None)
            mount = np.array(spec.forearm.mount, float)
        joints = tuple(j for j in root.find_all("joint") if j.tag == "joint")
        if side == "left":
            mount = mount * np.array([1.0, -1.0, 1.0])
        return HandModel(spec, side, root, fingers, tips, actuators, joints, collision, mount)


def compile_model(root: mjcf.RootElement):
    """Compile a PyMJCF model with the raw bindings (fast path, no dm_control Physics)."""
    import mujoco

    return mujoco.MjModel.from_xml_string(root.to_xml_string(), root.get_assets())


def site_body_chain(model, site_id: int) -> set[int]:
    """Ids of the bodies from a site's body up to (not including) the world: the links that
    move a fingertip. Which finger owns a geom, and which joints are shared by several
    fingers (the wrist), both follow from these chains, not from names."""
    body, chain = int(model.site_bodyid[site_id]), set()
    while body > 0:
        chain.add(body)
        body = int(model.body_parentid[body])
    return chain


def home_pose(model, data) -> None:
    """Put every limited joint at 0 clipped into its range, and position actuators on it.

    A spec's joints need not include 0 in their range (Allegro's thumb rotation starts at
    15 degrees); MuJoCo's qpos0 would then start outside the limits. Environments reset to
    this pose and renders show it.
    """
    import mujoco

    data.qpos[:] = model.qpos0
    for j in range(model.njnt):
        if model.jnt_limited[j] and model.jnt_type[j] in (mujoco.mjtJoint.mjJNT_HINGE,
                                                           mujoco.mjtJoint.mjJNT_SLIDE):
            adr = model.jnt_qposadr[j]
            data.qpos[adr] = np.clip(data.qpos[adr], *model.jnt_range[j])
    for a in range(model.nu):
        if model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT:
            target = data.qpos[model.jnt_qposadr[model.actuator_trnid[a, 0]]]
            lo, hi = model.actuator_ctrlrange[a]
            data.ctrl[a] = np.clip(target, lo, hi) if model.actuator_ctrllimited[a] else target
    mujoco.mj_forward(model, data)
