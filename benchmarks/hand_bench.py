"""Time spec -> MJCF -> compiled model for every shipped hand (both sides).

Prints one row per hand: YAML load+validate, MJCF generation (right + mirrored left),
compilation with mujoco.MjModel, and the total; medians over repeats measured in this run.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("MUJOCO_GL", "egl")

from handspec import available_hands, load_hand  # noqa: E402
from handspec.model import HandModel, compile_model  # noqa: E402


def _median_ms(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times), result


def main(repeats: int = 7) -> None:
    print(f"{'hand':14s} {'load ms':>8s} {'mjcf ms':>8s} {'compile ms':>10s} {'total ms':>9s} "
          f"{'nq':>4s} {'nu':>4s}")
    for name in available_hands():
        t_load, spec = _median_ms(lambda: load_hand(name), repeats)
        t_mjcf, hands = _median_ms(lambda: [HandModel.build(spec, s) for s in ("right", "left")],
                                   repeats)
        t_comp, models = _median_ms(lambda: [compile_model(h.root) for h in hands], repeats)
        m = models[0]
        print(f"{name:14s} {t_load:8.2f} {t_mjcf:8.2f} {t_comp:10.2f} "
              f"{t_load + t_mjcf + t_comp:9.2f} {m.nq:4d} {m.nu:4d}")


if __name__ == "__main__":
    main()
