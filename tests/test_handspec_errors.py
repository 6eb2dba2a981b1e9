"""Bad hand files: one clear line naming file and field, exit code 2, nothing written."""

import textwrap
from pathlib import Path

import pytest
import yaml

from handspec import InputError, load_hand
from training.cli import main

SHADOW = Path(__file__).resolve().parents[1] / "hands" / "shadow_five.yaml"


def _shadow_data() -> dict:
    return yaml.safe_load(SHADOW.read_text())


def _write(tmp_path: Path, data, name="hand.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _broken(tmp_path, mutate) -> Path:
    data = _shadow_data()
    mutate(data)
    return _write(tmp_path, data)


CASES = {
    "malformed_yaml": (lambda tmp: _write(tmp, "name: x\nfingers: [a, b\n"), "line"),
    "unknown_key": (lambda tmp: _broken(tmp, lambda d: d["palm"].update(colour="red")), "palm.colour"),
    "negative_length": (lambda tmp: _broken(
        tmp, lambda d: d["fingers"][1]["links"][0].update(length=-0.01)),
        "fingers[index].links[0].length"),
    "min_gt_max": (lambda tmp: _broken(
        tmp, lambda d: d["fingers"][2]["links"][0]["joints"][1].update(range=[90, -15])),
        "fingers[middle].links[0].joints[MFJ3].range"),
    "duplicate_finger": (lambda tmp: _broken(tmp, lambda d: d["fingers"].append(d["fingers"][1])),
                         "duplicate finger names: index"),
    "unknown_extends": (lambda tmp: _write(tmp, {"extends": "no_such_hand", "name": "x"}), "extends"),
    "remove_missing_finger": (lambda tmp: _write(
        tmp, {"extends": "shadow_five", "name": "x", "remove_fingers": ["pinky"]}), "remove_fingers"),
    "missing_mjcf_file": (lambda tmp: _write(tmp, {"name": "byo", "mjcf": {
        "file": "nowhere.xml", "tip_sites": {"index": "tip"}}}), "mjcf.file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_hand_file_gives_one_line_and_exit_2(case, tmp_path, capsys):
    make, expected = CASES[case]
    path = make(tmp_path)
    with pytest.raises(InputError) as err:
        load_hand(path)
    line = err.value.one_line()
    assert "\n" not in line and str(path) in line and expected in line
    for argv in (["hand", "validate", str(path)], ["hand", "info", str(path)],
                 ["hand", "export", str(path), "--out", str(tmp_path / "out")]):
        assert main(argv) == 2
        out = capsys.readouterr()
        lines = [ln for ln in out.err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
        assert "Traceback" not in out.err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_bad_cli_arguments_exit_2(capsys):
    assert main(["hand", "info"]) == 2
    assert main(["hand", "frobnicate"]) == 2
    assert main(["hand", "render", "shadow_five", "--width", "5"]) == 2
    assert main(["hand", "info", "no_such_hand"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") for line in err)
    assert "unknown hand 'no_such_hand'" in err[-1]


def test_render_rejects_non_png(tmp_path, capsys):
    assert main(["hand", "render", "shadow_five", "--out", str(tmp_path / "x.jpg")]) == 2
    assert "--out" in capsys.readouterr().err


def test_coupling_from_last_joint_is_rejected(tmp_path):
    path = _broken(tmp_path, lambda d: d["fingers"][1]["links"][2]["joints"][0].update(couple_next=1.0))
    with pytest.raises(InputError, match=r"fingers\[index\].*last joint"):
        load_hand(path)


def test_error_message_for_yaml_that_is_not_a_mapping(tmp_path):
    path = _write(tmp_path, textwrap.dedent("- just\n- a list\n"))
    with pytest.raises(InputError, match="mapping"):
        load_hand(path)
