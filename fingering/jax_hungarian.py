"""Exact batched assignment in JAX: the Hungarian algorithm, jitted and vmapped.

Why Hungarian and not auction: auction with epsilon scaling is only within ``n * eps`` of
the optimum, so matching ``jv`` to 1e-9 would need eps ~1e-10 and many rounds; the
shortest-augmenting-path Hungarian (Kuhn-Munkres with row/column potentials, the O(n^2 m)
form) is exact. Each row is added by one ``lax.while_loop`` (Dijkstra-like growth of the
alternating tree), all rows by a ``fori_loop``; ``vmap`` turns the batch into vector ops, so
B small problems cost roughly one problem's loop count of (B, m)-wide operations. On CPU
this beats looping ``solve(method="jv")`` at large B but not a bare loop over scipy's C
``linear_sum_assignment`` (~2 us per 10x10); see ``benchmarks/ot_bench.py``.

Rectangular problems, padding and forbidden pairs are handled by one augmentation: with
rows = the smaller side (n <= m after an optional transpose), append n "unassigned" columns
costing PEN to every valid row (0 to a padded row), and give forbidden/padded real entries
BIG. With PEN > n * range(costs) and BIG > PEN + n * range, the optimum first maximises the
number of real pairs, never uses a forbidden one, and only then minimises the real cost:
exactly ``solve``'s rules. Runs in float64 (``jax.enable_x64`` scoped to the call, so other
JAX code in the process keeps its own precision).

The module imports JAX lazily: importing ``fingering`` costs nothing.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _hungarian(cost):
    """Optimal column for each row of an (n, m) finite cost matrix, n <= m. Returns (n,).

    The classic potentials form (rows u, columns v, ``p[j]`` = row matched to column j,
    ``way`` = the alternating tree). Row potentials are updated through a dense "row in the
    tree" mask rather than a scatter: measured ~2x faster under ``vmap`` on CPU than the
    scatter form, and ~4x faster than one-hot row extraction.
    """
    import jax
    import jax.numpy as jnp

    n, m = cost.shape
    dtype = cost.dtype
    inf = jnp.asarray(jnp.inf, dtype)
    # 1-indexed as in the classic formulation: row/column 0 is the virtual start.
    a = jnp.zeros((n + 1, m + 1), dtype).at[1:, 1:].set(cost)
    # Warm start by row reduction: u_i = min_j c_ij, v = 0 (v <= 0 keeps the rectangular
    # dual feasible and unmatched columns at 0), and each row takes its cheapest column
    # unless an earlier row took it. Those rows need no search; measured ~1.35x faster at
    # B = 1024. (Column reduction, v_j = min_i c_ij, is wrong here: it makes v > 0.)
    best = jnp.argmin(cost, axis=1).astype(jnp.int32)
    order = jnp.arange(n)
    taken_before = ((best[None, :] == best[:, None]) & (order[None, :] < order[:, None])).any(1)
    p0 = jnp.zeros(m + 1, jnp.int32).at[jnp.where(taken_before, m + 1, best + 1)].set(
        jnp.arange(1, n + 1, dtype=jnp.int32), mode="drop")
    u0 = jnp.concatenate([jnp.zeros(1, dtype), cost.min(axis=1)])

    def add_row(i, carry):
        u, v, p = carry
        matched = jnp.any(p[1:] == i)
        p = p.at[0].set(i.astype(jnp.int32))

        def grow(state):
            u, v, way, minv, used, row_in, j0, _ = state
            used = used.at[j0].set(True)
            i0 = p[j0]
            row_in = row_in.at[i0].set(True)
            cur = a[i0] - u[i0] - v
            better = (~used) & (cur < minv)
            minv = jnp.where(better, cur, minv)
            way = jnp.where(better, j0, way)
            free = jnp.where(used, inf, minv)
            j1 = jnp.argmin(free).astype(jnp.int32)
            delta = free[j1]
            u = jnp.where(row_in, u + delta, u)
            v = jnp.where(used, v - delta, v)
            minv = jnp.where(used, minv, minv - delta)
            return u, v, way, minv, used, row_in, j1, p[j1] == 0

        state = (u, v, jnp.zeros(m + 1, jnp.int32), jnp.full(m + 1, inf),
                 jnp.zeros(m + 1, bool), jnp.zeros(n + 1, bool), jnp.int32(0), matched)
        u, v, way, _, _, _, j0, _ = jax.lax.while_loop(lambda s: ~s[-1], grow, state)
        j0 = jnp.where(matched, 0, j0)  # a warm-started row has nothing to augment

        def augment(state):
            p, j0 = state
            j1 = way[j0]
            return p.at[j0].set(p[j1]), j1

        p, _ = jax.lax.while_loop(lambda s: s[1] != 0, augment, (p, j0))
        return u, v, p

    init = (u0, jnp.zeros(m + 1, dtype), p0)
    _, _, p = jax.lax.fori_loop(1, n + 1, add_row, init)
    # row_of_col -> col_of_row: for each row r, the column j >= 1 with p[j] == r + 1.
    match = p[None, 1:] == jnp.arange(1, n + 1, dtype=jnp.int32)[:, None]  # (n, m)
    return jnp.where(match.any(axis=1), jnp.argmax(match, axis=1), -1).astype(jnp.int32)


def _augmented(cost, row_valid, col_valid):
    """The (n, m + n) matrix whose optimum is the max-cardinality min-cost assignment."""
    import jax.numpy as jnp

    n, _ = cost.shape
    allowed = jnp.isfinite(cost) & row_valid[:, None] & col_valid[None, :]
    any_allowed = allowed.any()
    lo = jnp.where(any_allowed, jnp.min(jnp.where(allowed, cost, jnp.inf)), 0.0)
    hi = jnp.where(any_allowed, jnp.max(jnp.where(allowed, cost, -jnp.inf)), 0.0)
    pen = (n + 1) * (hi - lo + 1.0)
    big = 2.0 * pen + 1.0
    real = jnp.where(allowed, cost - lo, big)
    # a padded row costs 0 on "its own" unassigned column and 1 on the others, so the warm
    # start parks every padded row at once (any value would be optimal for it)
    own = jnp.eye(n, dtype=bool)
    dummy = jnp.where(row_valid[:, None], pen, jnp.where(own, 0.0, 1.0))
    return jnp.concatenate([real, dummy], axis=1), allowed


def _solve_one(cost, row_valid, col_valid):
    import jax.numpy as jnp

    n, m = cost.shape
    aug, allowed = _augmented(cost, row_valid, col_valid)
    col = _hungarian(aug)
    real = (col >= 0) & (col < m)
    safe = jnp.where(real, col, 0)
    ok = real & allowed[jnp.arange(n), safe] & row_valid
    col = jnp.where(ok, col, -1)
    need = jnp.minimum(row_valid.sum(), col_valid.sum())
    return col, ok.sum() == need


@lru_cache(maxsize=None)
def _batched():
    import jax

    return jax.jit(jax.vmap(_solve_one))


def solve_padded(costs: np.ndarray, key_valid: np.ndarray | None = None,
                 finger_valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Solve (B, K, F) problems; returns (finger_of_key (B, K) with -1, feasible (B,)).

    Non-finite entries are forbidden; invalid (padded) rows/columns take no part.
    """
    import jax

    c = np.asarray(costs, dtype=np.float64)
    batch, num_keys, num_fingers = c.shape
    kv = np.ones((batch, num_keys), bool) if key_valid is None else np.asarray(key_valid, bool)
    fv = (np.ones((batch, num_fingers), bool) if finger_valid is None
          else np.asarray(finger_valid, bool))
    transpose = num_keys > num_fingers
    if transpose:  # rows must be the smaller side
        c, kv, fv = np.swapaxes(c, 1, 2), fv, kv
    with jax.enable_x64(True):
        col, feasible = _batched()(c, kv, fv)
        col, feasible = np.asarray(col, dtype=np.int64), np.asarray(feasible, dtype=bool)
    if not transpose:
        return col, feasible
    # col[b, f] = key assigned to finger f; invert to finger_of_key.
    finger_of_key = np.full((batch, num_keys), -1, dtype=np.int64)
    bi, fi = np.nonzero(col >= 0)
    finger_of_key[bi, col[bi, fi]] = fi
    return finger_of_key, feasible


def assign(cost, key_valid, finger_valid):
    """One (K, F) problem inside a caller's jitted/vmapped code: (finger_of_key (K,), feasible).

    The traceable form of ``solve_padded`` for code that is already JAX (e.g. the MJX piano
    environment computing its OT reward on the device): same rules, same padding masks, in
    the caller's dtype (float32 under default JAX: ties may break differently from float64,
    the optimal total cost agrees to float32 precision). The smaller side becomes the rows,
    a static choice since shapes are static.
    """
    import jax.numpy as jnp

    num_keys, num_fingers = cost.shape
    if num_keys <= num_fingers:
        col, feasible = _solve_one(cost, key_valid, finger_valid)
        return col, feasible
    key_of_finger, feasible = _solve_one(cost.T, finger_valid, key_valid)
    hit = key_of_finger[None, :] == jnp.arange(num_keys)[:, None]  # (K, F)
    return jnp.where(hit.any(axis=1), jnp.argmax(hit, axis=1), -1).astype(jnp.int32), feasible
