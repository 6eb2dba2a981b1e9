"""The generated piano: structure, geometry from fingering.keyboard, and key dynamics."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from fingering import keyboard
from pianoenv import piano


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    root = piano.build_piano()
    return mujoco.MjModel.from_xml_string(root.to_xml_string(), root.get_assets())


def _joint_ids(model: mujoco.MjModel) -> np.ndarray:
    return np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, f"key_{k}")
                     for k in range(88)])


def test_structure_names_and_counts(model):
    root = piano.build_piano()
    assert root.model == "piano"
    assert model.njnt == 88 and model.nq == 88
    for kind, prefix in ((mujoco.mjtObj.mjOBJ_BODY, "key_"), (mujoco.mjtObj.mjOBJ_JOINT, "key_"),
                         (mujoco.mjtObj.mjOBJ_GEOM, "key_"), (mujoco.mjtObj.mjOBJ_SITE, "key_press_")):
        ids = [mujoco.mj_name2id(model, kind, f"{prefix}{k}") for k in range(88)]
        assert min(ids) >= 0, kind
    # joints are in key order, so qpos[k] is key k
    np.testing.assert_array_equal(_joint_ids(model), np.arange(88))
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "base") >= 0


def test_black_and_white_classes(model):
    root = piano.build_piano()
    classes = [root.find("body", f"key_{k}").childclass.dclass for k in range(88)]
    assert classes.count("black_key") == 36 and classes.count("white_key") == 52
    np.testing.assert_array_equal(np.array(classes) == "black_key", keyboard.black_mask())
    masses = model.body_mass[1:][-88:]  # world, base, then keys in order
    np.testing.assert_allclose(masses, np.where(keyboard.black_mask(), 0.02, 0.04))


def test_geometry_matches_keyboard_module(model):
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    sites = np.array([data.site(f"key_press_{k}").xpos for k in range(88)])
    np.testing.assert_allclose(sites, keyboard.key_press_points(), atol=1e-9)
    geoms = np.array([data.geom(f"key_{k}").xpos for k in range(88)])
    np.testing.assert_allclose(geoms, keyboard.key_centers(), atol=1e-9)
    # outer edges of A0 and C8 white keys
    span = geoms[87, 1] - geoms[0, 1] + keyboard.WHITE_WIDTH
    assert span == pytest.approx(1.22, abs=0.005)
    assert span == pytest.approx(keyboard.keyboard_width())


def test_released_key_rings_out_without_touching_its_rest_stop(model):
    """A key let go from full travel returns to rest with no limit constraint ever active
    (a stop *at* rest would hold an active limit row for the rest of the episode)."""
    data = mujoco.MjData(model)
    for k in (39, 40):  # a white and a black key
        mujoco.mj_resetData(model, data)
        data.qpos[k] = piano.KEY_TRAVEL[k]
        active, lowest = 0, 0.0
        for _ in range(300):  # 1.5 s
            mujoco.mj_step(model, data)
            active += data.nl
            lowest = min(lowest, data.qpos[k])
        assert active == 0
        assert -piano.KEY_REST_CLEARANCE < lowest < 0.0  # it does overshoot, within the gap
        assert abs(data.qpos[k]) < 1e-3 * piano.KEY_TRAVEL[k]  # and settles at rest
        assert piano.normalize_key_state(data.qpos[:88]).min() == 0.0


def test_joint_ranges_springs_and_contacts(model):
    np.testing.assert_allclose(model.jnt_range[:, 0], -piano.KEY_REST_CLEARANCE)
    np.testing.assert_allclose(model.jnt_range[:, 1], piano.KEY_TRAVEL)
    assert piano.KEY_TRAVEL[~keyboard.black_mask()][0] == pytest.approx(0.0666, abs=1e-4)
    assert piano.KEY_TRAVEL[keyboard.black_mask()][0] == pytest.approx(0.0887, abs=1e-4)
    assert model.jnt_limited.all()
    np.testing.assert_allclose(model.jnt_stiffness, 2.0)
    np.testing.assert_allclose(model.qpos_spring, 0.0)  # counterbalanced keys rest at 0
    assert (model.body_gravcomp[model.jnt_bodyid] == 1).all()
    np.testing.assert_allclose(model.dof_damping, 0.05)
    np.testing.assert_allclose(model.dof_armature, 0.001)
    keys = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"key_{k}") for k in range(88)]
    assert (model.geom_contype[keys] == 0).all() and (model.geom_conaffinity[keys] == 1).all()
    base = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "base")
    assert model.geom_contype[base] == 0 and model.geom_conaffinity[base] == 0


def test_positive_angle_pushes_the_front_down(model):
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    before = data.site("key_press_39").xpos.copy()
    data.qpos[39] = piano.KEY_TRAVEL[39]
    mujoco.mj_forward(model, data)
    after = data.site("key_press_39").xpos
    # rotate the hinge->site vector (d, 0, h/2) by the travel about +y: the front drops
    d, half_h, theta = (keyboard.WHITE_PRESS_X + keyboard.WHITE_LENGTH / 2,
                        keyboard.WHITE_HEIGHT / 2, piano.KEY_TRAVEL[39])
    drop = d * np.sin(theta) + half_h * (1 - np.cos(theta))
    assert before[2] - after[2] == pytest.approx(drop, rel=1e-9)
    assert drop == pytest.approx(0.008, abs=1e-4)


def test_thresholds_and_normalization():
    np.testing.assert_allclose(piano.PRESSED_THRESHOLD,
                               1 - np.deg2rad(0.5) / piano.KEY_TRAVEL)
    assert 0.85 < piano.PRESSED_THRESHOLD.min() < piano.PRESSED_THRESHOLD.max() < 0.95
    q = np.stack([-0.01 * np.ones(88), piano.KEY_TRAVEL * 1.1, piano.KEY_TRAVEL * 0.5])
    state = piano.normalize_key_state(q)
    np.testing.assert_allclose(state, [[0.0] * 88, [1.0] * 88, [0.5] * 88])
    just_pressed = piano.KEY_TRAVEL - np.deg2rad(0.49)
    not_pressed = piano.KEY_TRAVEL - np.deg2rad(0.51)
    assert piano.pressed_keys(just_pressed).all() and not piano.pressed_keys(not_pressed).any()


def test_keys_rest_up_press_fully_and_spring_back(model):
    data = mujoco.MjData(model)
    dt = model.opt.timestep
    for _ in range(int(0.3 / dt)):
        mujoco.mj_step(model, data)
    # at rest: all keys up, none pressed (gravity is weaker than the preloaded spring)
    assert piano.normalize_key_state(data.qpos).max() < 0.02
    assert not piano.pressed_keys(data.qpos).any()

    pushed = [0, 1, 39, 40, 87]  # white and black keys at both ends and the middle
    for _ in range(int(0.2 / dt)):
        data.qfrc_applied[:] = 0.0
        data.qfrc_applied[pushed] = 0.5  # Nm: a firm finger at the key front (~3.5 N)
        mujoco.mj_step(model, data)
    state = piano.normalize_key_state(data.qpos)
    np.testing.assert_allclose(state[pushed], 1.0, atol=0.02)
    pressed = piano.pressed_keys(data.qpos)
    assert pressed[pushed].all() and pressed.sum() == len(pushed)

    data.qfrc_applied[:] = 0.0
    for _ in range(int(0.5 / dt)):
        mujoco.mj_step(model, data)
    assert piano.normalize_key_state(data.qpos).max() < 0.05
    assert not piano.pressed_keys(data.qpos).any()


def test_resting_keys_need_no_constraints(model):
    """Counterbalanced keys stay at rest without leaning on their joint limits (speed)."""
    data = mujoco.MjData(model)
    mujoco.mj_step(model, data, nstep=200)
    np.testing.assert_allclose(data.qpos, 0.0, atol=1e-12)
    assert data.nefc == 0
