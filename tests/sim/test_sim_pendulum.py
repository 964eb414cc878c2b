"""CRABS Upright / Tilt: Gym-v0 pendulum dynamics, safe set, rewards, registration."""
import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sim.pendulum import THETA_TILT, PendulumEnv


@pytest.mark.parametrize("env_id", ["SafeShield/PendulumUpright-v0", "SafeShield/PendulumTilt-v0"])
def test_registered_env_passes_gymnasium_checker_and_has_200_steps(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == 200


def test_starts_at_the_papers_deterministic_s0():
    env = PendulumEnv()
    for seed in (0, 1, 2):
        obs, info = env.reset(seed=seed)
        np.testing.assert_allclose(obs, [0.3, -0.9], atol=1e-7)
        assert info == {"cost": 0.0, "unsafe": False}


def test_one_step_matches_hand_computed_gym_v0_update():
    env = PendulumEnv()
    env.reset(options={"state": [0.3, -0.9]})
    obs, *_ = env.step(np.array([0.5], np.float32))  # u = 1 N m
    thdot = -0.9 + (15 * math.sin(0.3) + 3 * 1.0) * 0.05
    np.testing.assert_allclose(obs, [0.3 + thdot * 0.05, thdot], rtol=1e-6)


def test_velocity_is_clipped_after_the_angle_update():
    env = PendulumEnv()
    env.reset(options={"state": [0.0, 7.9]})
    obs, *_ = env.step(np.array([1.0]))  # unclipped θ̇⁺ = 7.9 + 0.3 = 8.2
    np.testing.assert_allclose(obs, [8.2 * 0.05, 8.0], rtol=1e-6)


def test_tilt_target_is_the_full_torque_equilibrium(rollout):
    # independent statement of θ_lim: 15 sin θ + 3u = 0 at u = +2
    assert 15 * math.sin(THETA_TILT) + 3 * 2.0 == pytest.approx(0.0, abs=1e-12)
    assert THETA_TILT == pytest.approx(-0.41151684, abs=1e-8)
    env = PendulumEnv("tilt")
    obs, *_ = rollout(env, [np.array([1.0])] * 20, options={"state": [THETA_TILT, 0.0]})[0:1]
    np.testing.assert_allclose(obs[-1], [THETA_TILT, 0.0], atol=1e-6)  # held exactly at full torque


def test_free_swing_from_small_angle_falls_away_from_upright(rollout):
    obs, *_ = rollout(PendulumEnv(), [np.array([0.0])] * 5, options={"state": [0.01, 0.0]})
    assert np.all(np.diff(obs[:, 0]) > 0)  # upright is unstable: θ grows monotonically


def test_rewards_upright_and_tilt():
    up, tilt = PendulumEnv("upright"), PendulumEnv("tilt")
    for env in (up, tilt):
        env.reset(options={"state": [0.2, 0.0]})
    _, r_up, *_ = up.step(np.array([0.0]))
    _, r_tilt, *_ = tilt.step(np.array([0.0]))
    theta = up.state[0]
    assert r_up == pytest.approx(-(theta**2))
    assert r_tilt == pytest.approx(-((THETA_TILT - theta) ** 2))


@pytest.mark.parametrize("theta,unsafe", [(0.0, False), (1.5, False), (-1.5, False), (1.5001, True), (-2.0, True), (3.1, True)])
def test_unsafe_set_in_closed_form(theta, unsafe):
    env = PendulumEnv()
    assert bool(env.is_unsafe(np.array([theta, 0.0]))) is unsafe
    assert bool(env.safe_set.is_unsafe(np.array([[theta, 5.0]]))[0]) is unsafe


def test_violation_costs_one_ends_episode_with_penalty():
    env = PendulumEnv(violation_penalty=30.0)
    env.reset(options={"state": [1.49, 3.0]})
    _, reward, terminated, truncated, info = env.step(np.array([1.0]))
    assert terminated and not truncated
    assert info == {"cost": 1.0, "unsafe": True}
    assert reward == -30.0


def test_angle_is_wrapped_to_minus_pi_pi():
    env = PendulumEnv()
    env.reset(options={"state": [3.1, 8.0]})
    obs, *_ = env.step(np.array([0.0]))
    assert -math.pi <= obs[0] < 0  # crossed +π → wrapped negative


def test_seeded_rollouts_are_identical(rollout):
    actions = list(np.random.default_rng(0).uniform(-1, 1, (200, 1)))
    a = rollout(gym.make("SafeShield/PendulumTilt-v0"), actions, seed=3)[0]
    b = rollout(gym.make("SafeShield/PendulumTilt-v0"), actions, seed=3)[0]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("task", ["upright", "tilt"])
def test_step_flags_and_reward_equal_the_closed_form_set_along_rollouts(task, rng):
    env = PendulumEnv(task)
    for episode in range(20):
        env.reset(seed=episode, options={"state": rng.uniform([-1.5, -8], [1.5, 8])})
        for _ in range(50):
            _, reward, terminated, _, info = env.step(rng.uniform(-1, 1, 1))
            unsafe = bool(env.safe_set.is_unsafe(env.state))
            assert info["unsafe"] is unsafe and terminated is unsafe and info["cost"] == float(unsafe)
            assert reward == (-env.violation_penalty if unsafe else env.reward(env.state))
            if terminated:
                break
