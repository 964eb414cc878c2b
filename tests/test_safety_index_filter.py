"""Safety-index filter: the exact QP, the index gradient, the robot model, and known cases."""

from __future__ import annotations

import numpy as np
import pytest
import quadprog
import torch

from safe_learners.handcrafted_index import DEFAULT_INDEX, point_robot_index
from safe_shield.decision import Outcome, Reason
from safe_shield.filters.safety_index import SafeActionQP
from safe_shield.shield import Shield
from sim.point_robot import PointHazardsEnv, PointRobotParams, control_affine_matrices

from bundle_fixtures import DEMO_BUNDLE


def quadprog_projection(u_cmd, A, b, low, high):
    """Independent exact solver: quadprog solves min ½uᵀGu − aᵀu s.t. Cᵀu ≥ b."""
    n = len(u_cmd)
    C = np.vstack([-A, np.eye(n), -np.eye(n)]).T
    rhs = np.concatenate([-b, low, -high])
    return quadprog.solve_qp(np.eye(n), u_cmd, C, rhs)[0]


@pytest.mark.parametrize("n_act", [2, 7, 12])
def test_qp_matches_an_independent_exact_solver_on_random_feasible_instances(n_act, rng):
    n_con = 6
    qp = SafeActionQP(-np.ones(n_act), np.ones(n_act), n_con)
    worst = 0.0
    for _ in range(1000):
        A = rng.normal(size=(n_con, n_act))
        interior = rng.uniform(-0.5, 0.5, n_act)            # guarantees feasibility
        b = A @ interior + rng.uniform(0.0, 0.5, n_con)
        u_cmd = rng.uniform(-3, 3, n_act)
        ours = qp.solve(u_cmd, A, b)
        ref = quadprog_projection(u_cmd, A, b, -np.ones(n_act), np.ones(n_act))
        assert ours is not None
        worst = max(worst, float(np.max(np.abs(ours - ref))))
    assert worst < 1e-6


def test_qp_reports_infeasibility_instead_of_an_answer():
    qp = SafeActionQP(-np.ones(2), np.ones(2), 1)
    # u_0 ≤ −2 cannot hold inside the box [−1, 1]².
    assert qp.solve(np.zeros(2), np.array([[1.0, 0.0]]), np.array([-2.0])) is None


def test_index_gradient_matches_autograd(rng):
    params = PointRobotParams()
    index = point_robot_index(params, **{**DEFAULT_INDEX, "n": 1.7})  # non-integer n too
    obs = torch.tensor(rng.uniform(-2.5, 2.5, (64, 18)), dtype=torch.float64, requires_grad=True)
    index = index.double()
    phi, grad = index(obs)
    for i in range(params.num_hazards):
        (auto,) = torch.autograd.grad(phi[:, i].sum(), obs, retain_graph=True)
        torch.testing.assert_close(grad[:, i, :], auto, atol=1e-9, rtol=1e-7)


def test_index_value_is_the_ssa_formula():
    params = PointRobotParams()
    index = point_robot_index(params, sigma=0.1, n=2.0, k=0.6, margin=0.05)
    obs = torch.zeros(1, 18)
    obs[0, :4] = torch.tensor([1.0, 0.0, -2.0, 0.0])   # 1 m right of hazard 0, approaching at 2 m/s
    obs[0, 6:] = 10.0                                  # other hazards far away
    obs[0, 6:8] = 0.0
    phi, _ = index(obs)
    d_min = params.hazard_radius + 0.05
    assert phi[0, 0].item() == pytest.approx(0.1 + d_min**2 - 1.0 - 0.6 * (-2.0), abs=1e-6)


def test_control_affine_model_matches_mujoco_over_one_step(rng):
    env = PointHazardsEnv()
    A, B = control_affine_matrices(env.params)
    for _ in range(20):
        obs, _ = env.reset(seed=int(rng.integers(1000)), options={"velocity": rng.uniform(-2, 2, 2)})
        u = rng.uniform(-1, 1, 2)
        nxt, *_ = env.step(u)
        predicted = obs + env.params.dt * (A @ obs + B @ u)
        # Euler over one 20 ms step vs RK4 physics: agreement to second order in dt.
        np.testing.assert_allclose(nxt[:4], predicted[:4], atol=5e-3)


def test_a_command_into_a_hazard_is_projected_and_a_command_away_passes():
    shield = Shield.from_bundle(DEMO_BUNDLE)
    state = np.zeros(18, np.float32)
    state[:4] = [-0.6, 0.0, 2.0, 0.0]          # heading right at 2 m/s toward hazard 0 at the origin
    state[4:6] = [2.0, 0.0]
    state[6:8] = [0.0, 0.0]
    state[8:] = np.tile([2.5, 2.5], 5)         # the other hazards far away
    u_toward, d_toward = shield.decide(state, np.array([1.0, 0.0]), 0.0, 0.0)
    assert d_toward.outcome is Outcome.MODIFIED and d_toward.reason == Reason.PROJECTED
    assert u_toward[0] < 0.0                   # it must brake
    assert d_toward.certificate > 0            # φ > 0: energy must be dissipated
    u_away, d_away = shield.decide(state, np.array([-1.0, 0.0]), 0.0, 0.0)
    assert d_away.outcome is Outcome.PASS
    np.testing.assert_array_equal(u_away, [-1.0, 0.0])
