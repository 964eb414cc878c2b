"""Barrier filter (CRABS): keep the next state inside the certified set {h ≥ 0} for every
member of the dynamics ensemble.

Per decision (CRABS digest §7): if h(x) < 0 there is no guarantee → report failure (the shield
falls back to the certified backup policy). If min_k h(μ_k(x, u_cmd)) ≥ margin, pass the command.
Otherwise check a batch of candidates in one ensemble call plus one barrier call (blends between
the command and the backup policy's action, and perturbations of the command) and take the
admissible one closest to the command; else report failure.
"""

from __future__ import annotations

import numpy as np

from ..bundle import Bundle, BundleError
from ..decision import Reason
from ..onnx_graph import OnnxGraph
from .base import FilterResult, normalised_distance_sq


class BarrierFilter:
    def __init__(self, barrier: OnnxGraph, dynamics: OnnxGraph, backup_policy: OnnxGraph,
                 act_low: np.ndarray, act_high: np.ndarray, *, n_obs: int, ensemble_size: int,
                 margin: float, num_candidates: int = 32, candidate_std: float = 0.25, seed: int = 0):
        self.barrier, self.dynamics, self.backup_policy = barrier, dynamics, backup_policy
        self.n_obs, self.n_act, self.k = n_obs, len(act_low), ensemble_size
        self.low, self.high = np.asarray(act_low, float), np.asarray(act_high, float)
        self.half_range = (self.high - self.low) / 2
        self.margin, self.candidate_std = margin, candidate_std
        self._rng = np.random.default_rng(seed)
        n = num_candidates
        self._n_blend = max(2, n // 4)
        # α = 0 is the command itself, α = 1 the backup action: the blend line between them.
        self._alphas = np.linspace(0.0, 1.0, self._n_blend)[:, None]
        # Bound (preallocated) calls for the two paths: the command alone, and n candidates.
        self._h_x = barrier.bind(1)
        self._step_cmd, self._h_cmd = dynamics.bind(1), barrier.bind(ensemble_size)
        self._step_cands, self._h_cands = dynamics.bind(n), barrier.bind(n * ensemble_size)
        self._backup = backup_policy.bind(1)
        self._candidates = np.empty((n, self.n_act), np.float64)
        self._noise = np.empty((n - self._n_blend, self.n_act))

    @classmethod
    def from_bundle(cls, bundle: Bundle, params: dict, seed: int = 0) -> "BarrierFilter":
        try:
            margin = float(params["margin"])
            n = int(params.get("num_candidates", 32))
            std = float(params.get("candidate_std", 0.25))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(bundle.path, f"filter (barrier) needs a numeric margin: {exc}") from None
        if n < 4 or std <= 0 or margin < 0:
            raise BundleError(bundle.path, "filter (barrier): num_candidates ≥ 4, candidate_std > 0, margin ≥ 0")
        barrier, dynamics = bundle.graph("barrier"), bundle.graph("dynamics")
        n_obs = bundle.observation.size
        if barrier.spec.outputs.get("h") != ["batch", 1]:
            raise BundleError(bundle.path, "graph 'barrier' must output h [batch, 1]")
        nxt = dynamics.spec.outputs.get("next_obs")
        if nxt is None or len(nxt) != 3 or nxt[2] != n_obs:
            raise BundleError(bundle.path, f"graph 'dynamics' must output next_obs [batch, K, {n_obs}]")
        return cls(barrier, dynamics, bundle.graph("backup_policy"), bundle.action.low,
                   bundle.action.high, n_obs=n_obs, ensemble_size=nxt[1], margin=margin,
                   num_candidates=n, candidate_std=std, seed=seed)

    def _worst_next_h(self, step, h, x: np.ndarray, act: np.ndarray) -> np.ndarray:
        """min over ensemble members of h(μ_k(x, a)), one value per row of act."""
        step.inputs["obs"][:] = x
        step.inputs["act"][:] = act
        h.inputs["obs"][:] = step()["next_obs"].reshape(-1, self.n_obs)
        return h()["h"].reshape(len(act), self.k).min(axis=1)

    def filter(self, x: np.ndarray, u_cmd: np.ndarray) -> FilterResult:
        self._h_x.inputs["obs"][:] = x
        h_x = float(self._h_x()["h"][0, 0])
        if not np.isfinite(h_x):
            return FilterResult(None, False, Reason.MODEL_OUTPUT_NOT_FINITE, h_x)
        if h_x < 0:
            return FilterResult(None, False, Reason.OUTSIDE_CERTIFIED_SET, h_x)
        u = np.clip(u_cmd, self.low, self.high)
        clipped = not np.array_equal(u, u_cmd)
        worst = self._worst_next_h(self._step_cmd, self._h_cmd, x, u[None])
        if not np.isfinite(worst).all():
            return FilterResult(None, False, Reason.MODEL_OUTPUT_NOT_FINITE, h_x)
        if worst[0] >= self.margin:
            return FilterResult(u, clipped, Reason.CERTIFIED, h_x)

        self._backup.inputs["obs"][:] = x
        u_ref = np.clip(self._backup()["act"][0].astype(np.float64), self.low, self.high)
        cands = self._candidates
        np.multiply(1.0 - self._alphas, u, out=cands[: self._n_blend])
        cands[: self._n_blend] += self._alphas * u_ref
        self._rng.standard_normal(out=self._noise)
        np.multiply(self._noise, self.candidate_std * self.half_range, out=cands[self._n_blend:])
        cands[self._n_blend:] += u
        np.clip(cands, self.low, self.high, out=cands)
        worst = self._worst_next_h(self._step_cands, self._h_cands, x, cands)
        ok = np.isfinite(worst) & (worst >= self.margin)
        if not ok.any():
            return FilterResult(None, False, Reason.NO_SAFE_CANDIDATE, h_x)
        dist = normalised_distance_sq(cands, u, self.half_range)
        dist[~ok] = np.inf
        return FilterResult(cands[int(np.argmin(dist))].copy(), True, Reason.NEAREST_SAFE_CANDIDATE, h_x)
