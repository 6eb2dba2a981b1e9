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


def test_fingering_source_never_imports_upper_layers_or_mujoco():
    """Not even lazily inside a function: fingering sits below pianoenv and training."""
    import ast
    from pathlib import Path

    import fingering

    root = Path(fingering.__file__).parent
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in ("pianoenv", "training", "mujoco", "dm_control"), \
                    f"{path.name} imports {name}"
