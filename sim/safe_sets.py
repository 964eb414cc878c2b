"""Closed-form unsafe sets that certificates and shields can evaluate on batches of states.

A paper's unsafe set is usually "some state coordinate leaves an interval" (CRABS: |θ| > 1.5, |x| > 0.9).
`BoxSafeSet` holds those intervals per state index and answers on arrays of any leading shape, in
numpy or torch, so the same object serves the environment, a certificate's training sampler and tests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BoxSafeSet:
    """Safe iff low[i] <= state[..., index[i]] <= high[i] for every constrained coordinate i."""

    index: tuple[int, ...]  # which state coordinates are constrained
    low: tuple[float, ...]
    high: tuple[float, ...]
    names: tuple[str, ...] = ()

    def margin(self, states):
        """Signed distance to the nearest bound (>= 0 safe, < 0 unsafe), per state; numpy or torch."""
        margins = []
        for i, lo, hi in zip(self.index, self.low, self.high):
            z = states[..., i]
            margins.append(_minimum(z - lo, hi - z))
        out = margins[0]
        for m in margins[1:]:
            out = _minimum(out, m)
        return out

    def is_unsafe(self, states):
        """Boolean array: True where the state lies outside the box (the boundary itself is safe)."""
        return self.margin(states) < 0

    def contains(self, states):
        return self.margin(states) >= 0


def _minimum(a, b):
    if isinstance(a, np.ndarray) or np.isscalar(a):
        return np.minimum(a, b)
    import torch  # only needed when called with tensors

    return torch.minimum(a, b)
