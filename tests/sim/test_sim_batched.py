"""Batched torch dynamics agree with the single environments; auto-reset and flags per copy."""
import numpy as np
import pytest
import torch

from sim import batched
from sim.pendulum import PendulumEnv


def test_batched_pendulum_matches_single_env_step_by_step(rng):
    env = PendulumEnv("tilt")
    env.reset()
    benv = batched.BatchedPendulum(1, task="tilt", dtype=torch.float64)
    benv.reset()
    for _ in range(60):
        a = rng.uniform(-1, 1, 1)
        obs, r, term, trunc, info = env.step(a)
        bobs, br, bc, bterm, btrunc = benv.step(torch.tensor(a[None]))
        assert br.item() == pytest.approx(r) and bc.item() == info["cost"] and bterm.item() == term
        if term:  # the batched copy has auto-reset
            break
        np.testing.assert_allclose(bobs[0].numpy(), env.state, atol=1e-12)


def test_batched_pendulum_is_differentiable_in_the_action():
    s = torch.tensor([[0.3, -0.9]], dtype=torch.float64)
    a = torch.tensor([[0.2]], dtype=torch.float64, requires_grad=True)
    batched.pendulum_dynamics(s, a)[0, 1].backward()
    assert a.grad.item() == pytest.approx(2.0 * 3.0 * 0.05)  # ∂θ̇⁺/∂a = 2 · 3 · dt


def test_copies_that_fail_reset_and_others_continue():
    benv = batched.BatchedPendulum(3, dtype=torch.float64)
    benv.reset()
    benv.state = torch.tensor([[1.49, 5.0], [0.0, 0.0], [0.3, -0.9]], dtype=torch.float64)
    obs, reward, cost, terminated, truncated = benv.step(torch.tensor([[1.0], [0.0], [0.0]]))
    assert terminated.tolist() == [True, False, False]
    assert cost.tolist() == [1.0, 0.0, 0.0]
    assert reward[0].item() == -30.0
    np.testing.assert_allclose(obs[0].numpy(), [0.3, -0.9])  # fresh episode
    assert benv.t.tolist() == [0, 1, 1]


def test_horizon_truncates():
    benv = batched.BatchedPendulum(2, task="tilt", dtype=torch.float64)
    benv.reset()
    hold = torch.ones(2, 1, dtype=torch.float64)
    benv.state = torch.tensor([[batched.THETA_TILT, 0.0]] * 2, dtype=torch.float64)
    for k in range(200):
        *_, terminated, truncated = benv.step(hold)
        assert not terminated.any()
        assert truncated.all() == (k == 199)


def test_batched_point_mass_terminal_velocity_is_force_over_drag():
    benv = batched.BatchedPointMass(4, seed=0, dtype=torch.float64)
    benv.reset()
    state = torch.zeros(1, 4, dtype=torch.float64)
    for _ in range(2000):  # 40 s ≫ the 1 s drag time constant
        state = batched.point_mass_dynamics(state, torch.tensor([[1.0, -0.5]], dtype=torch.float64))
    v_terminal = batched.POINT_FORCE / (batched.POINT_MASS * batched.POINT_DRAG)
    np.testing.assert_allclose(state[0, 2:].numpy(), [v_terminal, -0.5 * v_terminal], rtol=1e-9)


def test_point_mass_cost_inside_hazards_only():
    benv = batched.BatchedPointMass(1, hazards=((0.0, 0.0, 0.5),))
    states = torch.tensor([[0.0, 0.49, 0, 0], [0.0, 0.51, 0, 0], [0.3, -0.3, 0, 0]])
    assert benv.is_unsafe(states).tolist() == [True, False, True]


def test_batched_reset_is_seeded():
    a = batched.BatchedPointMass(100, seed=7).reset()
    b = batched.BatchedPointMass(100, seed=7).reset()
    c = batched.BatchedPointMass(100, seed=8).reset()
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_thousands_of_copies_step_in_one_call():
    benv = batched.BatchedCartPole(10_000, task="swing", s0_noise=0.05, seed=0)
    obs = benv.reset()
    obs, reward, cost, terminated, truncated = benv.step(torch.zeros(10_000, 1))
    assert obs.shape == (10_000, 4) and reward.shape == cost.shape == (10_000,)
