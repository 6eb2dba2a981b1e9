"""Place a pair of hands (right + its mirror) into an arena, and render a preview.

``attach_hands`` is shared by the hand preview scene here and by the piano scene in
``pianoenv``: hands are mounted at the spec's mount point (left at its mirror), and the
forearms/palms of the two hands get explicit contact pairs so that only hand-hand
collisions are checked between them (cheap, and exactly what the collision penalty needs).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from dm_control import mjcf

from handspec.atomic import atomic_output
from handspec.model import HandModel
from handspec.spec import HandSpec


def attach_hands(arena: mjcf.RootElement, spec: HandSpec) -> tuple[HandModel, HandModel]:
    # PyMJCF ignores an attached model's <compiler>: hands are written in radians, so the
    # arena must be too, or every joint range would be read as degrees.
    arena.compiler.angle = "radian"
    hands = (HandModel.build(spec, "right"), HandModel.build(spec, "left"))
    for hand in hands:
        site = arena.worldbody.add("site", name=f"{hand.prefix}mount", pos=hand.mount,
                                   size=[0.001], group=5)
        site.attach(hand.root)
    right, left = hands
    for g1 in right.collision_geoms:
        for g2 in left.collision_geoms:
            arena.contact.add("pair", geom1=g1, geom2=g2, condim=1)
    return right, left


def hands_scene(spec: HandSpec) -> tuple[mjcf.RootElement, tuple[HandModel, HandModel]]:
    """Both hands over a floor with lights and a camera: the 'hand export' scene."""
    arena = mjcf.RootElement(model=f"{spec.name}_scene")
    arena.option.timestep = 0.005
    arena.visual.headlight.set_attributes(ambient=[0.35] * 3, diffuse=[0.6] * 3, specular=[0.1] * 3)
    arena.visual.get_children("global").set_attributes(offwidth=1920, offheight=1080)
    arena.asset.add("texture", name="grid", type="2d", builtin="checker", width=512, height=512,
                    rgb1=[0.42, 0.45, 0.50], rgb2=[0.36, 0.39, 0.44])
    arena.asset.add("texture", name="sky", type="skybox", builtin="gradient",
                    rgb1=[0.55, 0.65, 0.8], rgb2=[0.1, 0.12, 0.16], width=256, height=256)
    arena.asset.add("material", name="grid", texture="grid", texrepeat=[8, 8], reflectance=0.05)
    arena.worldbody.add("geom", name="floor", type="plane", size=[1, 1, 0.05], material="grid",
                        contype=0, conaffinity=0)
    arena.worldbody.add("light", name="key_light", pos=[0.3, 0, 1.2], dir=[-0.2, 0, -1],
                        directional="true", castshadow="true")
    hands = attach_hands(arena, spec)
    center = (hands[0].mount + hands[1].mount) / 2 - np.array([0.12, 0, 0])
    arena.worldbody.add("camera", name="three_quarter", mode="fixed",
                        pos=center + np.array([0.42, -0.30, 0.40]),
                        xyaxes=look_at(center + np.array([0.42, -0.30, 0.40]), center))
    return arena, hands


def look_at(eye: np.ndarray, target: np.ndarray) -> list[float]:
    """MJCF ``xyaxes`` of a camera at ``eye`` looking at ``target`` with z up."""
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return [*right, *up]


def render_png(root: mjcf.RootElement, out: str | Path, *, camera: str | int = 0,
               width: int = 960, height: int = 640) -> Path:
    """Render one frame offscreen (MUJOCO_GL=egl/osmesa) and write a PNG atomically."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    import imageio.v3 as iio
    import mujoco

    from handspec.model import compile_model, home_pose

    model = compile_model(root)
    data = mujoco.MjData(model)
    home_pose(model, data)
    with mujoco.Renderer(model, height=height, width=width) as renderer:
        renderer.update_scene(data, camera=camera)
        pixels = renderer.render()
    out = Path(out)
    with atomic_output(out) as tmp:
        iio.imwrite(tmp, pixels)
    return out
