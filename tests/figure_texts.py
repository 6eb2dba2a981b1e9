"""Read back what a matplotlib figure says: every text a reader sees, and what is drawn.

Tests of plots build the figure with a ``*_figure`` function, save it as a PNG (the file a
user opens) and assert on these texts, so a count or a label that disappears fails a test.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure


def figure_texts(fig: Figure) -> list[str]:
    """Suptitle, titles, axis labels, tick labels, texts in the axes (``bar_label`` and cell
    counts included), legend entries and colour-bar labels, in drawing order."""
    fig.canvas.draw()  # tick labels of automatic ticks exist only once drawn
    texts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        texts += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        texts += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    return [t for t in texts if t]


def joined(fig: Figure) -> str:
    return "\n".join(figure_texts(fig))


def axis_texts(ax) -> list[str]:
    """Texts drawn inside one axes (bar labels, cell counts)."""
    return [t.get_text() for t in ax.texts]


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def bands(ax) -> list[PolyCollection]:
    """Filled CI bands (``fill_between``)."""
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def point_sets(ax) -> list[PathCollection]:
    """Scatter plots (seed points)."""
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def error_bars(ax) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def save_png(fig: Figure, path: Path) -> Path:
    """Saves the figure (to look at: tests write into tmp_path) and checks a real PNG came out."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    return Path(path)
