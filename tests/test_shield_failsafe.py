"""Every fail-safe path: bad input, stale input, an infeasible filter, a model error, a late
decision. The shield must return the configured fallback, never the raw command."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from safe_shield.bundle import BundleError, VectorSpec
from safe_shield.config import ShieldConfig
from safe_shield.decision import Outcome, Reason
from safe_shield.shield import Shield

from bundle_fixtures import DEMO_BUNDLE, GatherCritic, make_critic_bundle

U_CMD = np.array([0.9, -0.8])  # far from every fallback action


def demo_state() -> np.ndarray:
    s = np.zeros(18, np.float32)
    s[:4] = [-1.5, 0.0, 0.5, 0.0]
    s[4:6] = [1.8, 0.0]
    s[6:] = np.tile([2.5, 2.5], 6) - np.repeat(np.arange(6), 2) * 0.8
    return s


@pytest.fixture(scope="module")
def shield():
    return Shield.from_bundle(DEMO_BUNDLE, {"fallback": "zero"})


def assert_fell_back(shield, u, decision, reason):
    assert decision.outcome is Outcome.FALLBACK
    assert decision.reason == reason
    assert not np.allclose(u, U_CMD)
    assert np.isfinite(u).all()
    assert (u >= shield.action.low).all() and (u <= shield.action.high).all()


def test_a_healthy_state_and_command_are_certified(shield):
    u, d = shield.decide(demo_state(), U_CMD, 1.0, 1.01)
    assert d.outcome is Outcome.PASS


@pytest.mark.parametrize("index, value, reason", [
    (0, math.nan, Reason.STATE_NOT_FINITE),
    (3, math.inf, Reason.STATE_NOT_FINITE),
    (7, -math.inf, Reason.STATE_NOT_FINITE),
    (0, 7.5, Reason.STATE_OUT_OF_RANGE),      # outside the bundle's observation range
    (2, -9.0, Reason.STATE_OUT_OF_RANGE),
])
def test_bad_state_values_fall_back(shield, index, value, reason):
    s = demo_state()
    s[index] = value
    u, d = shield.decide(s, U_CMD, 1.0, 1.0)
    assert_fell_back(shield, u, d, reason)


@pytest.mark.parametrize("stamp, now", [(1.0, 1.2), (1.0, 100.0), (5.0, 1.0)])
def test_stale_or_future_stamped_state_falls_back(shield, stamp, now):
    u, d = shield.decide(demo_state(), U_CMD, stamp, now)
    assert_fell_back(shield, u, d, Reason.STATE_STALE)


def test_inputs_that_are_not_numbers_fall_back_instead_of_raising(shield):
    u, d = shield.decide(["a"] * 18, U_CMD, 0.0, 0.0)
    assert_fell_back(shield, u, d, Reason.STATE_WRONG_SHAPE)
    u, d = shield.decide(demo_state(), ["fast", "left"], 0.0, 0.0)
    assert d.outcome is Outcome.FALLBACK and d.reason == Reason.COMMAND_WRONG_SHAPE


def test_wrong_shapes_fall_back(shield):
    u, d = shield.decide(demo_state()[:10], U_CMD, 0.0, 0.0)
    assert_fell_back(shield, u, d, Reason.STATE_WRONG_SHAPE)
    u, d = shield.decide(demo_state(), np.array([0.9, -0.8, 0.1]), 0.0, 0.0)
    assert d.outcome is Outcome.FALLBACK and d.reason == Reason.COMMAND_WRONG_SHAPE


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_command_falls_back(shield, bad):
    u, d = shield.decide(demo_state(), np.array([bad, 0.3]), 0.0, 0.0)
    assert d.outcome is Outcome.FALLBACK and d.reason == Reason.COMMAND_NOT_FINITE
    assert np.isfinite(u).all()


def test_an_infeasible_qp_falls_back():
    # Demanding φ to fall by 50 per step (η_D) cannot be met by any bounded force.
    shield = Shield.from_bundle(DEMO_BUNDLE, {"fallback": "zero", "filter": {"eta": 50.0}})
    s = demo_state()
    s[6:8] = [-1.1, 0.0]  # a hazard just ahead: φ > 0
    u, d = shield.decide(s, U_CMD, 0.0, 0.0)
    assert_fell_back(shield, u, d, Reason.QP_INFEASIBLE)


def test_an_onnx_runtime_error_falls_back(tmp_path):
    obs = VectorSpec.make(["x0", "x1"], ["-", "-"], [0.0, -5.0], [2.9, 5.0])
    bundle = make_critic_bundle(tmp_path / "gather", GatherCritic(), obs=obs)
    # Range checking off so that an index the graph cannot gather reaches ONNX Runtime.
    shield = Shield.from_bundle(bundle, {"fallback": "zero", "check_state_range": False})
    u, d = shield.decide(np.array([7.0, 0.0]), U_CMD, 0.0, 0.0)
    assert_fell_back(shield, u, d, Reason.MODEL_ERROR)


def test_a_decision_past_its_deadline_falls_back():
    shield = Shield.from_bundle(DEMO_BUNDLE, {"fallback": "zero", "deadline_s": 1e-9})
    u, d = shield.decide(demo_state(), U_CMD, 0.0, 0.0)
    assert_fell_back(shield, u, d, Reason.DEADLINE_EXCEEDED)


def test_backup_policy_fallback_brakes_from_a_valid_state_and_zeroes_without_one():
    shield = Shield.from_bundle(DEMO_BUNDLE, {"fallback": "backup_policy", "deadline_s": 1e-9})
    s = demo_state()
    s[2:4] = [1.0, -0.1]
    u, d = shield.decide(s, U_CMD, 0.0, 0.0)
    assert d.outcome is Outcome.FALLBACK
    np.testing.assert_allclose(u, [-1.0, 0.5], atol=1e-6)       # clip(−5·v)
    s[0] = math.nan
    u, d = shield.decide(s, U_CMD, 0.0, 0.0)
    np.testing.assert_array_equal(u, [0.0, 0.0])                 # no valid state: zero


def test_hold_fallback_repeats_the_last_valid_values():
    shield = Shield.from_bundle(DEMO_BUNDLE, {"fallback": "hold", "hold_from": ["vx", "vy"],
                                              "deadline_s": 1e-9})
    s = demo_state()
    s[2:4] = [0.3, -0.4]
    u, _ = shield.decide(s, U_CMD, 0.0, 0.0)
    np.testing.assert_allclose(u, [0.3, -0.4], atol=1e-6)
    s[2] = math.nan
    u, d = shield.decide(s, U_CMD, 0.0, 0.0)
    assert d.reason == Reason.STATE_NOT_FINITE
    np.testing.assert_allclose(u, [0.3, -0.4], atol=1e-6)


@pytest.mark.parametrize("config, message", [
    ({"fallback": "teleport"}, "'fallback' must be one of"),
    ({"state_timeout_s": -1}, "'state_timeout_s' must be a positive number"),
    ({"deadline": 0.1}, "unknown shield config key(s) ['deadline']"),
    ({"fallback": "hold"}, "needs 'hold_from'"),
])
def test_bad_configuration_is_refused_by_name(config, message):
    with pytest.raises(ValueError) as err:
        ShieldConfig.from_mapping(config)
    assert message in str(err.value)


def test_a_bundle_without_a_backup_policy_cannot_be_configured_with_one(critic_bundle):
    with pytest.raises(BundleError, match="no 'backup_policy' graph"):
        Shield.from_bundle(critic_bundle, {"fallback": "backup_policy"})


def test_config_loads_from_yaml(tmp_path):
    path = tmp_path / "shield.yaml"
    path.write_text("shield:\n  state_timeout_s: 0.05\n  fallback: zero\n")
    shield = Shield.from_bundle(DEMO_BUNDLE, path)
    assert shield.config.state_timeout_s == 0.05 and shield.fallback.kind == "zero"


any_float = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=st.lists(any_float, min_size=18, max_size=18), u_cmd=st.lists(any_float, min_size=2, max_size=2),
       age=st.floats(allow_nan=True, allow_infinity=True))
def test_any_input_yields_a_finite_in_bounds_action_and_never_raises(shield, state, u_cmd, age):
    u, d = shield.decide(np.array(state), np.array(u_cmd), 0.0, age)
    assert np.isfinite(u).all()
    assert (u >= shield.action.low).all() and (u <= shield.action.high).all()
    if not np.isfinite(state).all() or not np.isfinite(u_cmd).all() or not abs(age) <= 0.1:
        assert d.outcome is Outcome.FALLBACK
