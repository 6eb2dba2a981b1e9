"""Persistent XLA compilation cache for the command-line tools.

Compiling the DroQ update takes 10-20 s on a 2-vCPU machine; JAX can store compiled
programs on disk, so the second ``pianohands train/eval/demo`` with the same network sizes
starts in about a second. The cache lives in ``$PIANOHANDS_JAX_CACHE`` (default
``~/.cache/pianohands/jax``); set ``PIANOHANDS_JAX_CACHE=off`` to disable it.
"""

from __future__ import annotations

import os
from pathlib import Path


def enable_compilation_cache() -> Path | None:
    setting = os.environ.get("PIANOHANDS_JAX_CACHE", "")
    if setting.lower() in {"off", "0", "none", "false"}:
        return None
    path = Path(setting) if setting else Path.home() / ".cache" / "pianohands" / "jax"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # read-only home: run without the cache
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    return path
