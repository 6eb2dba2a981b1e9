"""Adding a hand needs no Python: a new YAML, or an existing MJCF file ("bring your own")."""

import textwrap

import mujoco
import numpy as np
import pytest

from handspec import InputError, load_hand
from handspec.model import HandModel, compile_model, home_pose
from training.cli import main

NEW_HAND = textwrap.dedent("""\
    name: gripper_three
    description: three long fingers, no wrist
    joint_classes:
      finger: {kp: 4.0, damping: 0.1}
    forearm:
      mount: [0.28, 0.15, 0.08]
      slides:
        - {name: forearm_ty, axis: [0, 1, 0], range: [-0.4, 0.4]}
    palm: {length: 0.08, width: 0.07, thickness: 0.025}
    fingers:
      - name: thumb
        base: [-0.04, -0.03, -0.01]
        links:
          - {length: 0.05, radius: 0.01, joints: [{name: t1, axis: [0, -1, 0], range: [0, 90]}]}
      - name: index
        base: [-0.08, -0.015, 0]
        links:
          - {length: 0.06, radius: 0.009, joints: [{name: i1, axis: [0, -1, 0], range: [-10, 90]}]}
          - {length: 0.05, radius: 0.008, joints: [{name: i2, axis: [0, -1, 0], range: [0, 90]}]}
      - name: middle
        base: [-0.08, 0.015, 0]
        links:
          - {length: 0.06, radius: 0.009, joints: [{name: m1, axis: [0, -1, 0], range: [-10, 90]}]}
          - {length: 0.05, radius: 0.008, joints: [{name: m2, axis: [0, -1, 0], range: [0, 90]}]}
    """)


def test_new_yaml_validates_exports_and_compiles(tmp_path, capsys):
    path = tmp_path / "gripper_three.yaml"
    path.write_text(NEW_HAND)
    assert main(["hand", "validate", str(path)]) == 0
    assert "3 fingers, 6 actions per hand" in capsys.readouterr().out
    out = tmp_path / "export"
    assert main(["hand", "export", str(path), "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["gripper_three_scene.xml", "lh_gripper_three.xml", "rh_gripper_three.xml"]
    for name in files:
        model = mujoco.MjModel.from_xml_path(str(out / name))
        assert model.nsite == (6 if "scene" in name else 3) + (2 if "scene" in name else 0)
    # a hand next to it can extend it by name, found through PIANOHANDS_HANDS_PATH
    (tmp_path / "gripper_two.yaml").write_text(
        "extends: gripper_three\nname: gripper_two\nremove_fingers: [middle]\n")
    assert load_hand(tmp_path / "gripper_two.yaml").finger_names == ("thumb", "index")


def test_user_hand_found_by_name_on_search_path(tmp_path, monkeypatch):
    (tmp_path / "gripper_three.yaml").write_text(NEW_HAND)
    monkeypatch.setenv("PIANOHANDS_HANDS_PATH", str(tmp_path))
    assert load_hand("gripper_three").name == "gripper_three"


BYO_MJCF = textwrap.dedent("""\
    <mujoco model="tiny">
      <compiler angle="radian"/>
      <worldbody>
        <body name="base" pos="0 0 0">
          <joint name="slide_y" type="slide" axis="0 1 0" range="-0.3 0.3"/>
          <geom type="box" size="0.04 0.03 0.01"/>
          <body name="f1" pos="-0.04 -0.015 0" quat="0.9659258 0 0 0.258819">
            <joint name="f1_flex" axis="0 -1 0" range="0 1.5"/>
            <geom type="capsule" fromto="0 0 0 -0.05 0 0" size="0.008"/>
            <site name="f1_tip" pos="-0.05 0 0"/>
          </body>
          <body name="f2" pos="-0.04 0.015 0">
            <joint name="f2_flex" axis="0 -1 0" range="0 1.5"/>
            <geom type="capsule" fromto="0 0 0 -0.05 0 0" size="0.008"/>
            <site name="f2_tip" pos="-0.05 0 0"/>
          </body>
        </body>
      </worldbody>
      <actuator>
        <position name="a_slide" joint="slide_y" kp="100" ctrlrange="-0.3 0.3"/>
        <position name="a_f1" joint="f1_flex" kp="2" ctrlrange="0 1.5"/>
        <position name="a_f2" joint="f2_flex" kp="2" ctrlrange="0 1.5"/>
      </actuator>
    </mujoco>
    """)


def _byo(tmp_path, sites=("f1_tip", "f2_tip")):
    (tmp_path / "tiny.xml").write_text(BYO_MJCF)
    (tmp_path / "tiny.yaml").write_text(textwrap.dedent(f"""\
        name: tiny
        mjcf:
          file: tiny.xml
          tip_sites: {{thumb: {sites[0]}, index: {sites[1]}}}
          mount: [0.3, 0.15, 0.08]
        """))
    return tmp_path / "tiny.yaml"


def test_bring_your_own_mjcf_hand(tmp_path, capsys):
    spec = load_hand(_byo(tmp_path))
    right, left = HandModel.build(spec, "right"), HandModel.build(spec, "left")
    assert right.fingers == ("thumb", "index") and right.action_dim == 3
    tips = []
    for hand in (right, left):
        model = compile_model(hand.root)
        data = mujoco.MjData(model)
        home_pose(model, data)
        data.ctrl[:] = [0.1, 0.7, 0.2]
        for _ in range(100):
            mujoco.mj_step(model, data)
        tips.append(data.site_xpos.copy())
    np.testing.assert_allclose(tips[1], tips[0] * [1, -1, 1], atol=1e-6)  # mirrored left hand
    assert main(["hand", "export", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "o")]) == 0


def test_bring_your_own_with_unknown_site_names_the_field(tmp_path):
    with pytest.raises(InputError, match=r"mjcf\.tip_sites\.index.*no site named 'nope'"):
        HandModel.build(load_hand(_byo(tmp_path, sites=("f1_tip", "nope"))), "right")


def test_render_writes_a_picture(tmp_path, needs_gl):
    import imageio.v3 as iio

    out = tmp_path / "hand.png"
    assert main(["hand", "render", "shadow_five", "--out", str(out), "--width", "320",
                 "--height", "240"]) == 0
    image = iio.imread(out)
    assert image.shape == (240, 320, 3)
    assert image.std() > 10  # not a blank frame
