"""Issue 15, hands as data: implausible values, hostile YAML, per-link ``extends``
overrides, ``scale``, extra fingers, frozen specs and the README's three-finger gripper."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from handspec.errors import InputError
from handspec.load import (MAX_FILE_BYTES, freeze_spec, load_frozen, load_hand, spec_hash,
                           validate_hand_data, write_frozen)
from handspec.model import HandModel, compile_model
from handspec.spec import finger_number

ROOT = Path(__file__).resolve().parents[1]
SHADOW = yaml.safe_load((ROOT / "hands" / "shadow_five.yaml").read_text())


def _shadow() -> dict:
    return copy.deepcopy(SHADOW)


def _joint(d: dict) -> dict:
    return d["fingers"][1]["links"][0]["joints"][0]


@pytest.mark.parametrize("tamper, field", [
    (lambda d: d["forearm"].__setitem__("mount", [1e308, 0.1, 0.1]), "forearm.mount"),
    (lambda d: d["forearm"].__setitem__("mount", [0.3, 0.1, 3.0]), "forearm.mount"),
    (lambda d: _joint(d).__setitem__("range", [0, 1e308]), ".range"),
    (lambda d: _joint(d).__setitem__("range", [-720, 0]), ".range"),
    (lambda d: d["joint_classes"]["finger"].__setitem__("kp", 1e308), "joint_classes.finger.kp"),
    (lambda d: d["joint_classes"]["finger"].__setitem__("damping", 1e9), "damping"),
    (lambda d: _joint(d).__setitem__("couple_next", 1e308), "couple_next"),
    (lambda d: d["fingers"][1]["links"][0].__setitem__("length", True), ".length"),
    (lambda d: d["fingers"][1]["links"][0].__setitem__("length", 2.0), ".length"),
    (lambda d: d["fingers"][1]["links"][0].__setitem__("radius", float("nan")), ".radius"),
    (lambda d: d["palm"].__setitem__("width", float("inf")), "palm.width"),
    (lambda d: d["forearm"]["slides"][0].__setitem__("range", [-50, 50]), "slides"),
    (lambda d: d["forearm"].__setitem__("mass", 1e6), "forearm.mass"),
    (lambda d: d["fingers"][1].__setitem__("base", [5, 0, 0]), ".base"),
    (lambda d: d.__setitem__("fingers", [dict(d["fingers"][1], name=f"f{i}")
                                         for i in range(11)]), "fingers"),
])
def test_implausible_values_are_rejected(tamper, field):
    data = _shadow()
    tamper(data)
    with pytest.raises(InputError) as err:
        validate_hand_data(data, "bad.yaml")
    assert field in err.value.one_line() and "bad.yaml" in err.value.one_line()


@pytest.mark.parametrize("text, message", [
    ("extends: shadow_five\nname: a\nname: b\n", "duplicate key 'name'"),
    ("name: x\nforearm: {mount: [" + "9" * 5000 + ", 0, 0]}\n", "integer with 5000 digits"),
    ("name: " + "[" * 100_000 + "\n", "nested deeper than"),
    ("name: x\n" + "#" * (MAX_FILE_BYTES + 10) + "\n", "a hand file may be at most"),
    ("\xff\xfe", "cannot read"),
])
def test_hostile_yaml_is_one_input_error(tmp_path, text, message):
    path = tmp_path / "h.yaml"
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    with pytest.raises(InputError) as err:
        load_hand(path)
    assert message in err.value.one_line() and str(path) in err.value.one_line()


def _derived(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "child.yaml"
    path.write_text("extends: shadow_five\nname: child\n" + body)
    return path


def test_extends_link_override_keeps_the_joints(tmp_path):
    parent = load_hand("shadow_five")
    index = next(f for f in parent.fingers if f.name == "index")
    lengths = "".join(f"      - {{length: {link.length * 1.5:.4f}}}\n" for link in index.links)
    child = load_hand(_derived(tmp_path, f"fingers:\n  - name: index\n    links:\n{lengths}"))
    new = next(f for f in child.fingers if f.name == "index")
    assert [j.name for j in new.joints] == [j.name for j in index.joints]  # nothing dropped
    assert [link.length for link in new.links] == pytest.approx(
        [round(link.length * 1.5, 4) for link in index.links])
    assert HandModel.build(child).action_dim == HandModel.build(parent).action_dim == 19


def test_extends_joint_override_merges_by_name(tmp_path):
    index = next(f for f in load_hand("shadow_five").fingers if f.name == "index")
    first = index.joints[0].name
    body = (f"fingers:\n  - name: index\n    links:\n      - {{joints: [{{name: {first}, "
            f"range: [-5, 5]}}]}}\n" + "\n".join("      - {}" for _ in index.links[1:]) + "\n")
    child = load_hand(_derived(tmp_path, body))
    joint = next(f for f in child.fingers if f.name == "index").joints[0]
    assert joint.name == first and joint.range == (-5, 5)


def test_extends_partial_link_list_is_rejected(tmp_path):
    path = _derived(tmp_path, "fingers:\n  - name: index\n    links:\n      - {length: 0.05}\n")
    with pytest.raises(InputError, match="give one entry per link") as err:
        load_hand(path)
    assert err.value.field == "fingers[index].links"


def test_scale_makes_fingers_longer_and_reach_wider(tmp_path):
    from handspec.reach import finger_reach

    base = load_hand("shadow_five")
    longer = load_hand(_derived(tmp_path, "scale: {finger_length: 1.3}\n"))
    for a, b in zip(base.fingers, longer.fingers):
        assert [link.length * 1.3 for link in a.links] == pytest.approx(
            [link.length for link in b.links], abs=1e-9)
        assert a.base == b.base
    assert finger_reach(longer, samples=512).max_span.max() > \
        finger_reach(base, samples=512).max_span.max()
    whole = load_hand(_derived(tmp_path, "scale: 1.1\n"))
    assert whole.palm.width == pytest.approx(base.palm.width * 1.1)
    one = load_hand(_derived(tmp_path, "scale: {fingers: {little: 0.8}}\n"))
    little = [f for f in one.fingers if f.name == "little"][0]
    assert little.links[0].length == pytest.approx(
        [f for f in base.fingers if f.name == "little"][0].links[0].length * 0.8)


@pytest.mark.parametrize("scale, field", [("100", "scale.hand"), ("{hand: .nan}", "scale.hand"),
                                          ("{fingers: {sixth: 1.2}}", "scale.fingers"),
                                          ("{size: 2}", "scale"), ("true", "scale")])
def test_bad_scale(tmp_path, scale, field):
    with pytest.raises(InputError) as err:
        load_hand(_derived(tmp_path, f"scale: {scale}\n"))
    assert err.value.field == field


def _six_fingers(first: bool = False) -> dict:
    """shadow_five plus a copy of the little finger 2 cm further out, named "sixth"."""
    data = _shadow()
    extra = copy.deepcopy(next(f for f in data["fingers"] if f["name"] == "little"))
    extra["name"] = "sixth"
    extra["base"] = [extra["base"][0], extra["base"][1] + 0.02, extra["base"][2]]
    for link in extra["links"]:
        for joint in link["joints"]:
            joint["name"] = "X" + joint["name"]
    data["fingers"].insert(0 if first else len(data["fingers"]), extra)
    data["name"] = "six"
    return data


def test_a_sixth_finger(tmp_path):
    """An extra finger after the five canonical ones: built, compiled, numbered 6."""
    spec = validate_hand_data(_six_fingers(first=True))  # declared first, ordered after the five
    assert spec.finger_names == ("thumb", "index", "middle", "ring", "little", "sixth")
    assert [finger_number(n, spec.finger_names) for n in spec.finger_names] == [1, 2, 3, 4, 5, 6]
    right = HandModel.build(spec)
    assert right.fingers[-1] == "sixth" and right.tip_sites[-1].name == "rh_sixth_tip"
    model = compile_model(HandModel.build(spec, "left").root)
    assert model.nsite == 6


def test_frozen_spec_round_trip_and_tampering(tmp_path):
    spec = load_hand("shadow_four")
    path = write_frozen(spec, tmp_path / "hand.json")
    again = load_frozen(path)
    assert again == spec and spec_hash(again) == spec_hash(spec)
    assert load_hand(path) == spec  # load_hand takes a frozen .json too
    doc = json.loads(path.read_text())
    doc["spec_json"] = doc["spec_json"].replace('"kp":3.0', '"kp":30.0')
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="the file was edited"):
        load_frozen(tmp_path / "edited.json")
    (tmp_path / "junk.json").write_text("[1, 2")
    with pytest.raises(InputError, match="not valid JSON"):
        load_frozen(tmp_path / "junk.json")
    assert json.loads(freeze_spec(spec))["hash"] == spec_hash(spec)


def test_readme_gripper_three_has_three_fingers(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n# my_hands/gripper_three.yaml\n(.*?)```", readme, re.S).group(1)
    path = tmp_path / "gripper_three.yaml"
    path.write_text(block)
    spec = load_hand(path)
    assert spec.name == "gripper_three" and len(spec.finger_names) == 3
    compile_model(HandModel.build(spec).root)
    # the copy the cross-embodiment experiment plays (docs/results.md) is the README's hand
    assert (ROOT / "examples" / "hands" / "gripper_three.yaml").read_text() == block


def test_a_sixth_finger_plays_with_the_kinematic_pianist(tmp_path):
    """The extra finger gets its own number in the annotator's output and the pianist
    plays with the hand: no canonical-names-only lookup on the way."""
    from fingering.annotate import finger_numbers
    from handspec.reach import finger_reach
    from pianoenv.env import PianoEnv
    from pianoenv.episode import run_episode
    from pianoenv.policy import make_policy
    from pianoenv.songs import load_goals

    spec = validate_hand_data(_six_fingers())
    assert finger_numbers(finger_reach(spec)) == (1, 2, 3, 4, 5, 6)
    env = PianoEnv(load_goals("demo_short").head(40), spec)
    result = run_episode(env, make_policy("ik", env))
    assert result.length == 40 and result.metrics["f1"] > 0.3
    env.close()
