"""SIS on the MuJoCo point robot: one-step model vs MuJoCo, synthesized index exports and loads in the shield."""
import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("torch")

from safe_learners.sis_point import PointModel


def test_point_model_matches_mujoco():
    from sim.point_robot import PointHazardsEnv
    env = PointHazardsEnv()
    rng = np.random.default_rng(0)
    M = PointModel()
    obs, _ = env.reset(seed=4, options={"velocity": (1.5, -0.5)})
    for _ in range(20):
        u = rng.uniform(-1, 1, 2)
        d2, dd2 = M.next_d_ddot(obs[None].astype(np.float64), u[None])
        obs, _, term, trunc, info = env.step(u)
        np.testing.assert_allclose(d2[0, 0], info["hazard_d"], atol=1e-5)
        np.testing.assert_allclose(dd2[0, 0], info["hazard_d_dot"], atol=1e-5)
        if term or trunc:
            break


def test_synthesized_index_bundle_loads_in_shield(tmp_path):
    """Export the index with build_point_bundle and make one shield decision that must brake a fast approach."""
    from safe_learners.handcrafted_index import build_point_bundle
    from safe_shield.shield import Shield
    from sim.point_robot import PointRobotParams
    p = PointRobotParams()
    b = build_point_bundle(tmp_path / "b", params=p, sigma=0.3, n=1.85, k=1.15, margin=0.05, name="t",
                           provenance={"algorithm": "test", "env": "x", "seed": 0, "training_steps": 0})
    assert b.manifest["filter"]["index"]["n"] == pytest.approx(1.85)
    sh = Shield.from_bundle(tmp_path / "b")
    obs = np.zeros(6 + 2 * p.num_hazards, np.float32)
    obs[0:4] = [-1.0, 0.0, 3.0, 0.0]                              # 3 m/s toward hazard 0 at the origin
    obs[6:8] = [0.0, 0.0]
    obs[8:] = 2.5                                                   # other hazards far away
    u, dec = sh.decide(obs, np.array([1.0, 0.0]), state_stamp=0.0, now=0.0)
    assert u[0] < 1.0                                               # the full-throttle command is modified
