"""``fingering.jax_hungarian.assign``: the traceable one-problem form used inside the MJX
environment gives ``solve``'s optimal cost on the valid keys, in float32, for K <= F and K > F."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")

from fingering import jax_hungarian  # noqa: E402
from fingering.solvers import solve  # noqa: E402

_ASSIGN = {}


def _assign(shape):
    if shape not in _ASSIGN:  # one compilation per shape
        _ASSIGN[shape] = jax.jit(jax_hungarian.assign)
    return _ASSIGN[shape]


@settings(max_examples=25, deadline=None)
@given(num_keys=st.sampled_from([3, 12]), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_assign_matches_solve_on_valid_keys(num_keys, seed, data):
    rng = np.random.default_rng(seed)
    num_fingers = 10
    cost = rng.uniform(0.0, 0.5, (num_keys, num_fingers)).astype(np.float32)
    valid = np.array(data.draw(st.lists(st.booleans(), min_size=num_keys, max_size=num_keys)))
    finger_of_key, feasible = _assign((num_keys, num_fingers))(
        cost, valid, np.ones(num_fingers, bool))
    finger_of_key = np.asarray(finger_of_key)
    assert bool(feasible)
    assert np.all(finger_of_key[~valid] == -1)
    used = finger_of_key[finger_of_key >= 0]
    assert len(set(used.tolist())) == len(used) == min(int(valid.sum()), num_fingers)
    rows = np.flatnonzero(finger_of_key >= 0)
    got = float(cost[rows, finger_of_key[rows]].sum())
    want = solve(cost[valid].astype(np.float64)).cost if valid.any() else 0.0
    assert got == pytest.approx(want, abs=1e-5)
