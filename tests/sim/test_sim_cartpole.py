"""CRABS Move / Swing: MuJoCo cart-pole geometry, dynamics, limits, safe sets."""
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from sim import batched
from sim.cartpole import CartPoleEnv


@pytest.mark.parametrize("env_id", ["SafeShield/CartPoleMove-v0", "SafeShield/CartPoleSwing-v0"])
def test_registered_env_passes_checker_and_has_1000_steps(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == 1000
    assert env.unwrapped.dt == pytest.approx(0.04)


def test_model_masses_match_capsule_geometry():
    model = CartPoleEnv().sim.model
    assert model.body_mass[1] == pytest.approx(1000 * (math.pi * 0.01 * 0.2 + 4 / 3 * math.pi * 1e-3))
    assert model.body_mass[2] == pytest.approx(batched.POLE_MASS)
    assert model.body_inertia[2][1] == pytest.approx(batched.POLE_INERTIA, rel=1e-12)
    assert model.body_ipos[2][2] == pytest.approx(0.3)
    assert model.actuator_gear[0][0] == 100.0


def test_upright_rest_is_an_equilibrium_and_starts_at_zero(rollout):
    obs, rewards, infos = rollout(CartPoleEnv("move"), [np.zeros(1)] * 25, seed=7)
    np.testing.assert_allclose(obs, 0.0, atol=1e-12)
    assert not any(i["unsafe"] for i in infos)


def test_small_angle_fall_matches_exact_solution_of_linearised_equations():
    # Independent of the simulator: linearise M q̈ = K q − b q̇ about upright and solve exactly with expm.
    M, m, l, I = batched.CART_MASS, batched.POLE_MASS, batched.POLE_COM, batched.POLE_INERTIA
    mass = torch.tensor([[M + m, m * l], [m * l, I + m * l * l]], dtype=torch.float64)
    stiff = torch.tensor([[0.0, 0.0], [0.0, m * 9.81 * l]], dtype=torch.float64)
    A = torch.zeros(4, 4, dtype=torch.float64)
    A[:2, 2:] = torch.eye(2)
    A[2:, :2] = torch.linalg.solve(mass, stiff)
    A[2:, 2:] = -torch.linalg.solve(mass, torch.eye(2, dtype=torch.float64))  # damping b = 1 on both joints
    x0 = torch.tensor([0.0, 1e-3, 0.0, 0.0], dtype=torch.float64)
    env = CartPoleEnv("swing")
    env.reset(options={"state": x0.numpy()})
    for k in range(1, 11):
        env.step(np.zeros(1))
        expected = torch.linalg.matrix_exp(A * 0.04 * k) @ x0
        np.testing.assert_allclose(env.state, expected.numpy(), rtol=1e-3, atol=1e-9)


def test_push_moves_cart_with_newtons_law_at_first_step():
    env = CartPoleEnv("swing")
    env.reset()
    env.step(np.array([1.0]))  # 100 N on the whole system; pole reaction reduces cart accel slightly
    M, m, l, I = batched.CART_MASS, batched.POLE_MASS, batched.POLE_COM, batched.POLE_INERTIA
    det = (M + m) * (I + m * l * l) - (m * l) ** 2
    x_acc = (I + m * l * l) * 100.0 / det
    assert env.state[2] == pytest.approx(x_acc * 0.04, rel=5e-2)


def test_mujoco_matches_closed_form_torch_dynamics_inside_joint_limits():
    env = CartPoleEnv("swing")
    s0 = [0.1, 0.3, -0.2, 0.5]
    env.reset(options={"state": s0})
    s = torch.tensor([s0], dtype=torch.float64)
    for k in range(11):  # the pole reaches the hinge's ±90° stop after ~12 steps
        a = np.array([0.3 * math.sin(k)])
        env.step(a)
        s = batched.cartpole_dynamics(s, torch.tensor(a[None]))
        np.testing.assert_allclose(env.state, s[0].numpy(), atol=1e-9)


def test_slider_joint_limit_stops_the_cart_at_one_metre():
    env = CartPoleEnv("swing", violation_penalty=10)
    env.reset(options={"state": [0.95, 0, 2.0, 0]})
    for _ in range(10):
        env.sim.step(np.array([1.0]))  # bypass termination: check the MJCF's range
    assert env.state[0] < 1.02


@pytest.mark.parametrize(
    "task,state,unsafe",
    [
        ("move", [0.0, 0.2, 0, 0], False),
        ("move", [0.0, 0.21, 0, 0], True),
        ("move", [0.9, 0.0, 0, 0], False),
        ("move", [-0.91, 0.0, 0, 0], True),
        ("swing", [0.0, 1.4, 0, 0], False),
        ("swing", [0.0, -1.51, 0, 0], True),
        ("swing", [0.95, 0.0, 0, 0], True),
    ],
)
def test_unsafe_sets_on_hand_placed_states(task, state, unsafe):
    env = CartPoleEnv(task)
    env.reset(options={"state": state})
    assert env._info() == {"cost": float(unsafe), "unsafe": unsafe}
    assert bool(env.is_unsafe(np.array(state))) is unsafe
    assert bool(batched.BatchedCartPole(1, task=task).is_unsafe(torch.tensor([state]))[0]) is unsafe


def test_move_rewards_x_squared_and_swing_theta_squared():
    for task, idx in (("move", 0), ("swing", 1)):
        env = CartPoleEnv(task)
        env.reset(options={"state": [0.1, 0.05, 0, 0]})
        _, r, *_ = env.step(np.zeros(1))
        assert r == pytest.approx(env.state[idx] ** 2)


def test_violation_terminates_with_penalty():
    env = CartPoleEnv("move", violation_penalty=10)
    env.reset(options={"state": [0.0, 0.19, 0.0, 2.0]})
    _, r, terminated, _, info = env.step(np.zeros(1))
    assert terminated and info["unsafe"] and info["cost"] == 1.0 and r == -10.0


def test_seeded_rollouts_are_identical(rollout):
    actions = list(np.random.default_rng(1).uniform(-0.05, 0.05, (100, 1)))
    a = rollout(gym.make("SafeShield/CartPoleSwing-v0"), actions, seed=5)[0]
    b = rollout(gym.make("SafeShield/CartPoleSwing-v0"), actions, seed=5)[0]
    np.testing.assert_array_equal(a, b)
