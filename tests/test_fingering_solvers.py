"""Solver registry, cost matrices and the batched path (RP1M Eq. 1)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fingering import keyboard
from fingering.costs import cost_matrix
from fingering.solvers import (Assignment, InfeasibleAssignmentError, available_solvers,
                               exact_solvers, register_solver, solve, solve_batch)

ALL = ("jv", "pot-emd", "pot-sinkhorn", "jax")
EXACT = ("jv", "pot-emd", "jax")


def brute_force(cost: np.ndarray) -> float:
    """Optimal cost of size-min(K, F) assignment by enumeration (tiny matrices only)."""
    k, f = cost.shape
    best = np.inf
    if k <= f:
        for cols in itertools.permutations(range(f), k):
            best = min(best, cost[np.arange(k), list(cols)].sum())
    else:
        for rows in itertools.permutations(range(k), f):
            best = min(best, cost[list(rows), np.arange(f)].sum())
    return best


def test_builtins_registered_and_exactness_declared():
    assert set(ALL) <= set(available_solvers())
    assert set(EXACT) <= set(exact_solvers())
    assert "pot-sinkhorn" not in exact_solvers()


@pytest.mark.parametrize("method", ALL)
def test_hand_checked_three_by_three(method):
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    # optimum: key0->f1 (1), key1->f0 (2), key2->f2 (2) = 5
    a = solve(cost, method=method)
    assert a.cost == pytest.approx(5.0)
    assert a.keys.tolist() == [0, 1, 2] and a.fingers.tolist() == [1, 0, 2]
    assert a.unassigned.size == 0 and a.method == method


@pytest.mark.parametrize("method", ALL)
def test_empty_keys_give_empty_assignment(method):
    a = solve(np.zeros((0, 10)), method=method)
    assert a.num_pairs == 0 and a.cost == 0.0 and a.unassigned.size == 0


@pytest.mark.parametrize("method", ALL)
def test_no_fingers_leaves_every_key_unassigned(method):
    a = solve(np.zeros((3, 0)), method=method)
    assert a.num_pairs == 0 and a.unassigned.tolist() == [0, 1, 2]


@pytest.mark.parametrize("method", ALL)
def test_more_keys_than_fingers_pairs_the_cheapest_keys(method):
    # Key 1 is far from both fingers: it is the one left out.
    cost = np.array([[0.1, 0.9], [5.0, 5.0], [0.8, 0.2]])
    a = solve(cost, method=method)
    assert a.keys.tolist() == [0, 2] and a.fingers.tolist() == [0, 1]
    assert a.unassigned.tolist() == [1]
    assert a.cost == pytest.approx(0.3)


@pytest.mark.parametrize("method", ALL)
def test_non_finite_entries_are_forbidden(method):
    cost = np.array([[0.0, np.nan, 3.0], [np.inf, 1.0, -np.inf]])
    a = solve(cost, method=method)
    # key0 cannot use finger1, key1 cannot use f0/f2 -> key1->f1 forced, key0->f0.
    assert a.fingers.tolist() == [0, 1] and a.cost == pytest.approx(1.0)


@pytest.mark.parametrize("method", ALL)
def test_infeasible_raises_clear_value_error(method):
    cost = np.array([[1.0, np.inf], [2.0, np.inf]])  # both keys need finger 0
    with pytest.raises(InfeasibleAssignmentError, match="forbidden"):
        solve(cost, method=method)
    with pytest.raises(ValueError):
        solve(np.full((2, 3), np.nan), method=method)


def test_unknown_method_and_bad_shape():
    with pytest.raises(ValueError, match="unknown solver 'hungarian'.*jv"):
        solve(np.zeros((2, 2)), method="hungarian")
    with pytest.raises(ValueError, match="2-D"):
        solve(np.zeros(3))


def test_register_user_solver_and_output_is_checked():
    def greedy(cost):
        """Row-wise argmin (wrong when two keys want the same finger)."""
        return np.arange(cost.shape[0]), np.argmin(cost, axis=1)

    register_solver("test-greedy", greedy, exact=False, overwrite=True)
    assert "test-greedy" in available_solvers() and "test-greedy" not in exact_solvers()
    a = solve(np.array([[0.0, 1.0], [1.0, 0.0]]), method="test-greedy")
    assert isinstance(a, Assignment) and a.cost == 0.0
    with pytest.raises(RuntimeError, match="twice"):
        solve(np.array([[0.0, 1.0], [0.0, 1.0]]), method="test-greedy")
    with pytest.raises(ValueError, match="already registered"):
        register_solver("test-greedy", greedy)


small = st.tuples(st.integers(1, 7), st.integers(1, 7)).flatmap(
    lambda kf: arrays(np.float64, kf, elements=st.floats(-10, 10, allow_nan=False)))


@settings(max_examples=60, deadline=None)
@given(small)
def test_exact_solvers_agree_with_jv_to_1e9(cost):
    reference = solve(cost, method="jv")
    assert reference.num_pairs == min(cost.shape)
    for method in EXACT:
        a = solve(cost, method=method)
        assert abs(a.cost - reference.cost) <= 1e-9 * max(1.0, abs(reference.cost)), method
        assert a.num_pairs == reference.num_pairs
        assert np.unique(a.fingers).size == a.num_pairs


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)),
              elements=st.floats(0, 1)),
       st.data())
def test_exact_solvers_match_brute_force_with_forbidden_pairs(cost, data):
    forbid = data.draw(arrays(bool, cost.shape, elements=st.booleans()))
    c = np.where(forbid, np.inf, cost)
    best = brute_force(c)
    for method in EXACT:
        if np.isinf(best):
            with pytest.raises(InfeasibleAssignmentError):
                solve(c, method=method)
        else:
            assert solve(c, method=method).cost == pytest.approx(best, abs=1e-9)


def test_sinkhorn_gap_is_reported_and_small_at_defaults():
    rng = np.random.default_rng(0)
    gaps, rel = [], []
    tips = rng.uniform(-0.1, 0.1, size=(10, 3))
    for _ in range(30):
        keys = keyboard.key_press_points()[rng.choice(88, size=rng.integers(1, 11),
                                                      replace=False)] * 0.2
        cost = cost_matrix(tips, keys)
        a = solve(cost, method="pot-sinkhorn")
        exact = solve(cost, method="jv").cost
        assert a.gap is not None and a.gap >= -1e-12
        assert a.gap == pytest.approx(a.cost - exact, abs=1e-12)
        gaps.append(a.gap)
        rel.append(a.gap / exact)
    assert np.mean(rel) < 1e-3 and max(rel) < 0.05


# ---------------------------------------------------------------------------- costs


def test_cost_matrix_is_euclidean_with_keys_as_rows():
    tips = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    keys = np.array([[3.0, 0.0, 4.0]])
    c = cost_matrix(tips, keys)
    assert c.shape == (1, 2)
    assert c[0, 0] == pytest.approx(5.0) and c[0, 1] == pytest.approx(np.sqrt(26.0))


def test_cost_matrix_masks_hands_weights_and_nan():
    tips = np.zeros((4, 3))
    keys = np.ones((2, 3))
    c = cost_matrix(tips, keys, finger_mask=[True, True, False, True],
                    key_hand=["right", None], finger_hand=["right", "right", "left", "left"],
                    finger_weights=[1.0, 2.0, 1.0, 1.0])
    d = np.sqrt(3.0)
    assert c[0].tolist() == [d, 2 * d, np.inf, np.inf]  # key 0: right hand only, f2 masked
    assert c[1].tolist() == [d, 2 * d, np.inf, d]
    tips[1, 0] = np.nan
    assert np.isposinf(cost_matrix(tips, keys)[:, 1]).all()
    assert cost_matrix(tips, np.zeros((0, 3))).shape == (0, 4)


def test_cost_matrix_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        cost_matrix(np.zeros((3, 2)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="finger_hand"):
        cost_matrix(np.zeros((3, 3)), np.zeros((1, 3)), key_hand=["right"])
    with pytest.raises(ValueError, match="unknown hand"):
        cost_matrix(np.zeros((1, 3)), np.zeros((1, 3)), key_hand=["middle"],
                    finger_hand=["right"])


# ---------------------------------------------------------------------------- batches


@pytest.mark.parametrize("shape", [(8, 4, 10), (8, 10, 10), (8, 12, 5)])
def test_batch_jax_matches_looped_jv_with_padding(shape):
    rng = np.random.default_rng(1)
    costs = rng.random(shape)
    batch, k, f = shape
    kv = rng.random((batch, k)) < 0.8
    fv = rng.random((batch, f)) < 0.9
    costs[rng.random(shape) < 0.1] = np.inf
    costs[0, :, 1:] = np.inf  # problem 0: every key needs finger 0 -> infeasible
    kv[0], fv[0] = True, True
    got = solve_batch(costs, kv, fv, method="jax", allow_infeasible=True)
    ref = solve_batch(costs, kv, fv, method="jv", allow_infeasible=True)
    assert (got.feasible == ref.feasible).all() and not ref.feasible[0]
    ok = ref.feasible
    np.testing.assert_allclose(got.cost[ok], ref.cost[ok], atol=1e-9)
    assert np.isinf(got.cost[~ok]).all()
    assert ((got.finger_of_key >= 0) <= kv).all()  # padded keys never get a finger
    used = np.where(got.finger_of_key >= 0, got.finger_of_key, 0)
    assert (np.take_along_axis(fv, used, 1) | (got.finger_of_key < 0)).all()


def test_batch_infeasible_raises_with_index_and_item_roundtrip():
    # (8, 4, 10): the shape of the padding test above, so no new JIT compilation
    costs = np.ones((8, 4, 10))
    costs[2, :, 1:] = np.inf  # four keys, one usable finger
    with pytest.raises(InfeasibleAssignmentError, match=r"\[2\]"):
        solve_batch(costs)
    costs[2] = 1.0
    res = solve_batch(costs)
    assert res.item(0, costs).cost == pytest.approx(4.0) and len(res) == 8
    empty = solve_batch(np.zeros((4, 0, 10)))
    assert empty.cost.tolist() == [0.0] * 4


def test_batch_cost_matrices_match_single():
    from fingering.costs import batch_cost_matrices

    rng = np.random.default_rng(5)
    tips, keys = rng.normal(size=(3, 10, 3)), rng.normal(size=(3, 4, 3))
    tips[1, 2, 0] = np.nan
    batch = batch_cost_matrices(tips, keys)
    for b in range(3):
        np.testing.assert_array_equal(batch[b], cost_matrix(tips[b], keys[b]))
    assert np.isposinf(batch[1, :, 2]).all()
    with pytest.raises(ValueError, match=r"\(B, F, 3\)"):
        batch_cost_matrices(tips[0], keys)
