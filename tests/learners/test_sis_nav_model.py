"""The simulator-backed one-step model of the SIS validity check reproduces the env's own next (d, ddot)."""
import numpy as np
import pytest

pytest.importorskip("mujoco")

from safe_learners.sis_nav_model import NavSimModel


@pytest.mark.parametrize("env_id", ["SafeShield/PointGoal-Hazard0.30-v0", "SafeShield/PointGoal-Pillar0.25-v0"])
def test_one_step_model_matches_env(env_id):
    import gymnasium as gym

    import sim  # noqa: F401
    env = gym.make(env_id, geometry_info=True)
    model = NavSimModel(env_id)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=7)
    worst = 0.0
    for t in range(300):
        a = rng.uniform(-1, 1, 2) if t % 50 < 40 else np.array([1.0, 0.0])
        row = model.record(env)
        d, dd = model.d_ddot(row)
        np.testing.assert_allclose(d[0], info["obstacle_d"], atol=1e-12)
        d2, dd2 = model.next_d_ddot(row, np.stack([[-1.0, 0.0], a, [1.0, 0.0]]))
        obs, _, term, trunc, info = env.step(a)
        worst = max(worst, np.abs(d2[0, 1] - info["obstacle_d"]).max(), np.abs(dd2[0, 1] - info["obstacle_ddot"]).max())
        assert np.abs(dd2[0, 2] - dd2[0, 0]).max() > 1e-3     # full forward vs reverse force: the action matters
        if term or trunc:
            break
    assert worst < 1e-6
