"""fingering/ works on plain arrays: importing it pulls in no simulator and no heavy stack."""

from __future__ import annotations

import subprocess
import sys

MODULES = ["fingering.costs", "fingering.solvers", "fingering.reward", "fingering.pig",
           "fingering.match", "fingering.annotate", "fingering.temporal", "fingering.compare",
           "fingering.plots", "fingering.peers", "fingering.jax_hungarian", "fingering.cli"]
FORBIDDEN = ["mujoco", "dm_control", "jax", "matplotlib", "ot", "pianoplayer", "pianoenv",
             "training"]


def test_importing_fingering_loads_no_simulator_or_heavy_dependency():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in MODULES) +
            f"print([m for m in {FORBIDDEN!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
