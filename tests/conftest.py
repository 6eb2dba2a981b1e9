"""Shared test setup: offscreen GL before MuJoCo is imported, and a GL probe for skips."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")

import functools
from pathlib import Path

import pytest

# ../shared/data/pig beside the checkout; PIANOHANDS_PIG_DIR points elsewhere (a worktree)
PIG_DIR = Path(os.environ.get("PIANOHANDS_PIG_DIR",
                              Path(__file__).resolve().parents[2] / "shared" / "data" / "pig"))


@functools.lru_cache(maxsize=1)
def gl_available() -> bool:
    try:
        import mujoco

        model = mujoco.MjModel.from_xml_string("<mujoco><worldbody/></mujoco>")
        with mujoco.Renderer(model, 32, 32) as renderer:
            renderer.render()
        return True
    except Exception:
        return False


@pytest.fixture
def needs_gl():
    if not gl_available():
        pytest.skip("no offscreen OpenGL (install libegl1 libgl1-mesa-dri, or MUJOCO_GL=osmesa)")


@pytest.fixture
def pig_dir() -> Path:
    if not (PIG_DIR / "FingeringFiles").is_dir():
        pytest.skip("shared PIG data not present")
    return PIG_DIR
