"""Every seed a run, an evaluation or an experiment uses, derived from one user seed.

Numbers are derived with ``numpy.random.SeedSequence`` (hashing, so neighbouring user seeds
give unrelated streams), never by adding offsets: ``derive_seed(seed, stream, *index)`` is
``SeedSequence([seed, stream, *index])``'s first 32-bit word. ``stream`` says what the
number is for, so two uses never share randomness:

* ``COLLECT`` (0) and ``EVALUATE`` (1): episode ``i`` of a collection or of an evaluation
  (``training.data.episode_seed(seed, i, stream)`` is the same derivation);
* ``ACT``: the JAX key of the trainer's exploration;
* ``FINAL_EVAL_ENV``: an experiment's final-evaluation environment;
* ``RANDOM_BASELINE``: the random policy whose F1 is the floor a run must beat.

The trainer's numpy generators (environment, evaluation environment, warm-up, replay) are
``SeedSequence(seed).spawn(4)`` (``seed_streams``).
"""

from __future__ import annotations

import numpy as np

COLLECT, EVALUATE, ACT, FINAL_EVAL_ENV, RANDOM_BASELINE = range(5)
TRAINER_STREAMS = ("env", "eval_env", "warmup", "replay")


def derive_seed(seed: int, stream: int, *index: int) -> int:
    """A 32-bit seed for ``stream`` (and ``index``, e.g. an episode number) of ``seed``."""
    entropy = [int(seed), int(stream), *(int(i) for i in index)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def seed_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent numpy generators for each consumer of randomness in a training run."""
    children = np.random.SeedSequence(seed).spawn(len(TRAINER_STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(TRAINER_STREAMS, children)}
