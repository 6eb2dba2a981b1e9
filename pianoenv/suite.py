"""One call from names to an environment: ``load("twinkle:0", hand="shadow_five")``."""

from __future__ import annotations

from typing import Any

import numpy as np

from handspec.load import load_hand
from pianoenv.env import PianoEnv
from pianoenv.songs import load_goals


def load(song: str, hand: str = "shadow_five", fingering: str = "ot",
         seed: int | np.random.Generator | None = None, *, transpose: int = 0,
         **task_kwargs: Any) -> PianoEnv:
    """Build the environment for a song spec (``name`` or ``name:chunk``, a built-in piece,
    a .mid file or a PIG file) and a hand (name or YAML path). Errors are ``InputError``."""
    goals = load_goals(song, transpose=transpose)
    return PianoEnv(goals, load_hand(hand), fingering=fingering, random_state=seed,
                    **task_kwargs)
