"""Safety-index filter: project the command onto the safe-action set of an energy function φ.

For every constraint i (e.g. one per hazard) the one-step condition of SIS eq. (1),
    φ_i(x') ≤ max(φ_i(x) − η_D, 0) − ε        (strict "<" implemented as ≤ −ε),
is linearised with a control-affine model ẋ = f(x) + g(x)u over one step dt:
    φ_i(x) + dt·∇φ_i(x)ᵀ(f(x) + g(x)u) ≤ max(φ_i(x) − η_D, 0) − ε,
which is linear in u:  (dt ∇φ_iᵀ g) u ≤ max(φ_i − η_D, 0) − ε − φ_i − dt ∇φ_iᵀ f.
The safe action is  argmin ‖u − u_cmd‖²  s.t. those rows and the action bounds, solved exactly by
daqp (a dual active-set QP solver; no ADMM tolerance in a shield). A command that already
satisfies every row passes without a QP.
"""

from __future__ import annotations

import daqp
import numpy as np

from .. import kernels
from ..bundle import Bundle, BundleError
from ..decision import Reason
from ..onnx_graph import OnnxGraph
from .base import FilterResult

_DAQP_OPTIMAL = 1
_FEASIBILITY_TOL = 1e-6


class LinearControlAffine:
    """ẋ = A x + B u + c with constant matrices (e.g. a damped point mass)."""

    def __init__(self, A: np.ndarray, B: np.ndarray, c: np.ndarray):
        self.A = np.ascontiguousarray(A, np.float64)
        self.B = np.ascontiguousarray(B, np.float64)
        self.c = np.ascontiguousarray(c, np.float64)

    def __call__(self, x: np.ndarray, f_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f(x), g(x)) for the float32 state row x of shape (1, n); f is written into f_out
        (the caller's buffer: the model holds no per-call state, so two threads may share it)."""
        kernels.affine(self.A, x, self.c, f_out)
        return f_out, self.B


class OnnxControlAffine:
    """A learned control-affine model: graph ``control_affine`` maps obs to f [n] and g [n, m]."""

    def __init__(self, graph: OnnxGraph):
        self.graph = graph

    def __call__(self, x: np.ndarray, f_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, g = self.graph(obs=x)    # session.run: thread-safe, fresh output arrays
        f_out[:] = f[0]
        return f_out, np.ascontiguousarray(g[0], np.float64)


def model_from_manifest(bundle: Bundle, spec: dict):
    n, m = bundle.observation.size, bundle.action.size
    kind = spec.get("type")
    if kind == "linear":
        try:
            A = np.asarray(spec["A"], dtype=np.float64)
            B = np.asarray(spec["B"], dtype=np.float64)
            c = np.asarray(spec.get("c", [0.0] * n), dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(bundle.path, f"filter.model (linear) needs numeric A, B, c: {exc}") from None
        if A.shape != (n, n) or B.shape != (n, m) or c.shape != (n,):
            raise BundleError(bundle.path, f"filter.model (linear): A must be {n}x{n}, B {n}x{m}, "
                                           f"c {n}; got {A.shape}, {B.shape}, {c.shape}")
        return LinearControlAffine(A, B, c)
    if kind == "onnx":
        return OnnxControlAffine(bundle.graph("control_affine"))
    raise BundleError(bundle.path, f"filter.model.type {kind!r} unknown (use 'linear' or 'onnx')")


class SafeActionQP:
    """argmin ‖u − u_cmd‖²  s.t.  A u ≤ b,  low ≤ u ≤ high — exactly, with daqp.

    Returns None when the problem is infeasible or the solver's answer fails an independent
    feasibility check (tolerance 1e-6)."""

    def __init__(self, low: np.ndarray, high: np.ndarray, n_constraints: int):
        n = len(low)
        self.n = n
        self.low, self.high = np.asarray(low, float), np.asarray(high, float)
        # Reused across calls: H = I, and daqp's simple bounds come first in bupper/blower.
        self._H = np.eye(n)
        self._bupper = np.empty(n + n_constraints)
        self._blower = np.empty(n + n_constraints)
        self._bupper[:n], self._blower[:n] = self.high, self.low
        self._blower[n:] = -1e30

    def solve(self, u_cmd: np.ndarray, A: np.ndarray, b: np.ndarray) -> np.ndarray | None:
        self._bupper[self.n:] = b
        u, _, exitflag, _ = daqp.solve(self._H, -u_cmd, A, self._bupper, self._blower)
        if exitflag != _DAQP_OPTIMAL:
            return None
        if (A @ u > b + _FEASIBILITY_TOL).any() or (u < self.low - _FEASIBILITY_TOL).any() \
                or (u > self.high + _FEASIBILITY_TOL).any():
            return None
        return np.minimum(np.maximum(u, self.low), self.high)


class IndexRows:
    """The linearised eq. (1) rows of one state x: A u ≤ b, φ(x), and whether all are finite.
    ``x`` is NaN until the rows are complete, so a half-written record never matches a state."""

    __slots__ = ("x", "A", "b", "phi", "f", "finite", "certificate")

    def __init__(self, n_obs: int, n_constraints: int, n_act: int):
        self.x = np.full((1, n_obs), np.nan, np.float32)
        self.A = np.empty((n_constraints, n_act))
        self.b = np.empty(n_constraints)
        self.phi = np.empty(n_constraints, np.float32)
        self.f = np.empty(n_obs)                  # the model's drift f(x), a work buffer
        self.finite = False
        self.certificate = float("nan")           # max_i φ_i(x), reported with each decision


class SafetyIndexFilter:
    def __init__(self, index: OnnxGraph, model, act_low: np.ndarray, act_high: np.ndarray, *,
                 dt: float, eta: float, epsilon: float, n_obs: int, n_constraints: int):
        self.index, self.model = index, model
        self.n_obs, self.n_act, self.n_constraints = n_obs, len(act_low), n_constraints
        self.low = np.array(act_low, np.float64)   # own writable copies: numba
        self.high = np.array(act_high, np.float64)  # signatures take no read-only arrays
        self.dt, self.eta, self.epsilon = dt, eta, epsilon
        self.qp = SafeActionQP(self.low, self.high, n_constraints)
        # Two evaluators with their own IOBinding (one per thread; a session serves both):
        # the decision thread's, with one reused rows record, and prepare()'s, which publishes
        # a fresh record per state so a record being read is never written again.
        self._index = index.bind(1)
        self._rows = IndexRows(n_obs, n_constraints, self.n_act)
        self._prepare_index = index.bind(1)
        self._prepared: IndexRows | None = None
        self._u = np.empty(self.n_act)

    @classmethod
    def from_bundle(cls, bundle: Bundle, params: dict) -> "SafetyIndexFilter":
        try:
            dt, eta, eps = float(params["dt"]), float(params.get("eta", 0.0)), float(params["epsilon"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(bundle.path, f"filter (safety_index) needs numeric dt and epsilon: {exc}") from None
        if not (dt > 0 and eta >= 0 and eps >= 0):
            raise BundleError(bundle.path, "filter (safety_index): need dt > 0, eta >= 0, epsilon >= 0")
        if "model" not in params:
            raise BundleError(bundle.path, "filter (safety_index) needs a 'model' (linear or onnx)")
        index = bundle.graph("index")
        m = index.spec.outputs["phi"][1] if "phi" in index.spec.outputs else None
        if m is None or index.spec.outputs.get("grad") != ["batch", m, bundle.observation.size]:
            raise BundleError(bundle.path, "graph 'index' must output phi [batch, m] and "
                                           f"grad [batch, m, {bundle.observation.size}]")
        return cls(index, model_from_manifest(bundle, params["model"]), bundle.action.low,
                   bundle.action.high, dt=dt, eta=eta, epsilon=eps,
                   n_obs=bundle.observation.size, n_constraints=m)

    def _evaluate(self, x: np.ndarray, rows: IndexRows, index) -> IndexRows:
        rows.x[0, 0] = np.nan              # a failure below must not leave stale rows "valid"
        index.inputs["obs"][:] = x
        out = index()
        rows.phi[:] = out["phi"][0]
        f, G = self.model(x, rows.f)
        rows.finite = kernels.safety_index_rows(rows.phi, out["grad"][0], f, G, self.dt,
                                                self.eta, self.epsilon, rows.A, rows.b)
        rows.certificate = float(rows.phi.max())
        rows.x[:] = x
        return rows

    def constraints(self, x: np.ndarray) -> IndexRows:
        """The rows for the float32 state row x (1, n). They depend on the state only, so they are
        computed once per distinct state: a controller sends several commands per state update
        (500 Hz commands on 50 Hz odometry), and only the projection is per command. Rows
        prepared for exactly this state are used as they are; otherwise they are evaluated into
        the decision thread's reused record (valid until its next evaluation)."""
        rows = self._prepared              # one read: prepare() replaces it, never mutates it
        if rows is not None and kernels.same_rows(x, rows.x):
            return rows
        rows = self._rows
        if kernels.same_rows(x, rows.x):
            return rows
        return self._evaluate(x, rows, self._index)

    def prepare(self, x: np.ndarray) -> None:
        """Do the per-state work for x now, possibly on another thread than the decisions (one
        preparing thread at a time): the rows go into a new record, published by one store."""
        rows = IndexRows(self.n_obs, self.n_constraints, self.n_act)
        self._prepared = self._evaluate(x, rows, self._prepare_index)

    def filter(self, x: np.ndarray, u_cmd: np.ndarray) -> FilterResult:
        rows = self.constraints(x)
        certificate = rows.certificate
        if not rows.finite:
            return FilterResult(None, False, Reason.MODEL_OUTPUT_NOT_FINITE, certificate)
        check = kernels.clip_and_check(u_cmd, self.low, self.high, rows.A, rows.b, self._u)
        if check != kernels.VIOLATES:   # the (bound-clipped) command satisfies every row
            clipped = check == kernels.SATISFIES_CLIPPED
            return FilterResult(self._u.copy(), clipped,
                                Reason.PROJECTED if clipped else Reason.CERTIFIED, certificate)
        u_safe = self.qp.solve(u_cmd, rows.A, rows.b)
        if u_safe is None:
            return FilterResult(None, False, Reason.QP_INFEASIBLE, certificate)
        return FilterResult(u_safe, True, Reason.PROJECTED, certificate)
