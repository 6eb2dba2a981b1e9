"""Musical metrics as RoboPianist computes them, plus the finger->key contact log.

Per step, precision/recall/F1 compare the keys that should be down with the keys that are
down (88 keys; the pedal is not counted), with ``zero_division=1``: a step with nothing to
press and nothing pressed is perfect. Episode precision, recall and F1 are the means of the
per-step values (RoboPianist's ``get_musical_metrics``), not F1 of the pooled counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pianoenv.interface import Contact


def step_prf(goal: np.ndarray, pressed: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall, F1 of one step (bool arrays of equal shape)."""
    tp = int(np.count_nonzero(goal & pressed))
    n_pred = int(np.count_nonzero(pressed))
    n_true = int(np.count_nonzero(goal))
    precision = tp / n_pred if n_pred else 1.0
    recall = tp / n_true if n_true else 1.0
    denom = precision + recall
    f1 = 2 * precision * recall / denom if denom else 0.0
    return precision, recall, f1


@dataclass
class EpisodeMetrics:
    """Accumulates per-step metrics and which finger pressed which key when."""

    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)

    def add_step(self, goal: np.ndarray, pressed: np.ndarray) -> tuple[float, float, float]:
        p, r, f = step_prf(goal, pressed)
        self.precision.append(p)
        self.recall.append(r)
        self.f1.append(f)
        return p, r, f

    def summary(self) -> dict[str, float]:
        if not self.f1:
            return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "steps": 0}
        return {"precision": float(np.mean(self.precision)), "recall": float(np.mean(self.recall)),
                "f1": float(np.mean(self.f1)), "steps": len(self.f1)}
