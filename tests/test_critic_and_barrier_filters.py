"""Safety-critic and barrier filters on bundles whose right answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from safe_shield.decision import Outcome, Reason
from safe_shield.shield import Shield

from bundle_fixtures import DT, GAINS

RELAXED = {"deadline_s": 1.0}  # correctness tests; the deadline path is tested on its own


# --- critic: Q_C(x, u) = u_0 + x_0, safe when ≤ ε = 0 ---------------------------------------------
def test_critic_passes_a_command_it_rates_safe(critic_bundle):
    shield = Shield.from_bundle(critic_bundle, RELAXED)
    u, d = shield.decide(np.array([0.2, 0.0]), np.array([-0.5, 0.7]), 0.0, 0.0)
    assert d.outcome is Outcome.PASS
    np.testing.assert_array_equal(u, [-0.5, 0.7])
    assert d.certificate == pytest.approx(-0.3, abs=1e-6)


def test_critic_replaces_a_risky_command_by_the_nearest_safe_candidate(critic_bundle):
    shield = Shield.from_bundle(critic_bundle, RELAXED)
    x = np.array([0.2, 0.0])
    u_cmd = np.array([0.9, 0.5])
    u, d = shield.decide(x, u_cmd, 0.0, 0.0)
    assert d.outcome is Outcome.MODIFIED and d.reason == Reason.NEAREST_SAFE_CANDIDATE
    assert u[0] + x[0] <= 0.0                        # the chosen action is rated safe
    # Nearest of the candidates: not much further than the true projection (u_0 = −0.2).
    assert np.linalg.norm(u - u_cmd) < np.linalg.norm([1.1, 0.0]) + 0.35


def test_critic_falls_back_when_no_candidate_is_safe(critic_bundle):
    shield = Shield.from_bundle(critic_bundle, {**RELAXED, "fallback": "zero"})
    u, d = shield.decide(np.array([1.5, 0.0]), np.array([0.5, 0.5]), 0.0, 0.0)  # Q ≥ 0.5 for any u
    assert d.outcome is Outcome.FALLBACK and d.reason == Reason.NO_SAFE_CANDIDATE
    np.testing.assert_array_equal(u, [0.0, 0.0])


def test_critic_can_be_configured_to_take_the_least_unsafe_candidate(critic_bundle):
    shield = Shield.from_bundle(critic_bundle, {**RELAXED, "filter": {"use_least_unsafe": True}})
    u, d = shield.decide(np.array([1.5, 0.0]), np.array([0.5, 0.5]), 0.0, 0.0)
    assert d.outcome is Outcome.MODIFIED and d.reason == Reason.LEAST_UNSAFE_CANDIDATE
    assert u[0] < -0.9                                # least risk: u_0 near its lower bound


# --- barrier: x' = x + dt·g·u, ensemble gains 0.8..1.2, h = 1 − x², backup u = −x/dt ------------
def test_barrier_passes_a_command_that_keeps_every_member_inside(barrier_bundle):
    shield = Shield.from_bundle(barrier_bundle, RELAXED)
    u, d = shield.decide(np.array([0.0]), np.array([1.0]), 0.0, 0.0)   # worst x' = 0.12
    assert d.outcome is Outcome.PASS
    assert d.certificate == pytest.approx(1.0)


def test_barrier_modifies_a_command_that_one_member_predicts_leaves(barrier_bundle):
    shield = Shield.from_bundle(barrier_bundle, RELAXED)
    x = 0.95
    u, d = shield.decide(np.array([x]), np.array([1.0]), 0.0, 0.0)    # gain 1.2 → x' = 1.07
    assert d.outcome is Outcome.MODIFIED
    worst_next = max(abs(x + DT * g * u[0]) for g in GAINS)
    assert worst_next <= 1.0 + 1e-6


def test_barrier_uses_the_backup_policy_outside_the_certified_set(barrier_bundle):
    shield = Shield.from_bundle(barrier_bundle, RELAXED)
    u, d = shield.decide(np.array([1.2]), np.array([1.0]), 0.0, 0.0)
    assert d.outcome is Outcome.FALLBACK and d.reason == Reason.OUTSIDE_CERTIFIED_SET
    assert u[0] == pytest.approx(-1.0)               # backup: clamp(−x/dt) = −1


def test_barrier_keeps_the_true_system_inside_under_adversarial_commands(barrier_bundle, rng):
    shield = Shield.from_bundle(barrier_bundle, RELAXED)
    for episode in range(20):
        x = rng.uniform(-0.9, 0.9)
        for step in range(100):
            u_cmd = np.array([rng.choice([-1.0, 1.0]) if episode % 2 else rng.uniform(-1, 1)])
            u, _ = shield.decide(np.array([x]), u_cmd, 0.0, 0.0)
            x = x + DT * 1.0 * u[0]                   # the true gain lies inside the ensemble
            assert abs(x) <= 1.0
