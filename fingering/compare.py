"""Compare fingering methods with the human annotators of PIG pieces.

A method is ``suggest`` (the offline annotator, ``fingering.annotate``), ``pianoplayer``
(peer baseline, ``fingering.peers``), or a path: a PIG file (one piece) or a directory of
``NNN*.txt`` PIG files, e.g. fingerings written by ``pianohands eval``. The leave-one-out
``human`` baseline (each annotator against the others) is always computed where a piece
has two or more annotators.

Every method sees the same input: the note list of the piece's first annotator file with
all fingers removed; with ``hands="given"`` it keeps that file's hand of each note (the
setting of Nakamura et al. and of pianoplayer, which plan hands separately), with
``hands="infer"`` the hands are removed too (only ``suggest`` can then assign them).
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from fingering.match import (HANDS, PieceMatch, crossings_without_thumb, finger_usage,
                             human_agreement, match_rates, summarize)
from fingering.notes import NoteSequence
from fingering.pig import list_pieces, normalize_piece_id, piece_files, read_pig
from handspec.atomic import write_text
from handspec.errors import InputError
from handspec.reach import FingerReach

if TYPE_CHECKING:  # pragma: no cover
    from fingering.annotate import AnnotatorConfig

BUILTIN_METHODS = ("suggest", "pianoplayer")
HUMAN = "human (leave-one-out)"


@dataclass
class MethodResult:
    label: str
    pieces: list[PieceMatch]
    estimates: dict[str, NoteSequence]     # piece id -> the method's fingering
    references: dict[str, list[NoteSequence]]  # piece id -> the annotators' fingerings
    seconds: float

    def summary(self, only: Sequence[str] | None = None) -> dict[str, float]:
        chosen = [p for p in self.pieces if only is None or p.piece in only]
        return summarize(chosen) if chosen else {}


def strip_fingering(seq: NoteSequence, keep_hands: bool) -> NoteSequence:
    """The same notes without fingers (and without hands unless ``keep_hands``)."""
    notes = tuple(replace(n, fingers=(), hand=n.hand if keep_hands else None) for n in seq.notes)
    return NoteSequence(notes, seq.name, seq.sustain, dict(seq.metadata))


def estimate_from_path(path: Path, piece_id: str, num_pieces: int) -> NoteSequence:
    """A machine fingering read from a PIG file or from ``DIR/NNN*.txt``."""
    if path.is_file():
        if num_pieces != 1:
            raise InputError("a fingering file can be compared with one piece only; pass "
                             "--piece or a directory of NNN*.txt files", file=path,
                             field="--method")
        return read_pig(path)
    if path.is_dir():
        found = sorted(path.glob(f"{piece_id}*.txt"))
        if len(found) != 1:
            raise InputError(f"expected one {piece_id}*.txt fingering file, found {len(found)}",
                             file=path, field="--method")
        return read_pig(found[0])
    raise InputError("method is neither 'suggest', 'pianoplayer' nor an existing file or "
                     "directory", file=path, field="--method")


def _estimator(method: str, reach: FingerReach | None, piece_count: int,
               config: "AnnotatorConfig | None" = None, config_label: str = ""
               ) -> tuple[str, Callable[[str, NoteSequence], NoteSequence]]:
    if method == "suggest":
        if reach is None:
            raise InputError("method 'suggest' needs a hand (--hand)", field="--hand")
        from fingering.annotate import suggest_fingering

        label = f"suggest ({reach.hand}{', ' + config_label if config_label else ''})"
        return label, lambda pid, seq: suggest_fingering(seq, reach, config=config)
    if method == "pianoplayer":
        from fingering.peers import pianoplayer_fingering, pianoplayer_version

        if pianoplayer_version() is None:
            raise InputError("pianoplayer is not installed; pip install "
                             "'pianoplayer>=3.0,<4' (or leave it out of --method)",
                             field="--method")
        return (f"pianoplayer {pianoplayer_version()}",
                lambda pid, seq: pianoplayer_fingering(seq))
    path = Path(method)
    if not path.exists():
        raise InputError("method is neither 'suggest', 'pianoplayer' nor an existing file or "
                         "directory", file=path, field="--method")
    return str(path), lambda pid, seq: estimate_from_path(path, pid, piece_count)


def compare_methods(pig_dir: str | Path, pieces: Sequence[str] | None = None,
                    methods: Sequence[str] = ("suggest",), *, reach: FingerReach | None = None,
                    hands: str = "given", progress: bool = False,
                    config: "AnnotatorConfig | None" = None, config_label: str = ""
                    ) -> dict[str, MethodResult]:
    """Match rates of each method (and the human baseline) on the chosen PIG pieces.

    ``config`` is the annotator's cost for ``suggest`` (default: its default model);
    ``config_label`` names it in the method's label.
    """
    if hands not in ("given", "infer"):
        raise InputError(f"must be 'given' or 'infer', got {hands!r}", field="--hands")
    ids = [normalize_piece_id(p) for p in pieces] if pieces else list_pieces(pig_dir)
    files = {pid: piece_files(pig_dir, pid) for pid in ids}  # fail early on a missing piece
    estimators = [_estimator(m, reach, len(ids), config, config_label) for m in methods]
    if hands == "infer" and any(m == "pianoplayer" for m in methods):
        raise InputError("pianoplayer plans each hand separately and needs --hands given",
                         field="--hands")
    references: dict[str, list[NoteSequence]] = {}
    results = {label: MethodResult(label, [], {}, references, 0.0) for label, _ in estimators}
    human = MethodResult(HUMAN, [], {}, references, 0.0)
    iterator = ids
    if progress:
        from tqdm import tqdm

        iterator = tqdm(ids, desc="pieces", unit="piece")
    for pid in iterator:
        annotators = [read_pig(p) for p in files[pid]]
        references[pid] = annotators
        source = strip_fingering(annotators[0], keep_hands=hands == "given")
        for label, fn in estimators:
            t0 = time.perf_counter()
            est = fn(pid, source)
            results[label].seconds += time.perf_counter() - t0
            results[label].estimates[pid] = est
            results[label].pieces.append(match_rates(est, annotators, pid))
        baseline = human_agreement(annotators, pid)
        if baseline is not None:
            human.pieces.append(baseline)
    if human.pieces:
        results[HUMAN] = human
    return results


def _pct(x: float) -> str:
    return "-" if x is None or np.isnan(x) else f"{100 * x:.1f}"


def summary_table(results: dict[str, MethodResult], only: Sequence[str] | None = None) -> str:
    """Markdown table: general/highest/soft match rates overall and per hand (%)."""
    lines = ["| method | pieces | notes | general | highest | soft | general RH | "
             "general LH | soft RH | soft LH |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, res in results.items():
        s = res.summary(only)
        if not s:
            continue
        lines.append(f"| {label} | {int(s['pieces'])} | {int(s['notes'])} | "
                     f"{_pct(s['general'])} | {_pct(s['highest'])} | {_pct(s['soft'])} | "
                     f"{_pct(s['general_right'])} | {_pct(s['general_left'])} | "
                     f"{_pct(s['soft_right'])} | {_pct(s['soft_left'])} |")
    return "\n".join(lines)


def per_piece_table(results: dict[str, MethodResult]) -> str:
    """Markdown table: general match rate (%) per piece and method."""
    labels = list(results)
    pieces = sorted({p.piece for r in results.values() for p in r.pieces})
    lines = ["| piece | annotators | notes | " + " | ".join(labels) + " |",
             "|---|---:|---:|" + "---:|" * len(labels)]
    for pid in pieces:
        rows = {label: next((p for p in r.pieces if p.piece == pid), None)
                for label, r in results.items()}
        any_row = next(p for p in rows.values() if p is not None)
        cells = " | ".join(_pct(rows[l].overall.general) if rows[l] else "-" for l in labels)
        lines.append(f"| {pid} | {any_row.overall.annotators} | {any_row.overall.notes} | "
                     f"{cells} |")
    return "\n".join(lines)


def _usage_cells(seqs: Sequence[NoteSequence]) -> list[str]:
    usage = finger_usage(seqs)
    return ["/".join(f"{100 * u:.0f}" for u in usage[h]) for h in range(2)]


def crossing_rows(results: dict[str, MethodResult]) -> list[dict]:
    """Crossings without the thumb and finger usage per fingering source, pieces pooled.

    One row per method, one per human annotator position (the k-th file of each piece:
    PIG's annotators differ between pieces, so a row pools different people) and one for
    all human files. ``rate`` = crossings / consecutive single-note pairs, pooled over
    pieces; ``per_piece`` = piece -> (crossings, pairs).
    """
    rows = []
    references: dict[str, list[NoteSequence]] = {}
    for label, res in results.items():
        references.update(res.references)
        if not res.estimates:
            continue
        rows.append(_crossing_row(label, dict(res.estimates)))
    by_position: dict[int, dict[str, NoteSequence]] = {}
    for pid, annotators in sorted(references.items()):
        for k, ann in enumerate(annotators):
            by_position.setdefault(k, {})[pid] = ann
    for k, seqs in sorted(by_position.items()):
        rows.append(_crossing_row(f"human, file {k + 1} of each piece", seqs))
    every = {f"{pid}-{k + 1}": ann for pid, anns in sorted(references.items())
             for k, ann in enumerate(anns)}
    if every:
        row = _crossing_row("humans, every file", every)
        row["per_piece"] = {}
        rows.append(row)
    return rows


def _crossing_row(label: str, seqs: dict[str, NoteSequence]) -> dict:
    per_piece = {pid: crossings_without_thumb(seq) for pid, seq in seqs.items()}
    crossings = sum(c for c, _ in per_piece.values())
    pairs = sum(n for _, n in per_piece.values())
    right, left = _usage_cells(list(seqs.values()))
    return {"label": label, "fingerings": len(seqs), "crossings": crossings, "pairs": pairs,
            "rate": crossings / pairs if pairs else float("nan"), "usage_right": right,
            "usage_left": left, "usage": finger_usage(list(seqs.values())).tolist(),
            "per_piece": per_piece}


def crossing_table(rows: Sequence[dict]) -> str:
    """Markdown: crossing rate and per-finger usage (% of each hand's notes, thumb..little)."""
    lines = ["| fingering | files | single-note pairs | crossings without the thumb | "
             "RH usage 1/2/3/4/5 % | LH usage 1/2/3/4/5 % |", "|---|---:|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['fingerings']} | {r['pairs']} | "
                     f"{_pct(r['rate'])}% ({r['crossings']}) | {r['usage_right']} | "
                     f"{r['usage_left']} |")
    return "\n".join(lines)


def crossing_piece_table(rows: Sequence[dict]) -> str:
    """Markdown: crossing rate (%) per piece for every method and human file position."""
    shown = [r for r in rows if r["per_piece"]]
    pieces = sorted({pid for r in shown for pid in r["per_piece"]})
    lines = ["| piece | " + " | ".join(r["label"] for r in shown) + " |",
             "|---|" + "---:|" * len(shown)]
    for pid in pieces:
        cells = []
        for r in shown:
            c, n = r["per_piece"].get(pid, (0, 0))
            cells.append(f"{_pct(c / n)} ({c}/{n})" if n else "-")
        lines.append(f"| {pid} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(results: dict[str, MethodResult], out_dir: str | Path, *,
                  plots: bool = True, roll_seconds: float = 20.0) -> list[Path]:
    """CSV of every rate, summary.json, and the PNG figures; returns the written paths."""
    out = Path(out_dir)
    written = []
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["method", "piece", "annotators", "notes", "general", "highest", "soft"]
                    + [f"{k}_{h}" for h in HANDS for k in ("general", "highest", "soft")])
    for label, res in results.items():
        for p in res.pieces:
            writer.writerow([label, p.piece, p.overall.annotators, p.overall.notes,
                             p.overall.general, p.overall.highest, p.overall.soft]
                            + [getattr(p.per_hand[h], k) for h in HANDS
                               for k in ("general", "highest", "soft")])
    written.append(write_text(out / "compare.csv", buf.getvalue()))
    crossings = {r["label"]: {k: v for k, v in r.items() if k != "per_piece"}
                 | {"per_piece": {p: list(v) for p, v in r["per_piece"].items()}}
                 for r in crossing_rows(results)}
    summary = {label: {"all": res.summary(), "seconds": res.seconds}
               for label, res in results.items()}
    summary["crossings_and_usage"] = crossings
    written.append(write_text(out / "summary.json", json.dumps(summary, indent=2)))
    if not plots:
        return written
    from fingering.plots import plot_confusion, plot_finger_usage, plot_piano_roll

    for label, res in results.items():
        if not res.estimates:  # the human baseline has no single estimate to draw
            continue
        slug = "".join(c if c.isalnum() else "_" for c in label.split(" (")[0]).strip("_")
        short = label.split(" ")[0]
        confusion = sum(p.confusion for p in res.pieces)
        written.append(plot_confusion(confusion, out / f"{slug}_confusion.png",
                                      title=f"Finger confusion, {len(res.pieces)} pieces: "
                                            f"human vs {label}", machine_label=short))
        humans = [a for pid in res.estimates for a in res.references[pid]]
        pooled = NoteSequence(tuple(n for e in res.estimates.values() for n in e.notes))
        written.append(plot_finger_usage(humans, pooled, out / f"{slug}_finger_usage.png",
                                         title=f"Finger usage, {len(res.pieces)} pieces",
                                         machine_label=label))
        for pid, est in res.estimates.items():
            first = res.references[pid][0]
            start = min(n.onset for n in first.notes)
            written.append(plot_piano_roll(first, est, out / f"{slug}_{pid}_roll.png",
                                           labels=(f"human ({first.name})", label),
                                           time_range=(start, start + roll_seconds),
                                           title=f"Piece {pid}: first {roll_seconds:g} s"))
    return written
