"""Compiled arithmetic of the shield's per-decision path (numba, typed signatures, cached on disk).

Why compiled: a decision on a small robot is a few dozen multiply-adds on 2- to 18-element arrays,
and each numpy call on arrays that small costs 1–5 µs of interpreter overhead on a small CPU (a
safety-index decision made about fifteen of them). One compiled call does the same arithmetic for
well under a microsecond plus ~0.4 µs of dispatch. The signatures are explicit, so each kernel is
compiled once (at import, or loaded from numba's on-disk cache) and a wrong dtype or layout is a
TypeError, which the shield treats like any other filter error: fail closed.

Every kernel writes into arrays the caller preallocated; none allocates.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# State validation outcomes (state_problem).
STATE_OK, STATE_OUT_OF_RANGE, STATE_NOT_FINITE = 0, 1, 2
# Command check outcomes (clip_and_check).
SATISFIES, SATISFIES_CLIPPED, VIOLATES = 0, 1, 2

_OPTS = dict(cache=True, nogil=True, error_model="numpy")


@njit("int64(float32[:, ::1], float32[::1], float32[::1])", **_OPTS)
def state_problem(x, low, high):
    """STATE_OK if every entry of the row x[0] lies in [low, high]; else whether it is out of
    range or not finite (NaN fails every comparison, so it can never read as in range)."""
    out_of_range = False
    for j in range(x.shape[1]):
        v = x[0, j]
        if not (v >= low[j] and v <= high[j]):
            if v != v or v - v != 0.0:          # NaN, or ±inf (inf - inf is NaN)
                return STATE_NOT_FINITE
            out_of_range = True
    return STATE_OUT_OF_RANGE if out_of_range else STATE_OK


@njit(["int64(float64[::1], float32[:, ::1], float32[::1], float32[::1], boolean)",
       "int64(float32[::1], float32[:, ::1], float32[::1], float32[::1], boolean)"], **_OPTS)
def load_state(state, x, low, high, check_range):
    """x[0] = state (as float32), then state_problem(x) (only finiteness unless check_range):
    the decision's state copy and validation in one call. state must have x's length."""
    for j in range(x.shape[1]):
        x[0, j] = state[j]
    if check_range:
        return state_problem(x, low, high)
    for j in range(x.shape[1]):
        v = x[0, j]
        if v - v != 0.0:
            return STATE_NOT_FINITE
    return STATE_OK


@njit("boolean(float32[:, ::1], float32[:, ::1])", **_OPTS)
def same_rows(a, b):
    """a == b elementwise (NaN is never equal, so a NaN state is never treated as seen)."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if not a[i, j] == b[i, j]:
                return False
    return True


@njit("boolean(float64[::1])", **_OPTS)
def all_finite(v):
    for j in range(v.shape[0]):
        if v[j] - v[j] != 0.0:                  # NaN and ±inf both give NaN here
            return False
    return True


@njit("boolean(float64[::1], float64[::1], float64[::1])", **_OPTS)
def finite_within(u, low, high):
    """u is finite and inside [low, high] (the shield's final guard on a filter's answer)."""
    for j in range(u.shape[0]):
        if not (u[j] >= low[j] and u[j] <= high[j]):   # False for NaN
            return False
    return True


@njit("void(float64[:, ::1], float32[:, ::1], float64[::1], float64[::1])", **_OPTS)
def affine(A, x, c, out):
    """out = A x[0] + c: the drift f(x) of a linear control-affine model."""
    for i in range(A.shape[0]):
        s = c[i]
        for j in range(A.shape[1]):
            s += A[i, j] * x[0, j]
        out[i] = s


@njit("boolean(float32[::1], float32[:, ::1], float64[::1], float64[:, ::1], float64, float64, "
      "float64, float64[:, ::1], float64[::1])", **_OPTS)
def safety_index_rows(phi, J, f, G, dt, eta, epsilon, A, b):
    """The linearised SIS eq. (1) for each constraint i, as rows of A u ≤ b:
        A_i = dt ∇φ_iᵀ G,   b_i = max(φ_i − η_D, 0) − ε − φ_i − dt ∇φ_iᵀ f.
    Returns whether every entry of A and b is finite."""
    finite = True
    m, n, k = J.shape[0], J.shape[1], G.shape[1]
    for i in range(m):
        jf = 0.0
        for j in range(n):
            jf += J[i, j] * f[j]
        for a in range(k):
            s = 0.0
            for j in range(n):
                s += J[i, j] * G[j, a]
            A[i, a] = dt * s
            finite &= A[i, a] - A[i, a] == 0.0
        p = np.float64(phi[i])
        b[i] = max(p - eta, 0.0) - p - (dt * jf + epsilon)
        finite &= b[i] - b[i] == 0.0
    return finite


@njit("int64(float64[::1], float64[::1], float64[::1], float64[:, ::1], float64[::1], float64[::1])",
      **_OPTS)
def clip_and_check(u_cmd, low, high, A, b, u):
    """u = u_cmd clipped to [low, high]; then SATISFIES (unchanged), SATISFIES_CLIPPED, or
    VIOLATES when some row of A u ≤ b does not hold (the QP must move it)."""
    clipped = False
    for j in range(u.shape[0]):
        v = min(max(u_cmd[j], low[j]), high[j])
        clipped |= v != u_cmd[j]
        u[j] = v
    for i in range(A.shape[0]):
        s = 0.0
        for a in range(A.shape[1]):
            s += A[i, a] * u[a]
        if not s <= b[i]:
            return VIOLATES
    return SATISFIES_CLIPPED if clipped else SATISFIES
