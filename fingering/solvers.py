"""Solvers for the key->finger assignment of RP1M Eq. 1, behind one ``solve`` entry point.

``solve(cost, method)`` takes a (K, F) cost matrix (rows = keys, columns = fingers, the
convention of Eq. 1) and returns an ``Assignment``: the key->finger pairs and their total
cost d_OT. Solvers are looked up by name in a registry that users can extend with
``register_solver``; the built-in ones are

=============== ======================================================================
``jv``          scipy's ``linear_sum_assignment`` (modified Jonker-Volgenant), as RP1M.
``pot-emd``     POT's exact network-simplex OT (``ot.emd``) with a dummy row/column that
                absorbs the surplus mass of the rectangular problem.
``pot-sinkhorn`` POT's entropic OT (stabilized Sinkhorn), rounded to an assignment; the
                gap of the rounded cost to the exact optimum is reported (``gap``).
``jax``         an exact Hungarian algorithm (shortest augmenting paths with potentials),
                jitted and ``vmap``-ed in float64; the fast path for many environments at
                once is ``solve_batch(..., method="jax")``.
=============== ======================================================================

Defined behaviour at the edges (the same for every solver, enforced by ``solve``):

* ``K == 0`` (nothing to press) or ``F == 0``: an empty assignment with cost 0.
* ``K > F`` (more keys than fingers): the ``F`` keys whose assignment is cheapest are
  paired; the others are listed in ``Assignment.unassigned``. This is what scipy does for a
  wide matrix and what the public RP1M code relies on; d_OT then only sums the pairs.
* Non-finite entries (``nan``, ``+inf``, ``-inf``) are *forbidden* pairs. If no assignment
  of size ``min(K, F)`` avoids them, ``InfeasibleAssignmentError`` (a ``ValueError``) is
  raised with a message saying so; no solver returns silently wrong pairs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np

SolverOutput = tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Mapping[str, Any]]
SolverFn = Callable[..., SolverOutput]


class InfeasibleAssignmentError(ValueError):
    """No assignment of size min(K, F) avoids the forbidden (non-finite) pairs."""


@dataclass(frozen=True, eq=False)
class Assignment:
    """The solution of Eq. 1 for one cost matrix.

    keys, fingers: (M,) int arrays, the pairs (key row ``keys[i]`` is pressed by finger
      column ``fingers[i]``), sorted by key; ``M = min(K, F)``.
    cost: d_OT, the sum of ``cost[keys, fingers]`` (float64, recomputed from the input).
    unassigned: key rows without a finger (non-empty only when K > F).
    method: the solver that produced it.
    gap: for approximate solvers, rounded cost minus the exact optimum (else None).
    """

    keys: np.ndarray
    fingers: np.ndarray
    cost: float
    unassigned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    method: str = "jv"
    gap: float | None = None

    @property
    def num_pairs(self) -> int:
        return int(self.keys.size)

    def finger_of_key(self, num_keys: int) -> np.ndarray:
        """(num_keys,) finger column per key row, -1 where the key got no finger."""
        out = np.full(num_keys, -1, dtype=np.int64)
        out[self.keys] = self.fingers
        return out

    def pair_costs(self, cost: np.ndarray) -> np.ndarray:
        """The cost of each pair in ``cost`` (e.g. per-key distances for the reward)."""
        return np.asarray(cost, dtype=np.float64)[self.keys, self.fingers]


@dataclass(frozen=True)
class _Entry:
    fn: SolverFn
    exact: bool
    doc: str


_REGISTRY: dict[str, _Entry] = {}


def register_solver(name: str, fn: SolverFn, *, exact: bool = True, overwrite: bool = False,
                    doc: str = "") -> None:
    """Make ``fn`` available as ``solve(cost, method=name)``.

    ``fn(cost, **kw)`` receives a float64 (K, F) matrix with K, F >= 1 in which every
    forbidden pair is ``+inf``, and returns ``(key_rows, finger_cols)`` or
    ``(key_rows, finger_cols, extras)`` (extras may hold ``"gap"``). It must pair
    ``min(K, F)`` keys or raise ``InfeasibleAssignmentError``. ``solve`` checks the output
    (sizes, uniqueness, no forbidden pair) and recomputes the cost, so a faulty solver fails
    loudly. ``exact=True`` declares that it returns an optimal assignment (tests hold it to
    that).
    """
    if not name or not isinstance(name, str):
        raise ValueError("solver name must be a non-empty string")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"solver {name!r} is already registered (pass overwrite=True)")
    if not callable(fn):
        raise TypeError("solver must be callable")
    _REGISTRY[name] = _Entry(fn, exact, doc or (fn.__doc__ or "").strip().split("\n")[0])


def available_solvers() -> tuple[str, ...]:
    """Names accepted by ``solve(method=...)``."""
    return tuple(_REGISTRY)


def exact_solvers() -> tuple[str, ...]:
    """The registered solvers that claim optimality."""
    return tuple(name for name, entry in _REGISTRY.items() if entry.exact)


def solver_doc(name: str) -> str:
    return _lookup(name).doc


def _lookup(name: str) -> _Entry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown solver {name!r}; available: "
                         f"{', '.join(available_solvers())}") from None


def prepare_cost(cost: np.ndarray) -> np.ndarray:
    """float64 (K, F) copy of ``cost`` with every non-finite entry replaced by ``+inf``."""
    c = np.array(cost, dtype=np.float64, copy=True)
    if c.ndim != 2:
        raise ValueError(f"cost must be a 2-D (keys, fingers) matrix, got shape {c.shape}")
    if not math.isfinite(np.add.reduce(c, axis=None)):  # one call in the common case
        c[~np.isfinite(c)] = np.inf
    return c


def _empty(num_keys: int, method: str) -> Assignment:
    none = np.zeros(0, dtype=np.int64)
    return Assignment(none, none.copy(), 0.0, np.arange(num_keys, dtype=np.int64), method,
                      0.0 if _REGISTRY.get(method) and not _REGISTRY[method].exact else None)


def _finish(cost: np.ndarray, out: SolverOutput, method: str) -> Assignment:
    """Check a solver's pairs and build the ``Assignment``.

    It runs every environment step, right after ten physics substeps have evicted numpy's
    code from the CPU caches; there each distinct numpy call costs ~10 us instead of ~1 us.
    So the (at most ten) pairs are checked as Python ints, with two numpy calls in all.
    """
    num_keys, num_fingers = cost.shape
    extras: Mapping[str, Any] = out[2] if len(out) == 3 else {}
    keys = np.asarray(out[0], dtype=np.intp).ravel()
    fingers = np.asarray(out[1], dtype=np.intp).ravel()
    need = min(num_keys, num_fingers)
    if keys.size != need or fingers.size != need:
        raise RuntimeError(f"solver {method!r} returned {keys.size} keys and {fingers.size} "
                           f"fingers; expected {need} pairs for a {cost.shape} matrix")
    key_list, finger_list = keys.tolist(), fingers.tolist()
    if not (all(0 <= k < num_keys for k in key_list)
            and all(0 <= f < num_fingers for f in finger_list)):
        raise RuntimeError(f"solver {method!r} returned indices out of range")
    if len(set(key_list)) != need or len(set(finger_list)) != need:
        raise RuntimeError(f"solver {method!r} used a key or a finger twice")
    total = math.fsum(cost[keys, fingers].tolist())
    if not math.isfinite(total):  # cost holds only finite values and +inf
        raise _infeasible(cost)
    if any(a > b for a, b in zip(key_list, key_list[1:])):  # scipy's rows come sorted
        order = np.argsort(keys, kind="stable")
        keys, fingers = keys[order], fingers[order]
    unassigned = _NO_KEYS if need == num_keys else \
        np.array(sorted(set(range(num_keys)) - set(key_list)), dtype=np.intp)
    gap = extras.get("gap")
    return Assignment(keys, fingers, total, unassigned, method,
                      None if gap is None else float(gap))


_NO_KEYS = np.zeros(0, dtype=np.intp)
_NO_KEYS.setflags(write=False)


def solve(cost: np.ndarray, method: str = "jv", **kw: Any) -> Assignment:
    """Solve Eq. 1 for a (K, F) cost matrix (rows keys, columns fingers).

    ``kw`` goes to the solver (e.g. ``reg=`` for ``pot-sinkhorn``). See the module docstring
    for K > F, empty inputs and non-finite entries.
    """
    entry = _lookup(method)
    c = prepare_cost(cost)
    if 0 in c.shape:
        return _empty(c.shape[0], method)
    return _finish(c, entry.fn(c, **kw), method)


# --------------------------------------------------------------------------- built-ins


def _infeasible(cost: np.ndarray) -> InfeasibleAssignmentError:
    k, f = cost.shape
    return InfeasibleAssignmentError(
        f"no assignment of {min(k, f)} key(s) to finger(s) avoids the forbidden "
        f"(non-finite) pairs of this {k}x{f} cost matrix")


@lru_cache(maxsize=1)
def _lsa():
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment


def _solve_jv(cost: np.ndarray) -> SolverOutput:
    """scipy linear_sum_assignment (modified Jonker-Volgenant), as in RP1M."""
    try:
        return _lsa()(cost)
    except ValueError as exc:  # scipy: "cost matrix is infeasible"
        raise _infeasible(cost) from exc


def forbidden_to_big(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace ``+inf`` by a finite cost so large that no optimum of size min(K, F) uses it.

    Solvers that cannot take ``inf`` (POT) get this matrix; ``big`` exceeds the worst total of
    any feasible assignment, so a plan that still uses a forbidden pair proves infeasibility.
    Returns (matrix, forbidden mask).
    """
    forbidden = ~np.isfinite(cost)
    finite = cost[~forbidden]
    if finite.size == 0:
        raise _infeasible(cost)
    lo, hi = float(finite.min()), float(finite.max())
    big = hi + (min(cost.shape) + 1) * (hi - lo + 1.0)
    return np.where(forbidden, big, cost), forbidden


def _balanced_problem(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit masses on keys and fingers, plus one zero-cost dummy row (K < F) or column
    (K > F) carrying the surplus mass, so that ``ot.emd`` sees equal totals (DESIGN.md)."""
    num_keys, num_fingers = cost.shape
    big_cost, forbidden = forbidden_to_big(cost)
    # Every real key ships exactly one unit, so a constant shift leaves the optimum alone;
    # shifting to >= 0 avoids POT's network simplex mis-reporting negative 1x1 problems.
    big_cost = big_cost - big_cost.min()
    a, b = np.ones(num_keys), np.ones(num_fingers)
    if num_keys < num_fingers:
        big_cost = np.vstack([big_cost, np.zeros((1, num_fingers))])
        a = np.append(a, num_fingers - num_keys)
    elif num_keys > num_fingers:
        big_cost = np.hstack([big_cost, np.zeros((num_keys, 1))])
        b = np.append(b, num_keys - num_fingers)
    return a, b, big_cost, forbidden


def _solve_pot_emd(cost: np.ndarray, num_iter_max: int = 100_000) -> SolverOutput:
    """POT exact OT (network simplex) on the balanced problem with a dummy row/column."""
    import ot

    num_keys, num_fingers = cost.shape
    a, b, m, forbidden = _balanced_problem(cost)
    plan = ot.emd(a, b, m, numItermax=num_iter_max)
    keys, fingers = np.nonzero(plan[:num_keys, :num_fingers] > 0.5)
    if forbidden[keys, fingers].any() or keys.size != min(num_keys, num_fingers):
        raise _infeasible(cost)
    return keys, fingers


DEFAULT_SINKHORN_REG = 1e-2


def _solve_pot_sinkhorn(cost: np.ndarray, reg: float = DEFAULT_SINKHORN_REG,
                        num_iter_max: int = 200, stop_thr: float = 1e-6,
                        report_gap: bool = True) -> SolverOutput:
    """POT entropic OT (stabilized Sinkhorn) rounded to the max-mass assignment.

    ``reg`` is relative: the costs are rescaled to [0, 1] (subtract the min, divide by the
    range) before Sinkhorn, so the same ``reg`` means the same blur whatever the units.
    Rounding picks the assignment that carries the most transported mass (an exact matching
    on the *plan*, not on the costs). ``gap`` = rounded cost - exact (``jv``) cost, >= 0;
    pass ``report_gap=False`` to skip the exact solve.
    """
    import ot
    from scipy.optimize import linear_sum_assignment

    if reg <= 0:
        raise ValueError(f"reg must be > 0, got {reg}")
    num_keys, num_fingers = cost.shape
    a, b, m, forbidden = _balanced_problem(cost)
    finite = cost[~forbidden]
    lo, span = float(finite.min()), float(np.ptp(finite)) or 1.0
    scaled = np.zeros_like(m)  # dummy row/column stays at 0
    scaled[:num_keys, :num_fingers] = np.where(forbidden, 2.0, (cost - lo) / span)
    with warnings.catch_warnings():  # non-convergence only blurs the plan; the gap says how much
        warnings.simplefilter("ignore", UserWarning)
        plan = ot.sinkhorn(a, b, scaled, reg, method="sinkhorn_stabilized", numItermax=num_iter_max,
                           stopThr=stop_thr)
    mass = np.where(forbidden, np.inf, -np.asarray(plan)[:num_keys, :num_fingers])
    try:
        keys, fingers = linear_sum_assignment(mass)
    except ValueError as exc:
        raise _infeasible(cost) from exc
    extras: dict[str, Any] = {}
    if report_gap:
        exact_keys, exact_fingers = _solve_jv(cost)
        extras["gap"] = float(cost[keys, fingers].sum() - cost[exact_keys, exact_fingers].sum())
    return keys, fingers, extras


def _solve_jax(cost: np.ndarray) -> SolverOutput:
    """Exact Hungarian algorithm in JAX (float64, jit); batch it with ``solve_batch``."""
    from fingering import jax_hungarian

    # Pad both sides up to a multiple of 5 (masked out) so that varying key counts reuse a
    # handful of compiled shapes instead of recompiling (~1 s) for every (K, F).
    num_keys, num_fingers = cost.shape
    kp, fp = (-(-n // JAX_BUCKET) * JAX_BUCKET for n in cost.shape)
    padded = np.zeros((1, kp, fp))
    padded[0, :num_keys, :num_fingers] = cost
    kv = np.zeros((1, kp), bool)
    kv[0, :num_keys] = True
    fv = np.zeros((1, fp), bool)
    fv[0, :num_fingers] = True
    finger_of_key, feasible = jax_hungarian.solve_padded(padded, kv, fv)
    if not feasible[0]:
        raise _infeasible(cost)
    row = finger_of_key[0, :num_keys]
    keys = np.flatnonzero(row >= 0)
    return keys, row[keys]


JAX_BUCKET = 5


register_solver("jv", _solve_jv, exact=True)
register_solver("pot-emd", _solve_pot_emd, exact=True)
register_solver("pot-sinkhorn", _solve_pot_sinkhorn, exact=False)
register_solver("jax", _solve_jax, exact=True)


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True, eq=False)
class BatchAssignment:
    """Solutions for a batch of padded cost matrices.

    finger_of_key: (B, K) finger column per key row; -1 for padding keys and unassigned ones.
    cost: (B,) d_OT of each problem (0 for an empty one; ``inf`` where infeasible).
    feasible: (B,) False where no assignment avoided the forbidden pairs.
    """

    finger_of_key: np.ndarray
    cost: np.ndarray
    feasible: np.ndarray
    method: str

    def __len__(self) -> int:
        return int(self.cost.shape[0])

    def item(self, b: int, costs: np.ndarray) -> Assignment:
        """The b-th solution as an ``Assignment`` (``costs`` is the batch given to solve)."""
        row = self.finger_of_key[b]
        keys = np.flatnonzero(row >= 0)
        unassigned = np.flatnonzero(row < 0)
        return Assignment(keys, row[keys], float(np.asarray(costs)[b][keys, row[keys]].sum()),
                          unassigned, self.method)


def _as_mask(mask: np.ndarray | None, shape: tuple[int, int], name: str) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = np.asarray(mask, dtype=bool)
    if m.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {m.shape}")
    return m


def solve_batch(costs: np.ndarray, key_valid: np.ndarray | None = None,
                finger_valid: np.ndarray | None = None, *, method: str = "jax",
                allow_infeasible: bool = False, **kw: Any) -> BatchAssignment:
    """Solve B problems of one padded shape (B, K, F) at once.

    Padding: problems with fewer keys (or fingers) are padded up to K (F) with any values and
    the real rows/columns flagged in ``key_valid`` (B, K) / ``finger_valid`` (B, F); padded
    rows and columns take no part (their keys get -1). Each problem then follows ``solve``'s
    rules: it pairs min(valid keys, valid fingers) keys, non-finite entries are forbidden.
    ``method="jax"`` runs one jitted, vmapped Hungarian over the whole batch; any other
    registered method loops ``solve`` (the reference). An infeasible problem raises
    ``InfeasibleAssignmentError`` naming its batch index, unless ``allow_infeasible`` (then
    its ``feasible`` is False and its cost ``inf``).
    """
    c = np.asarray(costs, dtype=np.float64)
    if c.ndim != 3:
        raise ValueError(f"costs must have shape (B, K, F), got {c.shape}")
    batch, num_keys, num_fingers = c.shape
    kv = _as_mask(key_valid, (batch, num_keys), "key_valid")
    fv = _as_mask(finger_valid, (batch, num_fingers), "finger_valid")
    _lookup(method)
    if method == "jax" and batch and num_keys and num_fingers:
        from fingering import jax_hungarian

        finger_of_key, feasible = jax_hungarian.solve_padded(c, kv, fv)
    else:
        finger_of_key = np.full((batch, num_keys), -1, dtype=np.int64)
        feasible = np.ones(batch, dtype=bool)
        for b in range(batch):
            rows, cols = np.flatnonzero(kv[b]), np.flatnonzero(fv[b])
            try:
                sub = solve(c[b][np.ix_(rows, cols)], method=method, **kw)
            except InfeasibleAssignmentError:
                feasible[b] = False
                continue
            finger_of_key[b, rows[sub.keys]] = cols[sub.fingers]
    total = np.zeros(batch)
    has = finger_of_key >= 0
    if has.any():
        bi, ki = np.nonzero(has)
        np.add.at(total, bi, c[bi, ki, finger_of_key[bi, ki]])
    total[~feasible] = np.inf
    finger_of_key[~feasible] = -1
    if not allow_infeasible and not feasible.all():
        bad = np.flatnonzero(~feasible)
        raise InfeasibleAssignmentError(
            f"batch problem(s) {bad[:10].tolist()}{'...' if bad.size > 10 else ''} have no "
            "assignment avoiding the forbidden (non-finite) pairs")
    return BatchAssignment(finger_of_key, total, feasible, method)
