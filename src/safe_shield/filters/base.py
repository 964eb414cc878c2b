"""The contract every safety filter implements.

``filter(x, u_cmd)`` gets the already-validated state as a float32 row ``x`` of shape (1, n_obs)
and the finite command ``u_cmd`` (float64, shape (n_act,)). It returns a :class:`FilterResult`
whose ``action`` is a certified action inside the action bounds, or ``None`` when it cannot
certify anything; the shield then uses the fallback. Filters never pass an uncertified command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(slots=True)
class FilterResult:
    action: np.ndarray | None   # certified action, or None: "use the fallback"
    modified: bool              # True when action differs from the (bound-clipped) command
    reason: str                 # a safe_shield.decision.Reason string
    certificate: float          # the certificate value at this state (see Decision.certificate)


class SafetyFilter(Protocol):
    n_obs: int
    n_act: int

    def filter(self, x: np.ndarray, u_cmd: np.ndarray) -> FilterResult: ...


def normalised_distance_sq(candidates: np.ndarray, u: np.ndarray, half_range: np.ndarray) -> np.ndarray:
    """Squared distance in action units scaled to the box, so no axis dominates by its units."""
    d = (candidates - u) / half_range
    return np.einsum("ij,ij->i", d, d)
