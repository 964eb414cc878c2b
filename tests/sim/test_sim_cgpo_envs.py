"""The CGPO tasks as Gymnasium ids: numpy face of the same torch dynamics, the paper's horizons and bounds."""
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from sim.differentiable import TASKS, DifferentiableEnv

IDS = {"CartPole": ("SafeShield/CGPOCartPole-v0", 300), "PointMass": ("SafeShield/CGPOPointMass-v0", 200),
       "Function": ("SafeShield/CGPOFunction-v0", 100)}


@pytest.mark.parametrize("name", sorted(IDS))
def test_registered_checked_and_episode_is_the_papers_horizon(name):
    env_id, horizon = IDS[name]
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == horizon == TASKS[name].horizon
    env.reset(seed=0)
    steps = 0
    while True:
        *_, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape, np.float32))
        steps += 1
        if terminated or truncated:
            break
    assert steps == horizon


@pytest.mark.parametrize("name", sorted(IDS))
def test_numpy_step_is_the_torch_step(name, rng):
    env = DifferentiableEnv(name)
    obs, _ = env.reset(seed=3)
    state = env._state.clone()  # the float64 state behind the float32 observation
    for _ in range(20):
        a = rng.uniform(-1, 1, env.action_space.shape)
        obs, reward, _, _, info = env.step(a)
        state, r, c = env.task.step(state, torch.tensor(a[None]))
        np.testing.assert_array_equal(obs, state[0].numpy().astype(np.float32))
        assert reward == r.item() and info["cost"] == c.item()


@pytest.mark.parametrize("name", sorted(IDS))
def test_seeded_resets_are_identical_and_seeds_differ(name):
    a, b = DifferentiableEnv(name), DifferentiableEnv(name)
    np.testing.assert_array_equal(a.reset(seed=7)[0], b.reset(seed=7)[0])
    assert not np.array_equal(a.reset(seed=7)[0], a.reset(seed=8)[0])


def test_function_env_dynamics_and_budget_flag_by_hand():
    env = DifferentiableEnv("Function")
    env.reset(options={"state": [3.0]})
    obs, reward, _, _, info = env.step(np.array([0.5]))
    s = 3.0 + 0.2 * 0.5  # s′ = s + 0.2a (CGPO App. C)
    f = (s / 10) ** 2 + 0.1 + 0.1 * math.sin(8 * s / math.pi)
    assert obs[0] == pytest.approx(s) and reward == pytest.approx(f) and info["cost"] == pytest.approx(f)
    assert not info["unsafe"]  # Σ f ≈ 0.12 ≤ 8
    env.reset(options={"state": [15.0]})  # f ≈ 2.3 per step: the budget of 8 goes on the 4th step
    total = 0.0
    for _ in range(5):
        *_, info = env.step(np.array([0.0]))
        total += info["cost"]
        assert info["cost_sum"] == pytest.approx(total)
        assert info["unsafe"] == (total > 8.0)  # non-negative costs: violated as soon as Σ f > b
    assert info["unsafe"]


def test_cartpole_budget_can_only_be_judged_at_the_horizon():
    env = gym.make("SafeShield/CGPOCartPole-v0")
    env.reset(options={"state": [0.0, 0.0, 0.0, 0.0]})
    infos = [env.step(np.zeros(1, np.float32))[4] for _ in range(300)]  # at rest: x = 0, Σ(−x²) = 0 > −50
    assert not any(i["unsafe"] for i in infos[:-1]) and infos[-1]["unsafe"]
    env.reset(options={"state": [0.8, 0.0, 0.0, 0.0]})  # far off centre: Σ(−x²) falls below −50 = feasible
    infos = [env.step(np.zeros(1, np.float32))[4] for _ in range(300)]
    assert infos[-1]["cost_sum"] < -50 and not infos[-1]["unsafe"]


def test_bad_action_is_a_clear_error():
    env = DifferentiableEnv("PointMass")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError):
        DifferentiableEnv("Ant")
