"""The batched torch tasks behind gymnasium.make_vec: a real VectorEnv that agrees with the single envs."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, VectorEnv

from sim.batched_vector import TorchVectorEnv, point_mass_vector


@pytest.mark.parametrize("env_id", ["SafeShield/PendulumTilt-v0", "SafeShield/CartPoleSwing-v0"])
def test_make_vec_gives_the_batched_vector_env(env_id):
    venv = gym.make_vec(env_id, num_envs=5)
    assert isinstance(venv, TorchVectorEnv) and isinstance(venv, VectorEnv)
    assert venv.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    single = gym.make(env_id)
    assert venv.single_observation_space == single.observation_space
    assert venv.single_action_space == single.action_space
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (5,) + single.observation_space.shape and obs.dtype == np.float32
    assert venv.batched.horizon == single.spec.max_episode_steps
    assert isinstance(gym.make_vec(env_id, num_envs=2, vectorization_mode="sync"), gym.vector.SyncVectorEnv)


def within_mujoco_stops(env_id, obs):
    return "CartPole" not in env_id or (abs(obs[0]) < 1.0 and abs(obs[1]) < np.pi / 2)


@pytest.mark.parametrize("env_id, atol", [("SafeShield/PendulumTilt-v0", 0.0), ("SafeShield/CartPoleSwing-v0", 1e-6)])
def test_every_copy_follows_its_single_env_and_autoresets_in_the_same_step(env_id, atol, rng):
    n = 3
    venv = gym.make_vec(env_id, num_envs=n)
    singles = [gym.make(env_id) for _ in range(n)]
    obs, _ = venv.reset(seed=0)
    single_obs = [s.reset(seed=0)[0] for s in singles]
    finished = 0
    for _ in range(120):
        actions = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
        obs, reward, terminated, truncated, info = venv.step(actions)
        for i, s in enumerate(singles):
            o, r, te, tr, inf = s.step(actions[i])
            assert (te, tr) == (terminated[i], truncated[i])
            assert reward[i] == pytest.approx(r, abs=1e-5) and info["cost"][i] == inf["cost"]
            assert info["unsafe"][i] == inf["unsafe"]
            if te or tr:  # the vector copy already holds the next episode's first obs; its last obs is in info
                finished += 1
                if not within_mujoco_stops(env_id, o):  # the closed form has no rail / hinge stops (documented)
                    assert np.isfinite(info["final_obs"][i]).all()
                else:
                    np.testing.assert_allclose(info["final_obs"][i], o, atol=atol)
                o, _ = s.reset()
            np.testing.assert_allclose(obs[i], o, atol=atol)
    assert finished > 0  # random torques topple the pole (or tip the pendulum past 1.5 rad) within 120 steps


def test_bad_actions_are_clear_errors():
    venv = gym.make_vec("SafeShield/PendulumUpright-v0", num_envs=2)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="finite"):
        venv.step(np.array([[0.0], [np.nan]]))


def test_point_mass_vector_reports_cost_inside_hazards_without_ending_episodes():
    venv = point_mass_vector(2, seed=0)
    venv.reset(seed=0)
    venv.batched.state[:] = venv.batched.state.new_tensor([[0.8, 0.0, 0.0, 0.0], [0.0, -1.5, 0.0, 0.0]])  # in, out
    _, _, terminated, _, info = venv.step(np.zeros((2, 2)))
    assert info["unsafe"].tolist() == [True, False] and info["cost"].tolist() == [1.0, 0.0]
    assert not terminated.any()
