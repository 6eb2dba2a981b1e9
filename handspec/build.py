"""Spec -> PyMJCF model of one hand, made of primitive geoms.

The right hand is generated from the spec; the left hand is the mirror image of the right
*model* (``mirror.py``), so generated and user-supplied hands are mirrored by the same code.
Naming (Menagerie style): every element carries the side prefix ``rh_``/``lh_``; bodies
``rh_forearm``, ``rh_palm``, ``rh_index_1``..; joints and actuators ``rh_<joint>`` /
``rh_A_<joint>``; fingertip sites ``rh_<finger>_tip``; default classes ``rh_<class>``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from dm_control import mjcf

from handspec.errors import InputError
from handspec.spec import Finger, HandSpec, Joint

Side = Literal["right", "left"]
PREFIX = {"right": "rh_", "left": "lh_"}
FINGER_RGBA = {  # one colour per canonical finger, shared by renders and plots
    "thumb": (0.89, 0.10, 0.11, 1), "index": (1.0, 0.50, 0.0, 1),
    "middle": (0.20, 0.63, 0.17, 1), "ring": (0.12, 0.47, 0.71, 1),
    "little": (0.42, 0.24, 0.60, 1),
}
EXTRA_FINGER_RGBA = (0.55, 0.55, 0.55, 1)  # fingers beyond the five canonical names
SKIN_RGBA = (0.80, 0.80, 0.82, 1)
PALM_RGBA = (0.25, 0.27, 0.30, 1)
FINGER_CONTYPE, FINGER_CONAFFINITY = 1, 0  # touches keys (keys: contype 0, conaffinity 1)


def side_prefix(side: Side) -> str:
    try:
        return PREFIX[side]
    except KeyError:
        raise InputError(f"side must be 'right' or 'left', not {side!r}", field="side") from None


def _quat(axis, angle_deg: float) -> np.ndarray:
    half = math.radians(angle_deg) / 2
    return np.array([math.cos(half), *(math.sin(half) * np.asarray(axis, float))])


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def _add_defaults(root: mjcf.RootElement, spec: HandSpec, p: str) -> None:
    for name, jc in spec.joint_classes.items():
        cls = root.default.add("default", dclass=f"{p}{name}")
        cls.joint.set_attributes(type="hinge", damping=jc.damping, armature=jc.armature,
                                 frictionloss=jc.frictionloss)
        pos = dict(kp=jc.kp)
        if jc.forcerange is not None:
            pos.update(forcerange=jc.forcerange, forcelimited="true")
        cls.position.set_attributes(**pos)
    for slide in spec.forearm.slides:
        cls = root.default.add("default", dclass=f"{p}slide_{slide.name}")
        cls.joint.set_attributes(type="slide", damping=slide.damping, armature=0.0)
        pos = dict(kp=slide.kp)
        if slide.forcerange is not None:
            pos.update(forcerange=slide.forcerange, forcelimited="true")
        cls.position.set_attributes(**pos)
    c = spec.contacts
    finger = root.default.add("default", dclass=f"{p}finger_collision")
    finger.geom.set_attributes(type="capsule", contype=FINGER_CONTYPE,
                               conaffinity=FINGER_CONAFFINITY, friction=c.friction,
                               solref=c.solref, condim=3, group=0)
    visual = root.default.add("default", dclass=f"{p}visual")
    visual.geom.set_attributes(contype=0, conaffinity=0, group=1)


def _add_joint(body, joint: Joint, p: str) -> None:
    body.add("joint", name=f"{p}{joint.name}", dclass=f"{p}{joint.joint_class}",
             axis=joint.axis, range=np.radians(joint.range), ref=math.radians(joint.ref))


def _add_finger(palm, finger: Finger, spec: HandSpec, p: str) -> None:
    parent = palm
    pos = np.asarray(finger.base, float)
    quat = _quat(finger.rotation.axis, finger.rotation.angle) if finger.rotation else None
    tips_only = spec.contacts.fingers == "tips"
    rgba = FINGER_RGBA.get(finger.name, EXTRA_FINGER_RGBA)
    for i, link in enumerate(finger.links):
        fixed = np.array([1.0, 0, 0, 0])
        for joint in link.joints:
            if not joint.movable:  # a removed DoF: bake its angle into the body frame
                fixed = _qmul(fixed, _quat(joint.axis, joint.fixed_at))
        q = fixed if quat is None else _qmul(quat, fixed)
        body = parent.add("body", name=f"{p}{finger.name}_{i + 1}", pos=pos,
                          quat=q if not np.allclose(q, [1, 0, 0, 0]) else None)
        for joint in link.joints:
            if joint.movable:
                _add_joint(body, joint, p)
        last = i == len(finger.links) - 1
        collide = last or not tips_only
        body.add("geom", name=f"{p}{finger.name}_{i + 1}",
                 dclass=f"{p}finger_collision" if collide else f"{p}visual", type="capsule",
                 fromto=[0, 0, 0, -link.length, 0, 0], size=[link.radius],
                 rgba=SKIN_RGBA)
        if last:  # a coloured cap marks each finger in renders (same colours as the plots)
            body.add("geom", name=f"{p}{finger.name}_cap", dclass=f"{p}visual", type="sphere",
                     pos=[-link.length, 0, 0], size=[link.radius * 1.05], rgba=rgba, mass=0)
            body.add("site", name=f"{p}{finger.name}_tip", pos=[-link.length, 0, 0],
                     size=[link.radius * 0.5], rgba=rgba, group=4)
        parent, pos, quat = body, np.array([-link.length, 0.0, 0.0]), None


def _add_actuators_and_couplings(root, spec: HandSpec, p: str) -> None:
    for slide in spec.forearm.slides:
        root.actuator.add("position", name=f"{p}A_{slide.name}", joint=f"{p}{slide.name}",
                          dclass=f"{p}slide_{slide.name}", ctrlrange=slide.range,
                          ctrllimited="true")
    palm_joints = [j for j in spec.palm.joints if j.movable]
    chains = [palm_joints] + [[j for j in f.joints if j.movable] for f in spec.ordered_fingers()]
    for chain in chains:
        followers = {chain[i + 1].name for i, j in enumerate(chain[:-1]) if j.couple_next}
        for i, joint in enumerate(chain):
            if joint.actuated and joint.name not in followers:
                root.actuator.add("position", name=f"{p}A_{joint.name}", joint=f"{p}{joint.name}",
                                  dclass=f"{p}{joint.joint_class}",
                                  ctrlrange=np.radians(joint.range), ctrllimited="true")
            if joint.couple_next is not None:
                nxt = chain[i + 1]
                root.equality.add("joint", name=f"{p}couple_{nxt.name}", joint1=f"{p}{nxt.name}",
                                  joint2=f"{p}{joint.name}",
                                  polycoef=[0, joint.couple_next, 0, 0, 0])


def generate_right_hand(spec: HandSpec) -> mjcf.RootElement:
    p = "rh_"
    root = mjcf.RootElement(model=f"{p}{spec.name}")
    root.compiler.angle = "radian"
    _add_defaults(root, spec, p)
    fa = spec.forearm
    forearm = root.worldbody.add("body", name=f"{p}forearm", pos=[0, 0, 0])
    for slide in fa.slides:
        forearm.add("joint", name=f"{p}{slide.name}", dclass=f"{p}slide_{slide.name}",
                    axis=slide.axis, range=slide.range)
    forearm.add("geom", name=f"{p}forearm", dclass=f"{p}visual", type="capsule",
                fromto=[0.02, 0, 0, 0.02 + fa.length, 0, 0], size=[fa.radius], rgba=SKIN_RGBA,
                mass=fa.mass)
    pm = spec.palm
    palm = forearm.add("body", name=f"{p}palm", pos=pm.offset)
    for joint in pm.joints:
        if joint.movable:
            _add_joint(palm, joint, p)
    palm.add("geom", name=f"{p}palm", dclass=f"{p}visual", type="box",
             pos=[-pm.length / 2, 0, 0], size=[pm.length / 2, pm.width / 2, pm.thickness / 2],
             rgba=PALM_RGBA)
    for finger in spec.ordered_fingers():
        _add_finger(palm, finger, spec, p)
    _add_actuators_and_couplings(root, spec, p)
    if spec.gravity_compensation:
        for body in root.find_all("body"):
            body.gravcomp = 1
    return root


def build_hand(spec: HandSpec, side: Side = "right") -> mjcf.RootElement:
    """The PyMJCF model of one hand. Left hands are mirrors of the right hand's model."""
    from handspec.external import load_external
    from handspec.mirror import mirror_model

    side_prefix(side)
    if spec.mjcf is not None:
        return load_external(spec, side)
    right = generate_right_hand(spec)
    return right if side == "right" else mirror_model(right, "rh_", "lh_")
