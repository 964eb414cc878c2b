"""The action used when nothing can be certified: zero, hold, or a certified backup policy.

Every path returns a finite action inside the action bounds. The backup policy needs a valid
state; when the state itself is the problem (NaN, stale, out of range) it is not evaluated and the
zero action is used instead. "hold" repeats the current value of the commanded quantities (e.g.
joint positions for a position-controlled arm) from the last valid state.
"""

from __future__ import annotations

import numpy as np

from .bundle import VectorSpec
from .onnx_graph import OnnxGraph


class Fallback:
    def __init__(self, kind: str, action_spec: VectorSpec, *, backup_policy: OnnxGraph | None = None,
                 hold_indices: np.ndarray | None = None):
        self.kind = kind
        self.low, self.high = action_spec.low, action_spec.high
        self.zero = np.clip(np.zeros(action_spec.size), self.low, self.high)
        self.backup_policy = backup_policy
        self.hold_indices = hold_indices
        self._held: np.ndarray | None = None
        if kind == "backup_policy" and backup_policy is None:
            raise ValueError("fallback 'backup_policy' needs a bundle with a backup_policy graph")
        if kind == "hold" and hold_indices is None:
            raise ValueError("fallback 'hold' needs hold indices")

    def observe(self, x: np.ndarray) -> None:
        """Remember the hold target from a validated state row (1, n_obs)."""
        if self.hold_indices is not None:
            self._held = np.clip(x[0, self.hold_indices].astype(np.float64), self.low, self.high)

    def action(self, x: np.ndarray | None) -> np.ndarray:
        """The fallback action; ``x`` is the validated state row, or None if the state is invalid."""
        if self.kind == "hold" and self._held is not None:
            return self._held.copy()
        if self.kind == "backup_policy" and x is not None:
            try:
                (u,) = self.backup_policy(obs=x)
                u = u[0].astype(np.float64)
            except Exception:  # a broken backup must not break the fallback
                return self.zero.copy()
            if np.isfinite(u).all():
                return np.clip(u, self.low, self.high)
        return self.zero.copy()
