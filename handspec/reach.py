"""How far a hand's fingers reach: the plain-array summary the fingering engine uses.

``FingerReach`` holds no simulator objects, so ``fingering/`` can use it without MuJoCo;
``finger_reach(spec)`` computes it from the compiled model of a spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FingerReach:
    """Fingertip geometry of one right hand, in the piano frame's axes.

    fingers:   canonical finger names present, thumb first (e.g. thumb, index, middle, ring).
    rest_tips: (F, 3) fingertip positions at the rest pose, relative to the hand's forearm
               base; column 1 is along the keyboard (higher pitch = larger y for the right hand).
    max_span:  (F, F) largest distance along the keyboard (m) between two fingertips that the
               joint ranges allow with the forearm fixed (symmetric, zero diagonal).
    """

    hand: str
    fingers: tuple[str, ...]
    rest_tips: np.ndarray
    max_span: np.ndarray

    def mirrored(self) -> "FingerReach":
        """The same reach for the left hand: along-keyboard coordinates flip sign."""
        tips = self.rest_tips.copy()
        tips[:, 1] *= -1
        return FingerReach(self.hand, self.fingers, tips, self.max_span.copy())
