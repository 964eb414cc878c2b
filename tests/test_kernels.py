"""The compiled per-decision kernels compute exactly what their numpy definitions say, NaN and
±inf included (hypothesis draws the inputs), and the safety-index filter's per-state rows are
reused only for the very same state."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from safe_shield import kernels
from safe_shield.shield import Shield

from bundle_fixtures import DEMO_BUNDLE

special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0])
f64 = st.one_of(st.floats(-1e6, 1e6), special)
f32 = st.one_of(st.floats(-1e6, 1e6, width=32), special)


@settings(max_examples=300, deadline=None)
@given(arrays(np.float32, (1, 7), elements=f32))
def test_state_problem_matches_numpy(x):
    low, high = np.full(7, -10.0, np.float32), np.full(7, 10.0, np.float32)
    if not np.isfinite(x).all():
        want = kernels.STATE_NOT_FINITE
    elif ((x >= low) & (x <= high)).all():
        want = kernels.STATE_OK
    else:
        want = kernels.STATE_OUT_OF_RANGE
    assert kernels.state_problem(x, low, high) == want


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, 7, elements=st.one_of(st.floats(-1e6, 1e6), st.floats(1e38, 1e40),
                                                special)),
       st.booleans())
def test_load_state_is_a_float32_copy_then_its_validation(state, check_range):
    low, high = np.full(7, -10.0, np.float32), np.full(7, 10.0, np.float32)
    x = np.empty((1, 7), np.float32)
    with np.errstate(over="ignore"):
        state32 = state.astype(np.float32)                 # 1e39 overflows to inf, as numpy does
    want_x = state32.reshape(1, 7)
    if check_range:
        want = kernels.state_problem(want_x, low, high)
    else:
        want = kernels.STATE_OK if np.isfinite(want_x).all() else kernels.STATE_NOT_FINITE
    assert kernels.load_state(state, x, low, high, check_range) == want
    np.testing.assert_array_equal(x, want_x)
    assert kernels.load_state(state32, x, low, high, check_range) == want


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, 3, elements=f64))
def test_finiteness_and_bounds_checks_match_numpy(u):
    low, high = np.full(3, -1.0), np.full(3, 1.0)
    assert kernels.all_finite(u) == bool(np.isfinite(u).all())
    assert kernels.finite_within(u, low, high) == bool(
        np.isfinite(u).all() and (u >= low).all() and (u <= high).all())


@settings(max_examples=200, deadline=None)
@given(arrays(np.float32, (1, 5), elements=st.floats(-1e3, 1e3, width=32)),
       arrays(np.float32, (1, 5), elements=f32))
def test_same_rows_is_elementwise_equality_and_never_true_for_nan(a, b):
    assert kernels.same_rows(a, a.copy()) == bool(np.isfinite(a).all())
    assert kernels.same_rows(a, b) == bool(np.array_equal(a, b))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_safety_index_rows_match_the_linearised_eq_1(data):
    m, n, k = 4, 6, 2
    phi = data.draw(arrays(np.float32, m, elements=st.floats(-5, 5, width=32)))
    J = data.draw(arrays(np.float32, (m, n), elements=st.floats(-5, 5, width=32)))
    f = data.draw(arrays(np.float64, n, elements=st.floats(-5, 5)))
    G = data.draw(arrays(np.float64, (n, k), elements=st.floats(-5, 5)))
    dt, eta, eps = 0.02, data.draw(st.floats(0, 1)), 1e-3
    A, b = np.empty((m, k)), np.empty(m)
    finite = kernels.safety_index_rows(phi, J, f, G, dt, eta, eps, A, b)
    J64, phi64 = J.astype(np.float64), phi.astype(np.float64)
    np.testing.assert_allclose(A, dt * (J64 @ G), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b, np.maximum(phi64 - eta, 0) - phi64 - (dt * (J64 @ f) + eps),
                               rtol=1e-12, atol=1e-12)
    assert finite


def test_safety_index_rows_report_non_finite_model_output():
    A, b = np.empty((1, 2)), np.empty(1)
    J = np.ones((1, 3), np.float32)
    ok = kernels.safety_index_rows(np.zeros(1, np.float32), J, np.array([0.0, np.nan, 0.0]),
                                   np.ones((3, 2)), 0.02, 0.0, 0.0, A, b)
    assert not ok


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, 2, elements=st.floats(-3, 3)),
       arrays(np.float64, (3, 2), elements=st.floats(-2, 2)),
       arrays(np.float64, 3, elements=st.floats(-2, 2)))
def test_clip_and_check_matches_numpy(u_cmd, A, b):
    low, high = np.array([-1.0, -0.5]), np.array([1.0, 0.5])
    u = np.empty(2)
    got = kernels.clip_and_check(u_cmd, low, high, A, b, u)
    want_u = np.minimum(np.maximum(u_cmd, low), high)
    np.testing.assert_array_equal(u, want_u)
    if not (A @ want_u <= b).all():
        assert got == kernels.VIOLATES
    else:
        assert got == (kernels.SATISFIES if np.array_equal(want_u, u_cmd)
                       else kernels.SATISFIES_CLIPPED)


def test_kernels_refuse_the_wrong_dtype_instead_of_converting():
    with pytest.raises(TypeError):
        kernels.all_finite(np.zeros(3, np.float32))


def _demo_state(shield: Shield, x: float) -> np.ndarray:
    s = np.zeros(shield.observation.size, np.float32)
    s[0] = x
    return s


def _shield() -> Shield:
    """The demo bundle's shield with a deadline no scheduler hiccup reaches: these tests compare
    decisions, and a deadline fallback on a loaded machine is not what they are about."""
    return Shield.from_bundle(DEMO_BUNDLE, {"deadline_s": 10.0})


class _CountingGraph:
    """A bound index graph that counts its ONNX Runtime evaluations."""

    def __init__(self, bound):
        self.bound, self.inputs, self.calls = bound, bound.inputs, 0

    def __call__(self):
        self.calls += 1
        return self.bound()


def test_index_rows_are_reused_only_for_the_same_state():
    shield = _shield()
    f = shield.filter
    f._index = counting = _CountingGraph(f._index)
    a = _demo_state(shield, -0.5).reshape(1, -1)
    b = _demo_state(shield, -0.4).reshape(1, -1)
    rows = f.constraints(a)
    A1, b1 = rows.A.copy(), rows.b.copy()
    f.constraints(a)
    assert counting.calls == 1                       # same state: the rows are reused
    f.constraints(b)
    assert counting.calls == 2                       # a new state: evaluated again
    rows = f.constraints(a)
    A2, b2 = rows.A.copy(), rows.b.copy()
    assert counting.calls == 3
    np.testing.assert_array_equal(A1, A2)
    np.testing.assert_array_equal(b1, b2)


def test_prepared_rows_serve_the_decisions_and_are_never_rewritten():
    shield = _shield()
    f = shield.filter
    f._index = counting = _CountingGraph(f._index)
    a = _demo_state(shield, -0.5)
    b = _demo_state(shield, -0.4)
    shield.prepare(a)
    published = f._prepared
    A_a = published.A.copy()
    shield.decide(a, np.array([0.3, 0.1]), 0.0, 0.0)
    assert counting.calls == 0                       # the decision used the prepared rows
    assert f.constraints(a.reshape(1, -1)) is published
    shield.prepare(b)                                # a new record; the old one is untouched
    assert f._prepared is not published
    np.testing.assert_array_equal(published.A, A_a)
    np.testing.assert_array_equal(published.x[0], a)


def test_prepare_gives_the_same_decisions_as_deciding_cold():
    warm, cold = _shield(), _shield()
    rng = np.random.default_rng(3)
    for _ in range(200):
        s = _demo_state(warm, 0.0)
        s[:4] = rng.uniform(-1.5, 1.5, 4)
        s[4:] = [1.8, 0.0, 0.0, 0.0, 0.0, 1.2, 0.0, -1.2, 1.0, 0.6, 1.0, -0.6, -1.0, 1.4]
        u = rng.uniform(-1.5, 1.5, 2)
        warm.prepare(s)
        u_w, d_w = warm.decide(s, u, 0.0, 0.0)
        u_c, d_c = cold.decide(s, u, 0.0, 0.0)
        np.testing.assert_array_equal(u_w, u_c)
        assert (d_w.outcome, d_w.reason) == (d_c.outcome, d_c.reason)


def test_a_state_that_fails_validation_is_not_prepared():
    shield = _shield()
    bad = _demo_state(shield, np.nan)
    shield.prepare(bad)                               # no exception, nothing evaluated
    assert shield.filter._prepared is None
    u, d = shield.decide(bad, np.zeros(2), 0.0, 0.0)
    assert d.reason == "state_not_finite"


def test_strided_state_and_command_arrays_decide_like_contiguous_ones():
    shield = _shield()
    s = _demo_state(shield, -0.3)
    s[4:] = [1.8, 0.0, 0.0, 0.0, 0.0, 1.2, 0.0, -1.2, 1.0, 0.6, 1.0, -0.6, -1.0, 1.4]
    strided_s = np.repeat(s, 2)[::2]                  # same values, not C-contiguous
    u = np.array([1.0, 0.2])
    strided_u = np.repeat(u, 3)[::3]
    assert not strided_s.flags.c_contiguous and not strided_u.flags.c_contiguous
    u_ref, d_ref = _shield().decide(s, u, 0.0, 0.0)
    u_got, d_got = shield.decide(strided_s, strided_u, 0.0, 0.0)
    np.testing.assert_array_equal(u_got, u_ref)
    assert (d_got.outcome, d_got.reason) == (d_ref.outcome, d_ref.reason)
    np.testing.assert_array_equal(shield.fallback_action(strided_s), shield.fallback_action(s))
