"""Issue 15, datasets: tampering that verified "ok", corrupt HDF5 chunks, resuming into a
damaged file. Synthetic files from ``test_dataset``'s helpers (consistent by construction)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_dataset import make_episode, make_meta, write

from handspec.errors import InputError
from training.cli import main
from training.data import DemoFile, DemoLoader, DemoWriter, compute_stats, summarize, verify_file


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.h5"
    write(path, 5, T=8)
    assert verify_file(path).ok
    return path


def _problems(path: Path) -> list[str]:
    return [f"{where}: {msg}" for where, msg in verify_file(path).problems]


def _scale_rewards(f):
    """New rewards with a matching return: only the terms can tell."""
    g = f["data/demo_1"]
    g["rewards"][...] = g["rewards"][()] * 2
    g.attrs["return"] = float(np.sum(g["rewards"][()], dtype=np.float64))


def _overwrite_term(f):
    f["data/demo_2/reward_terms/press"][...] = 0.123


def _set(name, value):
    def tamper(f):
        f[name][...] = value
    return tamper


def _attr(group, key, value):
    return lambda f: f[group].attrs.__setitem__(key, value)


@pytest.mark.parametrize("tamper, expect", [
    (_scale_rewards, "demo_1/rewards: differ from reward_terms/total"),
    (_overwrite_term, "demo_2/reward_terms/total: is not the weighted sum"),
    (_set("data/demo_0/final_obs/fingertips", np.inf), "demo_0/final_obs/fingertips: holds NaN"),
    (_set("data/demo_3/reward_terms/press", np.nan), "demo_3/reward_terms/press: holds NaN"),
    (_attr("data", "env_args", "{not json"), "data.attrs.env_args: missing or not valid JSON"),
    (_attr("data", "env_args", json.dumps({"env_name": "x"})), "data.attrs.env_args: differs"),
    (_attr("data/demo_4", "return", float("inf")), "demo_4.attrs.return: is inf"),
    (_attr("data", "hand_spec", "{broken"), "data.attrs.hand_spec: not valid JSON"),
])
def test_verify_catches_tampering(good, tamper, expect):
    with h5py.File(good, "a") as f:
        tamper(f)
    problems = _problems(good)
    assert any(p.startswith(expect) for p in problems), problems


def test_tampered_goals_are_blamed_on_the_demo_that_differs(good):
    with h5py.File(good, "a") as f:
        goal = f["data/demo_0/obs/goal"]
        goal[...] = np.roll(goal[()], 1, axis=0)
    problems = _problems(good)
    assert problems and all(p.startswith("demo_0") for p in problems), problems  # not 1..4
    assert any(p.startswith("demo_0/obs/goal: differs from the goals of 4 other demo(s)")
               for p in problems)


def _flip_chunk(path: Path, dataset: str) -> None:
    """Flip bytes in the middle of a dataset's compressed chunk (a bad disk block)."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(0)
    with path.open("r+b") as handle:
        handle.seek(info.byte_offset + info.size // 2)
        handle.write(bytes(b ^ 0xFF for b in handle.read(8))[::-1])


def test_corrupt_chunk_is_one_line_everywhere(good, capfd):
    _flip_chunk(good, "data/demo_2/obs/fingertips")
    with DemoFile(good) as df:
        with pytest.raises(InputError) as err:
            df.episode(2)
        assert err.value.field == "demo_2/obs/fingertips" and "unreadable" in err.value.message
        df.episode(1)  # the other demos stay readable
    problems = _problems(good)
    assert len(problems) == 1 and problems[0].startswith("demo_2/obs/fingertips: unreadable")
    loader = DemoLoader([good])
    with pytest.raises(InputError):
        for _ in loader.iter_epoch(4):
            pass
    summarize(good)  # attributes only: still fine
    for argv in (["dataset", "verify", str(good)], ["dataset", "info", str(good)]):
        code = main(argv)
        out, err = capfd.readouterr()
        assert "Traceback" not in err
        assert code == (2 if argv[1] == "verify" else 0)
    _flip_chunk(good, "data/demo_0/obs/goal")
    with pytest.raises(InputError, match="demo_0/obs/goal"):
        compute_stats([good])
    assert main(["dataset", "stats", str(good), "--out", str(good.parent / "st")]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")


@pytest.mark.parametrize("damage", ["chunk", "rewards"])
def test_collect_refuses_to_resume_into_a_damaged_file(good, damage):
    if damage == "chunk":
        _flip_chunk(good, "data/demo_3/actions")
    else:
        with h5py.File(good, "a") as f:
            f["data/demo_3/rewards"][...] = 7.0
    before = good.read_bytes()
    with pytest.raises(InputError, match="cannot resume a damaged file"):
        with DemoWriter(good, make_meta(8)) as writer:
            writer.add(make_episode(np.random.default_rng(9), 8))
    assert good.read_bytes() == before  # nothing appended
    with DemoWriter(good, make_meta(8), overwrite=True) as writer:  # the way out it names
        writer.add(make_episode(np.random.default_rng(9), 8))
    assert verify_file(good).ok
