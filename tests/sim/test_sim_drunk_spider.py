"""SQRL DrunkSpider: map geometry, substep integration stopping at lava, rewards, seeding."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sim.drunk_spider import DIAGONAL, DrunkSpiderEnv, is_unsafe


@pytest.mark.parametrize("env_id", ["SafeShield/DrunkSpider-v0", "SafeShield/DrunkSpiderNoisy-v0", "SafeShield/DrunkSpiderFast-v0"])
def test_registered_and_checked(env_id):
    check_env(gym.make(env_id).unwrapped, skip_render_check=True)


@pytest.mark.parametrize(
    "pos,unsafe",
    [((0.5, 3.5), False), ((4.0, 3.5), False), ((4.0, 2.5), True), ((4.0, 4.99), True), ((4.0, 1.5), False),
     ((1.9, 2.5), False), ((6.0, 2.5), False), ((-0.1, 3.0), True), ((8.1, 3.0), True), ((3.0, 7.2), True)],
)
def test_lava_and_map_edges(pos, unsafe):
    assert bool(is_unsafe(np.array(pos))) is unsafe


def test_straight_walk_over_the_bridge_without_noise_succeeds_in_seven_steps():
    env = DrunkSpiderEnv(noise=0.0)
    env.reset(seed=0)
    total = 0.0
    for k in range(1, 8):
        obs, r, terminated, truncated, info = env.step(np.array([1.0, 0.0]))
        total += r
        assert not info["unsafe"]
        if k < 6:  # −‖s − g‖/diagonal while walking
            assert r == pytest.approx(-(7.0 - k) / DIAGONAL)
    assert terminated and info["success"] and r == 30.0 + (30 - 7)


def test_fall_stops_at_first_lava_contact_and_charges_remaining_steps():
    env = DrunkSpiderEnv(noise=0.0)
    env.reset(seed=0, options={"pos": [3.0, 3.45]})
    obs, r, terminated, truncated, info = env.step(np.array([0.0, -1.0]))
    assert terminated and info["cost"] == 1.0 and info["unsafe"]
    assert obs[1] == pytest.approx(2.95, abs=1e-6)  # the 5th substep of 0.1 enters [2, 3): stop there
    assert r == pytest.approx(-np.hypot(4.5, 0.55) / DIAGONAL - 29)


def test_timeout_penalty():
    env = DrunkSpiderEnv(noise=0.0, max_steps=3)
    env.reset(seed=0)
    for _ in range(3):
        _, r, terminated, truncated, _ = env.step(np.zeros(2))
    assert truncated and not terminated and r == pytest.approx(-7.0 / DIAGONAL - 30)


def test_noise_is_bounded_and_seeded():
    env = DrunkSpiderEnv(noise=0.4)
    env.reset(seed=5, options={"pos": [1.0, 3.5]})
    obs, *_ = env.step(np.zeros(2))
    assert np.all(np.abs(obs - [1.0, 3.5]) <= 0.2 + 1e-9)  # |noise| ≤ 0.2 per unit time, 1 time unit
    env.reset(seed=5, options={"pos": [1.0, 3.5]})
    again, *_ = env.step(np.zeros(2))
    np.testing.assert_array_equal(obs, again)


def test_scalar_hot_path_agrees_with_the_closed_form_set(rng):
    from sim.drunk_spider import _unsafe_scalar

    pts = rng.uniform([-0.5, -0.5], [8.5, 7.5], (2000, 2))
    np.testing.assert_array_equal([_unsafe_scalar(*p) for p in pts], is_unsafe(pts))
