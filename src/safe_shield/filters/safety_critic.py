"""Safety-critic filter (CSC / SQRL style): reject commands whose predicted failure risk is high.

Accept the command if Q_C(x, u_cmd) ≤ ε. Otherwise score a batch of candidate actions in ONE ONNX
call (half drawn around the command, half spread over the action box) and take the safe candidate
closest to the command; if none is safe, take the least-unsafe one when configured, else report
failure so the shield uses its fallback.
"""

from __future__ import annotations

import numpy as np

from ..bundle import Bundle, BundleError
from ..decision import Reason
from ..onnx_graph import OnnxGraph
from .base import FilterResult, normalised_distance_sq


class SafetyCriticFilter:
    def __init__(self, critic: OnnxGraph, act_low: np.ndarray, act_high: np.ndarray, *, n_obs: int,
                 epsilon: float, num_candidates: int = 64, candidate_std: float = 0.25,
                 use_least_unsafe: bool = False, seed: int = 0):
        self.critic = critic
        self.n_obs, self.n_act = n_obs, len(act_low)
        self.low, self.high = np.asarray(act_low, float), np.asarray(act_high, float)
        self.half_range = (self.high - self.low) / 2
        self.epsilon, self.use_least_unsafe = epsilon, use_least_unsafe
        self.candidate_std = candidate_std
        self._rng = np.random.default_rng(seed)
        n = num_candidates
        self._n_local = n - n // 2
        self._one, self._batch = critic.bind(1), critic.bind(n)
        self._candidates = np.empty((n, self.n_act), np.float64)
        # The spread half is fixed: the same coverage of the box at every decision.
        self._candidates[self._n_local:] = self._rng.uniform(self.low, self.high, (n // 2, self.n_act))
        self._noise = np.empty((self._n_local, self.n_act))

    @classmethod
    def from_bundle(cls, bundle: Bundle, params: dict, seed: int = 0) -> "SafetyCriticFilter":
        try:
            eps = float(params["epsilon"])
            n = int(params.get("num_candidates", 64))
            std = float(params.get("candidate_std", 0.25))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(bundle.path, f"filter (safety_critic) needs a numeric epsilon: {exc}") from None
        if n < 2 or std <= 0:
            raise BundleError(bundle.path, "filter (safety_critic): num_candidates ≥ 2, candidate_std > 0")
        critic = bundle.graph("critic")
        if critic.spec.outputs.get("q") != ["batch", 1]:
            raise BundleError(bundle.path, "graph 'critic' must output q [batch, 1]")
        return cls(critic, bundle.action.low, bundle.action.high, n_obs=bundle.observation.size,
                   epsilon=eps, num_candidates=n, candidate_std=std,
                   use_least_unsafe=bool(params.get("use_least_unsafe", False)), seed=seed)

    def filter(self, x: np.ndarray, u_cmd: np.ndarray) -> FilterResult:
        u = np.clip(u_cmd, self.low, self.high)
        clipped = not np.array_equal(u, u_cmd)
        one = self._one
        one.inputs["obs"][:] = x
        one.inputs["act"][0] = u
        q_cmd = float(one()["q"][0, 0])
        if not np.isfinite(q_cmd):
            return FilterResult(None, False, Reason.MODEL_OUTPUT_NOT_FINITE, q_cmd)
        if q_cmd <= self.epsilon:
            return FilterResult(u, clipped, Reason.CERTIFIED, q_cmd)

        local = self._candidates[: self._n_local]
        self._rng.standard_normal(out=self._noise)
        np.multiply(self._noise, self.candidate_std * self.half_range, out=local)
        local += u
        np.clip(local, self.low, self.high, out=local)
        batch = self._batch
        batch.inputs["obs"][:] = x
        batch.inputs["act"][:] = self._candidates
        qs = batch()["q"][:, 0]
        if not np.isfinite(qs).all():
            return FilterResult(None, False, Reason.MODEL_OUTPUT_NOT_FINITE, q_cmd)
        safe = qs <= self.epsilon
        if safe.any():
            dist = normalised_distance_sq(self._candidates, u, self.half_range)
            dist[~safe] = np.inf
            best = int(np.argmin(dist))
            return FilterResult(self._candidates[best].copy(), True, Reason.NEAREST_SAFE_CANDIDATE, q_cmd)
        if self.use_least_unsafe:
            best = int(np.argmin(qs))
            return FilterResult(self._candidates[best].copy(), True, Reason.LEAST_UNSAFE_CANDIDATE, q_cmd)
        return FilterResult(None, False, Reason.NO_SAFE_CANDIDATE, q_cmd)
