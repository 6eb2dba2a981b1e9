"""RP1M Fig. 4 from ``DatasetStats``: pressed keys by colour, active keys, specialist F1."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from training.data.format import NUM_KEYS
from training.data.stats import DatasetStats


def plot_fig4(stats: DatasetStats, out_dir: str | Path, *, prefix: str = "") -> dict[str, Path]:
    """RP1M Fig. 4 as three PNGs (+ one with all panels): pressed keys by colour, active
    keys per piece, F1 of the specialists. Files are written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fingering.keyboard import black_mask, key_name

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    black = black_mask()
    n_files = len(stats.file_f1)

    def keys_panel(ax) -> None:
        x = np.arange(NUM_KEYS)
        ax.bar(x[~black], stats.key_steps[~black], color="#d9d9d9", edgecolor="#555555",
               linewidth=0.4, label="white")
        ax.bar(x[black], stats.key_steps[black], color="#222222", label="black")
        ticks = [k for k in range(NUM_KEYS) if key_name(k).startswith("C") and "#" not in key_name(k)]
        ax.set_xticks(ticks, [key_name(k) for k in ticks])
        ax.set_xlabel("key")
        ax.set_ylabel("active steps in the goals")
        wf = stats.white_fraction
        ax.set_title(f"Pressed keys ({n_files} pieces; white {100 * wf:.1f}%)" if n_files
                     else "Pressed keys (no data)")
        ax.legend(title="key colour")

    def active_panel(ax) -> None:
        if stats.active_keys:
            ax.hist(stats.active_keys, bins=min(20, max(5, n_files)), color="#4c72b0")
        ax.set_xlabel("active keys over all time steps (per piece)")
        ax.set_ylabel("pieces")
        ax.set_title("Active keys per piece")

    def f1_panel(ax) -> None:
        bins = np.linspace(0, 1, 21)
        if stats.file_f1:
            ax.hist(stats.file_f1, bins=bins, color="#55a868", alpha=0.8,
                    label=f"collected episodes, mean per file (n={n_files})")
        evals = [f for f in stats.eval_f1 if f is not None]
        if evals:
            ax.hist(evals, bins=bins, histtype="step", color="#c44e52", lw=2,
                    label=f"specialist evaluation (n={len(evals)})")
        ax.axvline(0.75, color="k", ls="--", lw=1, label="F1 0.75 (RP1M: good)")
        ax.set_xlim(0, 1)
        ax.set_xlabel("F1")
        ax.set_ylabel("specialists")
        ax.set_title("F1 of the specialists")
        ax.legend(fontsize=8)

    panels = {"pressed_keys": (keys_panel, (12, 3.5)), "active_keys": (active_panel, (5, 3.5)),
              "f1": (f1_panel, (5, 3.5))}
    written: dict[str, Path] = {}

    def save(fig, name: str) -> None:
        path = out_dir / f"{prefix}{name}.png"
        tmp = out_dir / f".{prefix}{name}.{os.getpid()}.tmp.png"
        fig.tight_layout()
        fig.savefig(tmp, dpi=120)
        plt.close(fig)
        os.replace(tmp, path)
        written[name] = path

    for name, (draw, size) in panels.items():
        fig, ax = plt.subplots(figsize=size)
        draw(ax)
        save(fig, name)
    fig = plt.figure(figsize=(12, 7))
    grid = fig.add_gridspec(2, 2)
    keys_panel(fig.add_subplot(grid[0, :]))
    active_panel(fig.add_subplot(grid[1, 0]))
    f1_panel(fig.add_subplot(grid[1, 1]))
    save(fig, "fig4")
    return written
