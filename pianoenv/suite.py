"""One call from names to an environment: ``load("twinkle:0", hand="shadow_five")``."""

from __future__ import annotations

from typing import Any

import numpy as np

from handspec.load import load_hand
from pianoenv.env import PianoEnv
from pianoenv.songs import load_goals


def load(song: str, hand: str = "shadow_five", fingering: str = "ot",
         seed: int | np.random.Generator | None = None, *, transpose: int = 0,
         max_steps: int | None = None, **task_kwargs: Any) -> PianoEnv:
    """Build the environment for a song spec (``name`` or ``name:chunk``, a built-in piece,
    a .mid file or a PIG file) and a hand (name or YAML path). Errors are ``InputError``.

    ``max_steps`` plays only the first N control steps of the song (or of its chunk). It is
    a task argument like the others, so a training run that sets it (``--env-arg``) records
    it in its config, and evaluating that run later plays the same steps.
    """
    goals = load_goals(song, transpose=transpose).head(max_steps)
    return PianoEnv(goals, load_hand(hand), fingering=fingering, random_state=seed,
                    **task_kwargs)
