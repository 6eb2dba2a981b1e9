"""benchmarks/learn_bench.py's bookkeeping: merging invocations (and its refusals), the
reference lines (random policy, each residual arm's base policy alone)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "learn_bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("learn_bench", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invocation(folder: Path, seed: int, curve: list[tuple[int, float, float]], *,
               hand: str = "shadow_five", refs: dict[str, float] | None = None) -> Path:
    """A finished --out folder of one residual-ik seed: curve = (step, seconds, F1) rows."""
    folder.mkdir(parents=True)
    args = {"song": "chorale:0", "hand": hand, "fingering": "ot", "env_arg": "[]",
            "budget_min": "120.0"}
    summary = {"args": args, "random_f1": 0.05,
               "arms": {"residual-ik": {"seeds": [seed], "steps": [curve[-1][0]],
                                        "wall_s": [curve[-1][1]]}}}
    if refs is not None:
        summary["policy_alone_f1"] = refs
    (folder / "summary.json").write_text(json.dumps(summary))
    rows = [f"residual-ik,{seed},{s},{t},{f}" for s, t, f in curve]
    (folder / "curves.csv").write_text("arm,seed,step,seconds,f1\n" + "\n".join(rows) + "\n")
    return folder


REFS = {"random": 0.05, "ik": 0.7}


def test_merge_puts_seeds_of_separate_invocations_in_one_table(bench, tmp_path):
    a = invocation(tmp_path / "a", 0, [(0, 10, 0.66), (4000, 600, 0.5), (8000, 1200, 0.8)],
                   refs=REFS)
    b = invocation(tmp_path / "b", 1, [(0, 10, 0.65), (4000, 900, 0.76)], refs=REFS)
    assert bench.main(["--merge", str(a), str(b), "--out", str(tmp_path / "m")]) == 0
    merged = json.loads((tmp_path / "m" / "summary.json").read_text())
    row = merged["arms"]["residual-ik"]
    assert row["seeds"] == [0, 1] and row["steps"] == [8000, 4000]
    assert row["minutes_to_0.75"] == [20.0, 15.0] and row["steps_to_0.75"] == [8000, 4000]
    assert row["final_f1"] == [0.8, 0.76] and row["best_f1"] == [0.8, 0.76]
    assert merged["policy_alone_f1"] == REFS and merged["merged"] == [str(a), str(b)]
    assert (tmp_path / "m" / "learn_curves.png").stat().st_size > 10_000


@pytest.mark.parametrize("case, message", [
    ("same seed", "seed 0 is in two of the folders"),
    ("other hand", "differ in --hand"),
    ("missing", "no summary.json and curves.csv"),
    ("a merge", "is itself a merge"),
])
def test_merge_refuses_what_does_not_belong_together(bench, tmp_path, case, message):
    a = invocation(tmp_path / "a", 0, [(0, 10, 0.66)], refs=REFS)
    if case == "same seed":
        b = invocation(tmp_path / "b", 0, [(0, 10, 0.6)], refs=REFS)
    elif case == "other hand":
        b = invocation(tmp_path / "b", 1, [(0, 10, 0.6)], hand="shadow_four", refs=REFS)
    elif case == "missing":
        b = tmp_path / "b"
    else:
        assert bench.main(["--merge", str(a), "--out", str(tmp_path / "b")]) == 0
        b = tmp_path / "b"
    with pytest.raises(SystemExit, match=message):
        bench.main(["--merge", str(a), str(b), "--out", str(tmp_path / "m")])
    assert not (tmp_path / "m").exists()  # nothing written


def test_references_are_the_random_policy_and_each_base_policy_alone(bench):
    refs = bench.references("demo_short", "shadow_five", {"max_steps": 40},
                            ["droq", "residual-ik", "residual-ik-zero"])
    assert set(refs) == {"random", "ik"}
    assert 0.0 <= refs["random"] < refs["ik"] <= 1.0
    assert set(bench.references("demo_short", "shadow_five", {"max_steps": 40},
                                ["droq"])) == {"random"}
