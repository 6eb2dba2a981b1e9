"""Fit the annotator's handful of weights to human fingerings, cross-validated by piece.

The cost (``fingering.annotate``) is physical: every span is a fraction of the hand's own
reach, so the weights say how much a crossing, a stretch or a weak finger matters, not
where any piece's notes are. ``fit`` tunes the ``FITTED_WEIGHTS`` to maximise the general
match rate (Nakamura et al.) on PIG pieces by coordinate search: each weight in turn is
doubled or halved (a share such as ``comfort`` moves by ``SHARE_STEP``), a change is kept
when the mean rate over the training pieces rises, until a round changes nothing or
``rounds`` are done. Deterministic, derivative-free (the rate is piecewise constant in the
weights) and cheap: one evaluation is one exact Viterbi per piece.

Cross-validation is by piece: pieces (sorted by id) are dealt round-robin into ``folds``
folds; each fold's pieces are scored with weights fitted on the other folds only, and the
held-out rate is the mean over all pieces of those scores. ``folds`` = the number of pieces
is leave-one-piece-out. The weights returned for use are then fitted on every piece.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fingering.annotate import FITTED_WEIGHTS, AnnotatorConfig, suggest_fingering
from fingering.compare import strip_fingering
from fingering.match import match_rates
from fingering.notes import NoteSequence
from fingering.pig import list_pieces, normalize_piece_id, piece_files, read_pig
from handspec.atomic import write_text
from handspec.errors import InputError
from handspec.reach import FingerReach

SHARE_WEIGHTS = ("comfort", "compress", "thumb_tuck")  # shares in [0, SHARE_MAX]
SHARE_STEP = 0.15
SHARE_MAX = 0.9
SEED_VALUES = {"weak": 0.005, "black_thumb": 0.01, "cross_thumb": 0.01,
               "cross_other": 0.1, "cross_distance": 0.1, "span": 1.0}
"""Value tried for a weight that is 0 (doubling 0 stays 0)."""

START = AnnotatorConfig(span=5.0, cross_thumb=0.02, cross_other=0.3, cross_distance=0.5,
                        weak=0.005, black_thumb=0.02, thumb_tuck=0.5)
"""Where fits start: the travel model plus the biomechanical terms at physical guesses
(set before looking at any piece; what ``biomech`` was before it was fitted)."""


@dataclass(frozen=True)
class Piece:
    """One PIG piece: every annotator's fingering and the input every method gets."""

    id: str
    annotators: tuple[NoteSequence, ...]
    source: NoteSequence


def load_pieces(pig_dir: str | Path, pieces: Sequence[str] | None = None) -> list[Piece]:
    """The pieces of a PIG folder, with hands given (as ``compare --hands given``)."""
    ids = [normalize_piece_id(p) for p in pieces] if pieces else list_pieces(pig_dir)
    out = []
    for pid in ids:
        annotators = tuple(read_pig(p) for p in piece_files(pig_dir, pid))
        out.append(Piece(pid, annotators, strip_fingering(annotators[0], keep_hands=True)))
    return out


def piece_rates(config: AnnotatorConfig, reach: FingerReach,
                pieces: Sequence[Piece]) -> np.ndarray:
    """General match rate of the annotator with ``config`` on each piece."""
    return np.array([match_rates(suggest_fingering(p.source, reach, config=config),
                                 p.annotators, p.id).overall.general for p in pieces])


def _candidates(config: AnnotatorConfig, name: str) -> list[float]:
    value = getattr(config, name)
    if name in SHARE_WEIGHTS:
        return [min(SHARE_MAX, round(value + SHARE_STEP, 6)),
                max(0.0, round(value - SHARE_STEP, 6))]
    if value == 0:
        return [SEED_VALUES.get(name, 0.01)]
    return [value * 2.0, value / 2.0, 0.0]


def coordinate_search(reach: FingerReach, pieces: Sequence[Piece], start: AnnotatorConfig,
                      *, rounds: int = 3, names: Sequence[str] = FITTED_WEIGHTS,
                      log: Callable[[str], None] | None = None
                      ) -> tuple[AnnotatorConfig, float]:
    """Coordinate search on the mean general rate over ``pieces``; returns (config, rate)."""
    if not pieces:
        raise ValueError("no pieces to fit on")
    config = start
    best = float(piece_rates(config, reach, pieces).mean())
    for round_ in range(rounds):
        changed = False
        for name in names:
            for value in _candidates(config, name):
                if value == getattr(config, name):
                    continue
                trial = replace(config, **{name: value})
                rate = float(piece_rates(trial, reach, pieces).mean())
                if rate > best + 1e-6:
                    config, best, changed = trial, rate, True
                    if log:
                        log(f"round {round_ + 1}: {name} = {value:g} -> {100 * rate:.2f}%")
                    break
        if not changed:
            break
    return config, best


@dataclass
class FitReport:
    """What ``fit`` found: the weights for use and how well weights like them generalise."""

    config: AnnotatorConfig
    train_rate: float                      # mean rate over every piece, weights fitted on all
    heldout_rate: float                    # mean over pieces of the rate with that piece held out
    start_rate: float                      # mean rate of the start config (no fitting)
    heldout: dict[str, float]              # piece -> held-out rate
    folds: list[dict]                      # per fold: pieces, train rate, held-out rate, config

    def to_json(self) -> str:
        chosen = {name: getattr(self.config, name) for name in FITTED_WEIGHTS}
        return json.dumps({"weights": chosen, "config": asdict(self.config),
                           "train_rate": self.train_rate, "heldout_rate": self.heldout_rate,
                           "start_rate": self.start_rate, "heldout": self.heldout,
                           "folds": self.folds}, indent=2)


def fit(reach: FingerReach, pieces: Sequence[Piece], start: AnnotatorConfig, *,
        folds: int = 4, rounds: int = 3,
        log: Callable[[str], None] | None = None) -> FitReport:
    """Cross-validated fit (see the module docstring)."""
    pieces = sorted(pieces, key=lambda p: p.id)
    if len(pieces) < 2:
        raise InputError("fitting needs at least 2 pieces (one to hold out)", field="--pig-dir")
    folds = max(2, min(folds, len(pieces)))
    heldout: dict[str, float] = {}
    fold_rows = []
    for k in range(folds):
        test = [p for i, p in enumerate(pieces) if i % folds == k]
        train = [p for i, p in enumerate(pieces) if i % folds != k]
        config, train_rate = coordinate_search(reach, train, start, rounds=rounds)
        rates = piece_rates(config, reach, test)
        heldout.update({p.id: float(r) for p, r in zip(test, rates)})
        fold_rows.append({"pieces": [p.id for p in test], "train_rate": train_rate,
                          "heldout_rate": float(rates.mean()),
                          "weights": {n: getattr(config, n) for n in FITTED_WEIGHTS}})
        if log:
            log(f"fold {k + 1}/{folds}: held out {', '.join(p.id for p in test)}: "
                f"train {100 * train_rate:.2f}%, held-out {100 * rates.mean():.2f}%")
    config, train_rate = coordinate_search(reach, pieces, start, rounds=rounds, log=log)
    start_rate = float(piece_rates(start, reach, pieces).mean())
    return FitReport(config, train_rate, float(np.mean(list(heldout.values()))), start_rate,
                     heldout, fold_rows)


def load_weights(path: str | Path, base: AnnotatorConfig) -> AnnotatorConfig:
    """``base`` with the weights of a ``fit`` JSON file (``{"weights": {...}}``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("weights file not found", file=path, field="--weights") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"not a JSON weights file ({exc})", file=path,
                         field="--weights") from None
    weights = data.get("weights") if isinstance(data, dict) else None
    if not isinstance(weights, dict):
        raise InputError("expected an object with a 'weights' object", file=path,
                         field="weights")
    known = {f.name for f in fields(AnnotatorConfig)}
    for name, value in weights.items():
        if name not in known:
            raise InputError(f"unknown weight {name!r}", file=path, field="weights")
        if not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
            raise InputError(f"{name} must be a finite number >= 0, got {value!r}", file=path,
                             field="weights")
    return replace(base, **{k: float(v) for k, v in weights.items()})


def write_report(report: FitReport, path: str | Path) -> Path:
    return write_text(path, report.to_json())
