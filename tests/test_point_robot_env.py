"""The demo's point robot: Gymnasium contract, cost/unsafe flags, determinism, physics."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim  # noqa: F401
from sim.point_robot import PointHazardsEnv, PointRobotParams


def test_passes_the_gymnasium_checker():
    check_env(gym.make("SafeShield/PointHazards-v0").unwrapped, skip_render_check=True)


def test_same_seed_same_layout_and_trajectory():
    a, b = PointHazardsEnv(), PointHazardsEnv()
    oa, _ = a.reset(seed=7)
    ob, _ = b.reset(seed=7)
    np.testing.assert_array_equal(oa, ob)
    for u in np.random.default_rng(0).uniform(-1, 1, (50, 2)):
        np.testing.assert_array_equal(a.step(u)[0], b.step(u)[0])
    assert not np.array_equal(PointHazardsEnv().reset(seed=8)[0], oa)


@pytest.mark.parametrize("offset, unsafe", [(0.0, True), (0.29, True), (0.31, False), (1.0, False)])
def test_cost_and_unsafe_on_hand_placed_states(offset, unsafe):
    env = PointHazardsEnv()
    hazards = np.tile([2.5, 2.5], (6, 1)) - np.arange(6)[:, None] * np.array([0.0, 0.8])
    hazards[0] = [0.0, 0.0]
    _, info = env.reset(seed=0, options={"start": [offset, 0.0], "hazards": hazards})
    assert info["unsafe"] is unsafe
    assert info["cost"] == float(unsafe)
    assert info["hazard_d"][0] == pytest.approx(offset)


def test_layouts_keep_a_passable_gap_between_hazards():
    env = PointHazardsEnv()
    p = env.params
    for seed in range(50):
        env.reset(seed=seed)
        h = env.hazards
        gaps = [np.linalg.norm(h[i] - h[j]) for i in range(len(h)) for j in range(i)]
        assert min(gaps) >= 2 * p.hazard_radius + p.hazard_gap - 1e-9


def test_speed_under_full_force_follows_the_analytic_damped_point_mass():
    env = PointHazardsEnv()
    env.reset(seed=0, options={"start": [-2.8, 0.0], "hazards": np.full((6, 2), 2.5)})
    for _ in range(300):
        obs, *_ = env.step([1.0, 0.0])
        if obs[0] > 2.8:
            break
    p = PointRobotParams()
    # Constant force from rest: v(t) = (F/c)(1 − e^{−ct/m}), the analytic damped point mass.
    assert obs[2] == pytest.approx(p.max_force / p.damping * (1 - np.exp(-p.damping * env._steps * p.dt / p.mass)), rel=1e-3)
