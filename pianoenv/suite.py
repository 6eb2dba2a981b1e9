"""One call from names to an environment: ``load("twinkle:0", hand="shadow_five")``."""

from __future__ import annotations

from typing import Any

import numpy as np

from handspec.load import load_hand
from pianoenv.env import PianoEnv
from pianoenv.policy import make_policy
from pianoenv.residual import DEFAULT_RESIDUAL_SCALE, ResidualEnv
from pianoenv.songs import load_goals


def load(song: str, hand: str = "shadow_five", fingering: str = "ot",
         seed: int | np.random.Generator | None = None, *, transpose: int = 0,
         max_steps: int | None = None, base_policy: str | None = None,
         residual_scale: float = DEFAULT_RESIDUAL_SCALE,
         **task_kwargs: Any) -> PianoEnv | ResidualEnv:
    """Build the environment for a song spec (``name`` or ``name:chunk``, a built-in piece,
    a .mid file or a PIG file) and a hand (name or YAML path). Errors are ``InputError``.

    ``max_steps`` plays only the first N control steps of the song (or of its chunk). It is
    a task argument like the others, so a training run that sets it (``--env-arg``) records
    it in its config, and evaluating that run later plays the same steps.

    ``base_policy`` (a registered policy name, e.g. "ik") makes the actions residuals on
    top of that policy's (``pianoenv.residual``), up to ``residual_scale`` of each
    actuator's half-range.
    """
    goals = load_goals(song, transpose=transpose).head(max_steps)
    env = PianoEnv(goals, load_hand(hand), fingering=fingering, random_state=seed,
                   **task_kwargs)
    if base_policy is None:
        return env
    return ResidualEnv(env, make_policy(base_policy, env, seed=0), residual_scale)
