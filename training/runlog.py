"""What a run writes while it trains: CSV tables, TensorBoard scalars, the F1 curve.

CSV files are appended row by row (one ``write`` per row, flushed, so ``tail -f`` works)
with a header fixed by the first row; a later row may not add columns (a KeyError, a bug).
A process killed inside a write can leave a torn last row (no newline): opening the log
cuts it off, so it cannot poison the file forever (the trainer opens logs only while it
holds the run directory's lock). On ``--resume`` rows written
after the checkpoint are dropped (``truncate_after``) and TensorBoard is opened with
``purge_step`` so the curves continue without duplicates.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from tensorboardX import SummaryWriter

from handspec.atomic import atomic_output, write_text


class CsvLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.fields: list[str] | None = None
        self.dropped_torn_row = self._drop_torn_row()
        if self.path.is_file() and self.path.stat().st_size:
            with self.path.open(newline="") as handle:
                header = next(csv.reader(handle), None)
            self.fields = header or None

    def _drop_torn_row(self) -> bool:
        """Truncate a last line that has no newline (a write cut short by a kill)."""
        if not self.path.is_file():
            return False
        with self.path.open("rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return False
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return False
            block = min(size, 1 << 20)
            handle.seek(size - block)
            tail = handle.read(block)
            cut = tail.rfind(b"\n")
            handle.truncate(size - block + cut + 1 if cut >= 0 else 0)
        return True

    def write(self, row: Mapping[str, Any]) -> None:
        new = self.fields is None
        if new:
            self.fields = list(row)
        extra = set(row) - set(self.fields)
        if extra:
            raise KeyError(f"{self.path.name}: new columns {sorted(extra)} after the header")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.fields)
        if new:
            writer.writeheader()
        writer.writerow({k: _fmt(row.get(k, "")) for k in self.fields})
        with self.path.open("a", newline="") as handle:
            handle.write(buffer.getvalue())  # one write: a kill tears at most this row

    def rows(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    def truncate_after(self, step: int) -> None:
        """Drops rows whose ``step`` exceeds ``step`` (written after the checkpoint)."""
        if self.fields is None:
            return
        kept = [r for r in self.rows() if int(float(r["step"])) <= step]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.fields)
        writer.writeheader()
        writer.writerows(kept)
        write_text(self.path, buffer.getvalue())


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return value


class Scalars:
    """TensorBoard scalars (tensorboardX), or nothing when ``enabled`` is False."""

    def __init__(self, logdir: Path, enabled: bool = True, purge_step: int | None = None):
        self.writer = None
        if enabled:
            self.writer = SummaryWriter(logdir=str(logdir), purge_step=purge_step,
                                        flush_secs=30)

    def add(self, values: Mapping[str, float], step: int) -> None:
        if self.writer is None:
            return
        for tag, value in values.items():
            if value is not None and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(tag, float(value), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def new_figure(width: float, height: float, dpi: int = 100) -> Figure:
    """A matplotlib figure drawn with Agg, outside pyplot (no global state, thread-safe)."""
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Saves a PNG atomically (``handspec.atomic``: nothing half-written on a crash)."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


# y axis of every F1-against-steps plot: the evaluation is the deterministic policy (the
# actor's mean action), so the curve is not the noisy exploration the agent trained with
F1_AXIS_LABEL = "F1 (deterministic policy)"


def f1_curve_figure(rows: Iterable[Mapping[str, Any]], *, title: str,
                    random_f1: float | None = None,
                    base: tuple[str, float] | None = None) -> Figure | None:
    """Evaluation F1 (and precision/recall) of one run against environment steps, the
    x values of ``eval.csv``; the random policy's F1 and, for a residual run, its base
    policy's F1 alone as reference lines. None without rows."""
    rows = list(rows)
    if not rows:
        return None
    steps = [int(float(r["step"])) for r in rows]
    fig = new_figure(6.4, 3.6, dpi=120)
    ax = fig.subplots()
    ax.plot(steps, [float(r["f1"]) for r in rows], marker="o", ms=3, label="F1")
    ax.plot(steps, [float(r["precision"]) for r in rows], lw=1, alpha=0.6, label="precision")
    ax.plot(steps, [float(r["recall"]) for r in rows], lw=1, alpha=0.6, label="recall")
    if random_f1 is not None:
        ax.axhline(random_f1, color="grey", ls="--", lw=1, label=f"random policy F1 ({random_f1:.2f})")
    if base is not None:
        ax.axhline(base[1], color="black", ls=":", lw=1.2,
                   label=f"{base[0]} alone, F1 ({base[1]:.2f})")
    ax.set(xlabel="environment steps", ylabel="F1, precision, recall (deterministic policy)",
           ylim=(0, 1.15), title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", ncols=4, fontsize=7, frameon=False)
    return fig


def plot_f1_curve(rows: Iterable[Mapping[str, Any]], out: Path, *, title: str,
                  random_f1: float | None = None,
                  base: tuple[str, float] | None = None) -> Path | None:
    """``f1_curve_figure`` saved as a PNG (None, and nothing written, without rows)."""
    fig = f1_curve_figure(rows, title=title, random_f1=random_f1, base=base)
    return None if fig is None else save_figure(fig, out)
