"""CGPO differentiable tasks: analytic gradients agree with finite differences; task constants."""
import math

import pytest
import torch

from sim.differentiable import TASKS, cgpo_function


@pytest.mark.parametrize("name", ["CartPole", "PointMass", "Function"])
def test_gradient_of_a_short_rollout_matches_central_differences(name):
    task = TASKS[name]
    state = task.initial_state(3, torch.Generator().manual_seed(0), dtype=torch.float64)
    gain = torch.full((task.obs_dim, task.act_dim), 0.1, dtype=torch.float64, requires_grad=True)

    def objective(k):
        policy = lambda s: torch.tanh(s @ k) * task.action_limit * 0.5  # noqa: E731
        s, total = state, 0.0
        for _ in range(20):
            s, r, c = task.step(s, policy(s))
            total = total + c.sum()
        return total

    objective(gain).backward()
    eps = 1e-6
    with torch.no_grad():
        for idx in [(0, 0), (task.obs_dim - 1, task.act_dim - 1)]:
            up, down = gain.detach().clone(), gain.detach().clone()
            up[idx] += eps
            down[idx] -= eps
            fd = (objective(up) - objective(down)) / (2 * eps)
            assert gain.grad[idx].item() == pytest.approx(fd.item(), rel=1e-5, abs=1e-8)


def test_task_constants_follow_the_paper():
    assert (TASKS["CartPole"].horizon, TASKS["CartPole"].cost_bound, TASKS["CartPole"].action_limit) == (300, -50.0, 3.0)
    assert (TASKS["Function"].horizon, TASKS["Function"].cost_bound) == (100, 8.0)
    # Σ −x² ≤ −50 over 300 steps ⇔ RMS|x| ≥ √(50/300) ≈ 0.41
    assert math.sqrt(50 / 300) == pytest.approx(0.408, abs=1e-3)


def test_cgpo_function_values():
    s = torch.tensor([0.0, math.pi / 16 * 1.0])
    expected = [0.1, (s[1] / 10) ** 2 + 0.1 + 0.1 * math.sin(0.5)]
    torch.testing.assert_close(cgpo_function(s), torch.tensor(expected))


def test_cartpole_reward_is_alive_mask_and_cost_is_minus_x_squared():
    task = TASKS["CartPole"]
    state = torch.tensor([[0.5, 0.0, 0.0, 0.0], [0.0, 0.19, 0.0, 5.0]], dtype=torch.float64)
    nxt, r, c = task.step(state, torch.zeros(2, 1, dtype=torch.float64))
    assert r.tolist() == [1.0, 0.0]
    torch.testing.assert_close(c, -(nxt[:, 0] ** 2))


def test_rollout_sums_over_the_horizon():
    task = TASKS["Function"]
    s0 = torch.zeros(1, 1, dtype=torch.float64)
    r, c = task.rollout(lambda s: torch.zeros_like(s), s0)
    assert c.item() == pytest.approx(100 * 0.1)  # standing at s = 0: f = 0.1 each step
