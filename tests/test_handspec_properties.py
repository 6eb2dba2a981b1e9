"""Property tests: any valid spec compiles and steps; any broken field is named."""

import mujoco
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handspec import InputError
from handspec.load import validate_hand_data
from handspec.model import HandModel, compile_model, home_pose

AXES = [[0, 0, 1], [0, -1, 0], [1, 0, 0], [0, 1, 0]]
FINGERS = ["thumb", "index", "middle", "ring", "little"]


@st.composite
def joint_st(draw, name):
    lo = draw(st.floats(-80, 40))
    hi = draw(st.floats(lo + 1, lo + 120))
    joint = {"name": name, "axis": draw(st.sampled_from(AXES)), "range": [lo, hi]}
    if draw(st.booleans()) and lo <= 0 <= hi:
        joint["fixed_at"] = 0.0
    elif draw(st.integers(0, 4)) == 0:
        joint["actuated"] = False
    return joint


@st.composite
def hand_st(draw):
    names = draw(st.lists(st.sampled_from(FINGERS), min_size=1, max_size=5, unique=True))
    fingers = []
    for i, fname in enumerate(names):
        links = []
        for li in range(draw(st.integers(1, 3))):
            joints = [draw(joint_st(f"{fname}{li}{k}")) for k in range(draw(st.integers(0, 2)))]
            links.append({"length": draw(st.floats(0.01, 0.06)),
                          "radius": draw(st.floats(0.004, 0.012)), "joints": joints})
        fingers.append({"name": fname, "base": [-0.1, -0.04 + 0.02 * i, 0.0], "links": links})
    slides = [{"name": "ty", "axis": [0, 1, 0], "range": [-0.3, 0.3]}][: draw(st.integers(0, 1))]
    return {
        "name": "random_hand",
        "joint_classes": {"finger": {"kp": draw(st.floats(0.5, 10)),
                                     "damping": draw(st.floats(0.01, 1.0))}},
        "forearm": {"mount": [0.3, 0.15, 0.08], "slides": slides},
        "palm": {"length": draw(st.floats(0.05, 0.15)), "width": draw(st.floats(0.04, 0.12)),
                 "thickness": 0.02},
        "fingers": fingers,
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hand_st(), st.integers(0, 2**31 - 1))
def test_random_valid_specs_compile_and_survive_random_control(data, seed):
    spec = validate_hand_data(data)
    for side in ("right", "left"):
        hand = HandModel.build(spec, side)
        model = compile_model(hand.root)
        assert model.nsite == len(data["fingers"])
        data_ = mujoco.MjData(model)
        home_pose(model, data_)
        rng = np.random.default_rng(seed)
        lo, hi = model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1]
        for _ in range(200):
            if model.nu:
                data_.ctrl[:] = rng.uniform(lo, hi)
            mujoco.mj_step(model, data_)
        assert np.isfinite(data_.qpos).all() and np.isfinite(data_.qvel).all()


BREAKERS = [
    (lambda d: d["palm"].__setitem__("length", -0.1), "palm.length"),
    (lambda d: d["palm"].__setitem__("texture", 3), "palm.texture"),
    (lambda d: d["fingers"][0]["links"][0].__setitem__("radius", 0.0), "links[0].radius"),
    (lambda d: d["fingers"][0].__setitem__("name", "6th finger"), ".name"),
    (lambda d: d["forearm"].__setitem__("mount", [0, 0]), "forearm.mount"),
    (lambda d: d.__setitem__("name", "has space"), "name"),
    (lambda d: d["joint_classes"]["finger"].__setitem__("kp", -1), "joint_classes.finger.kp"),
    (lambda d: d["fingers"].append(dict(d["fingers"][0])), "duplicate finger"),
]


@settings(max_examples=30, deadline=None)
@given(hand_st(), st.sampled_from(range(len(BREAKERS))))
def test_random_invalid_specs_name_the_field(data, which):
    breaker, field = BREAKERS[which]
    breaker(data)
    with pytest.raises(InputError) as err:
        validate_hand_data(data, "random.yaml")
    assert field in err.value.one_line() and "random.yaml" in err.value.one_line()
