"""Numerical validity check of a safety index (SIS paper sec. 5.2 / Fig. 5 / Table 3; digest sec. 8 test 1).

A state s is FEASIBLE for index phi if some action a satisfies the safe-action constraint (eq. 1)
    phi(s') < max{phi(s) - eta_D, 0},   implemented as  Delta_phi(s, a) <= -eps  (digest: "<" as <= -eps).
We search the action set exhaustively on a grid (the paper: "discretize ... and exhaust all the actions").
The infeasible fraction over sampled states (visited and/or uniform) is the reported metric.

The checker is model-agnostic: `model` must provide
    model.d_ddot(states) -> (d [B, m], ddot [B, m])
    model.next_d_ddot(states, actions) -> (d' [B, A, m], ddot' [B, A, m])
with actions in the policy's normalised box [-1, 1]^dim.
"""
from __future__ import annotations

import itertools

import numpy as np

from safe_learners.sis_index import delta_phi_np

DEFAULT_EPS = 1e-4


def action_grid(n_per_dim: int = 21, dim: int = 2) -> np.ndarray:
    """All points of a regular grid on [-1, 1]^dim (includes the corners and 0 when n is odd)."""
    ax = np.linspace(-1.0, 1.0, n_per_dim)
    return np.array(list(itertools.product(*([ax] * dim))), dtype=np.float64)


def min_delta_phi(states, model, zeta, d_min, actions, eta_d=0.0, chunk=4096):
    """min over the action set of Delta_phi(s, a) for each state, and the minimising action index."""
    states = np.asarray(states, dtype=np.float64)
    out = np.empty(len(states))
    arg = np.empty(len(states), dtype=np.int64)
    for i in range(0, len(states), chunk):
        st = states[i:i + chunk]
        d, dd = model.d_ddot(st)
        d2, dd2 = model.next_d_ddot(st, actions)
        dphi = delta_phi_np(d[:, None, :], dd[:, None, :], d2, dd2, zeta, d_min, eta_d)   # [b, A]
        out[i:i + chunk] = dphi.min(axis=1)
        arg[i:i + chunk] = dphi.argmin(axis=1)
    return out, arg


def infeasible_mask(states, model, zeta, d_min, actions=None, eta_d=0.0, eps=DEFAULT_EPS):
    """True where NO action of the set satisfies eq. (1) (with margin eps)."""
    actions = action_grid() if actions is None else actions
    m, _ = min_delta_phi(states, model, zeta, d_min, actions, eta_d)
    return m > -eps


def infeasible_fraction(states, model, zeta, d_min, actions=None, eta_d=0.0, eps=DEFAULT_EPS) -> float:
    if len(states) == 0:
        return float("nan")
    return float(infeasible_mask(states, model, zeta, d_min, actions, eta_d, eps).mean())


def report(states_by_source: dict, model, indices: dict, d_min, actions=None, eta_d=0.0, eps=DEFAULT_EPS):
    """{index_name: {source: infeasible fraction}} for several indices and state sources."""
    return {name: {src: infeasible_fraction(st, model, z, d_min, actions, eta_d, eps)
                   for src, st in states_by_source.items()}
            for name, z in indices.items()}
