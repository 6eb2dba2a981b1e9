"""Shipped hands compile, mirror, and have the action dimensions their specs promise."""

import mujoco
import numpy as np
import pytest

from handspec import available_hands, load_hand
from handspec.model import HandModel, compile_model, home_pose
from handspec.reach import finger_reach

SHIPPED = ["shadow_five", "shadow_four", "allegro_like", "leap_like"]


def test_all_shipped_hands_are_listed():
    assert set(SHIPPED) <= set(available_hands())


@pytest.mark.parametrize("name", SHIPPED)
def test_hand_compiles_and_steps_without_warnings(name):
    spec = load_hand(name)
    for side in ("right", "left"):
        hand = HandModel.build(spec, side)
        model = compile_model(hand.root)
        data = mujoco.MjData(model)
        home_pose(model, data)
        rng = np.random.default_rng(0)
        for _ in range(200):
            data.ctrl[:] = rng.uniform(model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1])
            mujoco.mj_step(model, data)
        assert np.isfinite(data.qpos).all()
        assert sum(w.number for w in data.warning) == 0
        assert model.nsite == len(spec.finger_names)  # one tip site per finger
        prefix = "rh_" if side == "right" else "lh_"
        for finger in spec.finger_names:
            assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, f"{prefix}{finger}_tip") >= 0


def test_action_dims_follow_the_spec():
    five = HandModel.build(load_hand("shadow_five"))
    four = HandModel.build(load_hand("shadow_four"))
    assert five.action_dim == 19  # RP1M: 19 per hand, 39 with two hands and sustain
    assert len(five.joints) == 23  # hand state 46 for two hands
    assert four.action_dim == 16 < five.action_dim
    assert four.fingers == ("thumb", "index", "middle", "ring")
    assert HandModel.build(load_hand("allegro_like")).action_dim == 18  # 16 joints + 2 slides


def _tips_after(hand: HandModel, ctrl_seq: np.ndarray) -> np.ndarray:
    model = compile_model(hand.root)
    data = mujoco.MjData(model)
    home_pose(model, data)
    for ctrl in ctrl_seq:
        data.ctrl[:] = ctrl
        mujoco.mj_step(model, data)
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, s.name) for s in hand.tip_sites]
    return data.site_xpos[ids].copy()


@pytest.mark.parametrize("name", SHIPPED)
def test_left_hand_mirrors_right_hand_in_motion(name):
    spec = load_hand(name)
    right, left = HandModel.build(spec, "right"), HandModel.build(spec, "left")
    model = compile_model(right.root)
    rng = np.random.default_rng(1)
    ctrl = rng.uniform(model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1], (60, model.nu))
    # The same command moves the left hand as the exact mirror image (the keyboard slide
    # flips with the mirror too: a positive command moves each hand outward).
    tips_r = _tips_after(right, ctrl)
    tips_l = _tips_after(left, ctrl)
    mirror = np.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(tips_l, tips_r * mirror, atol=1e-6)
    np.testing.assert_allclose(left.mount, right.mount * mirror)


def test_derived_hand_drops_the_little_finger_only():
    five, four = load_hand("shadow_five"), load_hand("shadow_four")
    assert [f.name for f in four.fingers] == [f.name for f in five.fingers if f.name != "little"]
    assert four.palm == five.palm and four.forearm == five.forearm


def test_finger_reach_is_plausible_for_shadow():
    reach = finger_reach(load_hand("shadow_five"))
    assert reach.fingers == ("thumb", "index", "middle", "ring", "little")
    assert np.allclose(reach.max_span, reach.max_span.T) and np.all(np.diag(reach.max_span) == 0)
    # neighbouring fingertips rest ~22 mm apart (Shadow knuckle spacing)
    np.testing.assert_allclose(np.diff(reach.rest_tips[1:, 1]), 0.022, atol=0.002)
    assert 0.12 < reach.max_span[0, 4] < 0.30  # thumb to little: about an octave and more
    left = reach.mirrored()
    np.testing.assert_allclose(left.rest_tips[:, 1], -reach.rest_tips[:, 1])


def test_scene_keeps_joint_ranges_in_radians():
    from handspec.scene import hands_scene

    spec = load_hand("shadow_five")
    arena, (right, _) = hands_scene(spec)
    model = compile_model(arena)
    alone = compile_model(right.root)
    jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "rh_shadow_five/rh_FFJ3")
    np.testing.assert_allclose(model.jnt_range[jid], alone.jnt_range[alone.joint("rh_FFJ3").id])
    np.testing.assert_allclose(model.jnt_range[jid], np.radians([-15, 90]))
