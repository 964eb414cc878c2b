"""Vector envs, the Safety-Gymnasium 6-tuple adapter and domain randomisation."""
import gymnasium as gym
import numpy as np
import pytest

from sim.cartpole import CartPoleEnv
from sim.randomization import DomainRandomization
from sim.safety_gym import NavigationEnv
from sim.vector import LeanVectorEnv, make_vector
from sim.wrappers import make_safe


def test_vector_env_matches_independent_single_envs():
    venv = make_vector("SafeShield/CartPoleSwing-v0", 3)
    obs, info = venv.reset(seed=[0, 1, 2])
    actions = np.random.default_rng(0).uniform(-0.1, 0.1, (10, 3, 1)).astype(np.float32)
    for a in actions:
        obs, reward, terminated, truncated, info = venv.step(a)
    assert info["cost"].shape == (3,) and info["unsafe"].dtype == bool
    for i in range(3):
        env = gym.make("SafeShield/CartPoleSwing-v0")
        env.reset(seed=i)
        for a in actions:
            single, *_ = env.step(a[i])
        np.testing.assert_array_equal(obs[i], single)


@pytest.mark.parametrize("env_id, copies, steps, max_steps, keys", [
    ("SafeShield/CartPoleSwing-v0", 3, 300, None, ("cost", "unsafe")),                 # terminations
    ("SafeShield/PointTraps-v0", 3, 120, 50, ("cost", "unsafe", "obstacle_d", "health", "failure")),  # truncations
    ("SafeShield/PointGoal-Hazard0.15-v0", 2, 60, 30, ("cost", "obstacle_d", "goal_met")),  # a key not in every info
    ("SafeShield/A1Run-v0", 2, 40, None, ("cost", "unsafe", "forward_speed")),  # a key absent from reset infos
    # cost and unsafe only: the copies' step_core path (no info dict built)
    ("SafeShield/PointGoal-Hazard0.30-v0", 3, 120, 50, ("cost", "unsafe")),
    ("SafeShield/CarGoal-Pillar0.25-v0", 2, 60, 25, ("unsafe",)),
    ("SafeShield/PointTraps-v0", 3, 150, 60, ("cost", "unsafe")),
    ("SafeShield/PandaKeepout-v0", 2, 60, 25, ("cost", "unsafe")),
    ("SafeShield/A1Velocity-v0", 2, 40, 15, ("cost",)),
])
def test_lean_vector_env_steps_exactly_as_gymnasiums_sync_vector_env(env_id, copies, steps, max_steps, keys):
    """Same observations, rewards, terminated/truncated and info arrays (with their masks), step by step,
    through next-step autoresets and time limits; seeds seed + i as Gymnasium's."""
    kw = {} if max_steps is None else {"max_episode_steps": max_steps}
    if "obstacle_d" in keys:
        kw["geometry_info"] = True  # the navigation envs' ground truth, off by default
    lean = make_vector(env_id, copies, info_keys=keys, **kw)
    sync = gym.make_vec(env_id, num_envs=copies, vectorization_mode="sync", **kw)
    assert isinstance(lean, LeanVectorEnv) and lean.metadata["autoreset_mode"] == sync.metadata["autoreset_mode"]
    # which path is under test: step_core per copy, or the navigation copies stepped together
    assert lean._core == (set(keys) <= {"cost", "unsafe"})
    assert (lean._copies is not None) == (lean._core and any(s in env_id for s in ("Goal", "Traps", "CartPole")))
    assert lean.observation_space == sync.observation_space and lean.action_space == sync.action_space
    rng = np.random.default_rng(0)
    out = lean.reset(seed=4), sync.reset(seed=4)
    np.testing.assert_array_equal(out[0][0], out[1][0])
    ends = 0
    for _ in range(steps):
        a = rng.uniform(-1, 1, (copies,) + lean.single_action_space.shape).astype(np.float32)
        ours, theirs = lean.step(a), sync.step(a)
        for x, y in zip(ours[:4], theirs[:4]):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
        assert set(ours[4]) == {k for key in keys for k in (key, "_" + key)}
        for k, v in ours[4].items():
            assert v.dtype == theirs[4][k].dtype
            np.testing.assert_array_equal(v, theirs[4][k])
        ends += ours[2].sum() + ours[3].sum()
    assert ends >= 2  # the autoreset path was exercised


@pytest.mark.parametrize("env_id", ["SafeShield/PointGoal-Hazard0.30-v0", "SafeShield/CartPoleSwing-v0"])
def test_copies_stepped_together_keep_domain_randomisation_as_single_envs_do(env_id):
    """Action delays and observation noise drawn per episode: the copies stepped together give Gymnasium's
    SyncVectorEnv results exactly (same draws, same order)."""
    dr = DomainRandomization(action_latency_steps=(1, 3), observation_noise_std=0.05, mass_scale=(0.8, 1.2))
    lean = make_vector(env_id, 3, randomization=dr, max_episode_steps=40)
    sync = gym.make_vec(env_id, num_envs=3, vectorization_mode="sync", randomization=dr, max_episode_steps=40)
    assert lean._copies is not None
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(lean.reset(seed=7)[0], sync.reset(seed=7)[0])
    for _ in range(100):
        a = rng.uniform(-1, 1, (3,) + lean.single_action_space.shape).astype(np.float32)
        for x, y in zip(lean.step(a)[:4], sync.step(a)[:4]):
            np.testing.assert_array_equal(x, y)


def test_lean_vector_env_partial_reset_and_bad_input():
    venv = make_vector("SafeShield/CartPoleSwing-v0", 3)
    venv.reset(seed=0)
    for _ in range(5):
        obs, *_ = venv.step(np.full((3, 1), 0.5, np.float32))
    obs, info = venv.reset(options={"reset_mask": np.array([False, True, False]), "state": [0.1, 0, 0, 0]})
    assert obs[1, 0] == np.float32(0.1) and obs[0, 0] != np.float32(0.1) and obs[0, 0] == obs[2, 0]
    np.testing.assert_array_equal(info["_cost"], [False, True, False])
    with pytest.raises(ValueError, match="leading dimension"):
        venv.step(np.zeros((2, 1), np.float32))
    with pytest.raises(ValueError, match="reset_mask"):
        venv.reset(options={"reset_mask": np.zeros(3, bool)})
    with pytest.raises(ValueError, match="num_envs"):
        make_vector("SafeShield/CartPoleSwing-v0", 0)


def test_safety_gymnasium_adapter_returns_cost_as_third_element():
    env = make_safe("SafeShield/PendulumUpright-v0")
    env.reset(seed=0, options={"state": [1.49, 4.0]})
    out = env.step(np.array([1.0], np.float32))
    assert len(out) == 6
    obs, reward, cost, terminated, truncated, info = out
    assert cost == info["cost"] == 1.0 and terminated


def test_randomisation_is_off_by_default():
    assert not DomainRandomization().enabled
    a, b = CartPoleEnv("swing"), CartPoleEnv("swing", randomization=DomainRandomization())
    for env in (a, b):
        env.reset(seed=0, options={"state": [0, 0.1, 0, 0]})
        env.step(np.array([0.5]))
    np.testing.assert_array_equal(a.state, b.state)


def test_mass_and_motor_scales_change_the_physics_as_newton_says():
    # doubling every mass and halving nothing else halves the first push's acceleration
    base, heavy = CartPoleEnv("swing"), CartPoleEnv("swing", randomization=DomainRandomization(mass_scale=(2.0, 2.0)))
    for env in (base, heavy):
        env.reset(seed=0)
        env.step(np.array([0.2]))
    assert heavy.state[2] == pytest.approx(base.state[2] / 2, rel=1e-2)
    strong = CartPoleEnv("swing", randomization=DomainRandomization(motor_scale=(2.0, 2.0)))
    strong.reset(seed=0)
    strong.step(np.array([0.2]))
    assert strong.state[2] == pytest.approx(2 * base.state[2], rel=1e-2)
    base.reset(seed=0)  # the model returns to nominal when randomisation is off
    heavy.randomization = DomainRandomization()
    heavy.reset(seed=0)
    assert heavy.sim.model.body_mass[1] == base.sim.model.body_mass[1]


def test_action_latency_delays_commands_by_whole_steps():
    env = CartPoleEnv("swing", randomization=DomainRandomization(action_latency_steps=(2, 2)))
    env.reset(seed=0)
    env.step(np.array([1.0]))
    env.step(np.array([1.0]))
    assert np.all(env.state == 0.0)  # the first command reaches the motor on the third step
    env.step(np.array([0.0]))
    assert env.state[2] > 0


def test_observation_noise_is_seeded_and_has_the_configured_scale():
    dr = DomainRandomization(observation_noise_std=0.1)
    env = NavigationEnv("point", "hazard", 4, 0.15, randomization=dr)
    clean = NavigationEnv("point", "hazard", 4, 0.15)
    noisy_obs = np.array([env.reset(seed=s)[0] for s in range(50)])
    clean_obs = np.array([clean.reset(seed=s)[0] for s in range(50)])
    assert np.std(noisy_obs - clean_obs) == pytest.approx(0.1, rel=0.1)
    np.testing.assert_array_equal(env.reset(seed=3)[0], env.reset(seed=3)[0])


def test_friction_scale_reaches_the_contact_model():
    env = NavigationEnv("car", "pillar", 4, 0.15, randomization=DomainRandomization(friction_scale=(0.5, 0.5)))
    env.reset(seed=0)
    assert env.sim.model.geom_friction[0][0] == pytest.approx(0.5)


def test_latency_queue_keeps_the_command_even_when_the_caller_reuses_its_buffer():
    env = CartPoleEnv("swing", randomization=DomainRandomization(action_latency_steps=(1, 1)))
    env.reset(seed=0)
    buffer = np.array([1.0])
    env.step(buffer)
    buffer[0] = 0.0  # a training loop writing the next action into the same array
    env.step(buffer)
    assert env.state[2] > 0  # the delayed first command (+1) reached the motor, not the overwritten 0
