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
        self._f = np.empty(len(self.c))

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f(x), g(x)) for the float32 state row x of shape (1, n); f is a reused buffer."""
        kernels.affine(self.A, x, self.c, self._f)
        return self._f, self.B


class OnnxControlAffine:
    """A learned control-affine model: graph ``control_affine`` maps obs to f [n] and g [n, m]."""

    def __init__(self, graph: OnnxGraph):
        self.graph = graph

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, g = self.graph(obs=x)
        return np.ascontiguousarray(f[0], np.float64), np.ascontiguousarray(g[0], np.float64)


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


class SafetyIndexFilter:
    def __init__(self, index: OnnxGraph, model, act_low: np.ndarray, act_high: np.ndarray, *,
                 dt: float, eta: float, epsilon: float, n_obs: int, n_constraints: int):
        self.index, self.model = index, model
        self._index = index.bind(1)
        self._obs = self._index.inputs["obs"]
        self._phi, self._grad = self._index.outputs["phi"][0], self._index.outputs["grad"][0]
        self.n_obs, self.n_act = n_obs, len(act_low)
        self.low = np.array(act_low, np.float64)   # own writable copies: numba
        self.high = np.array(act_high, np.float64)  # signatures take no read-only arrays
        self.dt, self.eta, self.epsilon = dt, eta, epsilon
        self.qp = SafeActionQP(self.low, self.high, n_constraints)
        # Per-decision buffers: the rows A u ≤ b, the state they belong to, the clipped command.
        self._A = np.empty((n_constraints, self.n_act))
        self._b = np.empty(n_constraints)
        self._rows_x = np.full((1, n_obs), np.nan, np.float32)    # NaN: no rows yet
        self._rows_finite = False
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

    def constraints(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Rows (A, b) of the linearised eq. (1), A u ≤ b, φ(x), and whether A and b are finite;
        x is a float32 row (1, n). The rows depend on the state only, so they are computed once
        per distinct state: a controller sends several commands per state update (500 Hz
        commands on 50 Hz odometry), and only the projection is per command. A and b are reused
        buffers, valid until the next call."""
        if kernels.same_rows(x, self._rows_x):
            return self._A, self._b, self._phi, self._rows_finite
        self._rows_x[0, 0] = np.nan        # a failure below must not leave stale rows "valid"
        self._obs[:] = x
        self._index()
        f, G = self.model(x)
        self._rows_finite = kernels.safety_index_rows(self._phi, self._grad, f, G, self.dt,
                                                      self.eta, self.epsilon, self._A, self._b)
        self._rows_x[:] = x
        return self._A, self._b, self._phi, self._rows_finite

    def prepare(self, x: np.ndarray) -> None:
        """Do the per-state work now (on state arrival), off the command path."""
        self.constraints(x)

    def filter(self, x: np.ndarray, u_cmd: np.ndarray) -> FilterResult:
        A, b, phi, finite = self.constraints(x)
        certificate = float(phi.max())
        if not finite:
            return FilterResult(None, False, Reason.MODEL_OUTPUT_NOT_FINITE, certificate)
        check = kernels.clip_and_check(u_cmd, self.low, self.high, A, b, self._u)
        if check != kernels.VIOLATES:   # the (bound-clipped) command satisfies every row
            clipped = check == kernels.SATISFIES_CLIPPED
            return FilterResult(self._u.copy(), clipped,
                                Reason.PROJECTED if clipped else Reason.CERTIFIED, certificate)
        u_safe = self.qp.solve(u_cmd, A, b)
        if u_safe is None:
            return FilterResult(None, False, Reason.QP_INFEASIBLE, certificate)
        return FilterResult(u_safe, True, Reason.PROJECTED, certificate)
