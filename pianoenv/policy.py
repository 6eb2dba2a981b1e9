"""One policy protocol for everything that acts in the piano environment.

Every policy (random, holding the home pose, a trained DroQ actor, the kinematic pianist,
a residual on top of it, an imitation policy) is called the same way: ``reset(seed)``
before each episode, then ``policy(timestep) -> action`` once per control step, the
action in the environment's own units (``env.action_spec()``). A policy that keeps state
across steps (a step counter, a plan, a JAX key) resets it in ``reset``; reseeding per
episode makes episode ``i`` of a collection the same whether it ran in one go or resumed.

Policies are made by name through a registry, so ``pianohands env run --policy NAME``,
``collect`` and ``eval`` all see the same set, and a new policy plugs in with one
``register_policy`` call::

    register_policy("ik", lambda env, seed, **kw: KinematicPianist(env, **kw))
    policy = make_policy("ik", env, seed=0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import dm_env
import numpy as np

from handspec.errors import InputError


@runtime_checkable
class Policy(Protocol):
    """Maps a pianoenv ``TimeStep`` to an action in the environment's units."""

    def reset(self, seed: int) -> None: ...

    def __call__(self, timestep: dm_env.TimeStep) -> np.ndarray: ...


PolicyFactory = Callable[..., Policy]  # factory(env, seed, **options) -> Policy
_REGISTRY: dict[str, tuple[PolicyFactory, str]] = {}


def register_policy(name: str, factory: PolicyFactory, description: str = "") -> None:
    """Make ``factory(env, seed, **options)`` available as ``make_policy(name, ...)``."""
    _REGISTRY[name] = (factory, description)


def available_policies() -> dict[str, str]:
    """Registered policy names and their one-line descriptions."""
    _load_plugins()
    return {name: desc for name, (_, desc) in sorted(_REGISTRY.items())}


def make_policy(name: str, env: Any, seed: int = 0, **options: Any) -> Policy:
    """The registered policy ``name`` for ``env``, reset with ``seed``."""
    _load_plugins()
    if name not in _REGISTRY:
        raise InputError(f"unknown policy {name!r}; one of {', '.join(sorted(_REGISTRY))}",
                         field="--policy")
    policy = _REGISTRY[name][0](env, seed, **options)
    policy.reset(seed)
    return policy


# Modules that register policies when imported; they import this module, so they are
# loaded on first use of the registry rather than at the top (an import cycle otherwise).
_POLICY_MODULES: tuple[str, ...] = ("pianoenv.kinematic",)


def _load_plugins() -> None:
    import importlib

    for module in _POLICY_MODULES:
        importlib.import_module(module)


class RandomPolicy:
    """Uniform random actions within the action spec, one generator per episode seed."""

    def __init__(self, env: Any, seed: int = 0):
        spec = env.action_spec()
        self._lo = np.asarray(spec.minimum, np.float32) * np.ones(spec.shape, np.float32)
        self._hi = np.asarray(spec.maximum, np.float32) * np.ones(spec.shape, np.float32)
        self._rng = np.random.default_rng(seed)

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def __call__(self, timestep: dm_env.TimeStep) -> np.ndarray:
        return self._rng.uniform(self._lo, self._hi).astype(np.float32)


class HomePolicy:
    """Holds the home pose with the pedal up (the "zero" baseline: no key should move)."""

    def __init__(self, env: Any, seed: int = 0):
        self._hold = np.asarray(env.home_action(), np.float32)

    def reset(self, seed: int) -> None:
        pass

    def __call__(self, timestep: dm_env.TimeStep) -> np.ndarray:
        return self._hold


register_policy("random", RandomPolicy, "uniform random actions within the action spec")
register_policy("zero", HomePolicy, "hold the home pose, pedal up")
