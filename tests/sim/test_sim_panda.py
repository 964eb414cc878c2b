"""Franka Panda (PyBullet): joint-velocity tracking, keep-out box and joint-limit unsafe sets, seeding."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sim.panda import HOME, PandaEnv


@pytest.fixture(scope="module")
def env():
    e = PandaEnv()
    yield e
    e.close()


def test_registered_and_checked():
    e = gym.make("SafeShield/PandaKeepout-v0")
    assert e.spec.max_episode_steps == 500
    check_env(e.unwrapped, skip_render_check=True)


def test_joint_velocity_command_is_tracked_and_integrates(env):
    env.reset(seed=0)
    a = np.zeros(7)
    a[0] = 0.5
    for _ in range(30):  # 0.5 s
        obs, *_ = env.step(a)
    assert obs[7] == pytest.approx(0.5 * 2.175, rel=1e-2)  # q̇1 = a · q̇_max
    assert obs[0] == pytest.approx(0.5 * 2.175 * 0.5, rel=0.05)  # q1 ≈ ∫ q̇ dt
    np.testing.assert_allclose(obs[8:14], 0.0, atol=1e-2)  # other joints hold


def test_home_pose_is_safe_and_keepout_detects_a_hand_placed_wrist(env):
    _, info = env.reset(seed=0)
    assert info == {**info, "cost": 0.0, "unsafe": False}
    p = env.sim.p
    centre = (env.keepout_low + env.keepout_high) / 2
    q = p.calculateInverseKinematics(env.robot, 11, centre.tolist(), maxNumIterations=200)[:7]
    _, info = env.reset(seed=0, options={"q": q})
    assert env.in_keepout(info["ee_pos"]) and info["in_keepout"] and info["unsafe"] and info["cost"] == 1.0


def test_joint_limits_are_unsafe_with_margin(env):
    q = HOME.copy()
    q[3] = -0.02  # joint 4's upper limit is 0.0; the 0.05 margin makes −0.02 unsafe
    _, info = env.reset(seed=0, options={"q": q})
    assert info["joint_limit"] and info["unsafe"]
    assert not env.joints_out_of_limits(HOME)


def test_forward_kinematics_of_home_matches_urdf_chain(env):
    # independent check of the reported end-effector: joint 1 rotates the arm about the base z axis
    _, info0 = env.reset(seed=0)
    q = HOME.copy()
    q[0] = np.pi / 2
    _, info1 = env.reset(seed=0, options={"q": q})
    np.testing.assert_allclose(info1["ee_pos"], [-info0["ee_pos"][1], info0["ee_pos"][0], info0["ee_pos"][2]], atol=1e-6)


def test_seeded_rollouts_are_identical(env):
    def run():
        obs, _ = env.reset(seed=3)
        out = [obs]
        for a in np.random.default_rng(0).uniform(-1, 1, (20, 7)):
            out.append(env.step(a)[0])
        return np.array(out)

    np.testing.assert_array_equal(run(), run())


def test_checked_points_are_pybullets_link_frames(env):
    # the env's forward kinematics (URDF joint transforms, compiled) against PyBullet's own link frames, over
    # random joint angles within the limits; PyBullet composes through the links' inertial frames (~1e-7 m apart)
    from sim.panda import CHECKED_LINKS

    p, rng = env.sim.p, np.random.default_rng(0)
    for _ in range(50):
        q = rng.uniform(env.joint_low, env.joint_high)
        for j in range(7):
            p.resetJointState(env.robot, j, q[j])
        ref = [s[4] for s in p.getLinkStates(env.robot, CHECKED_LINKS, computeForwardKinematics=True)]
        np.testing.assert_allclose(env.checked_points(q), ref, atol=1e-6)


def test_keepout_flag_follows_the_box_as_edited(env):
    # the step's in-box test (inside the kinematics kernel) reads the public box: move the box onto the hand
    _, info = env.reset(seed=0)
    assert not info["in_keepout"]
    low, high = env.keepout_low.copy(), env.keepout_high.copy()
    try:
        env.keepout_low, env.keepout_high = info["ee_pos"] - 0.05, info["ee_pos"] + 0.05
        _, _, _, _, info = env.step(np.zeros(7))
        assert info["in_keepout"] and info["unsafe"] and env.in_keepout(info["ee_pos"])
        env.keepout_high[:] = env.keepout_low - 1.0  # an empty box (edited in place) holds nothing
        _, _, _, _, info = env.step(np.zeros(7))
        assert not info["in_keepout"]
    finally:
        env.keepout_low, env.keepout_high = low, high


def test_reported_end_effector_is_that_of_the_reported_joint_angles(env):
    # PyBullet's cached link frames after stepSimulation lag the joint state by a substep (6 mm at speed, measured);
    # the observation's q and end effector, and the unsafe test, must describe one and the same configuration
    from sim.panda import EE_LINK

    env.reset(seed=0)
    for _ in range(20):
        obs, _, _, _, info = env.step(np.full(7, 0.8))
    fresh = env.sim.p.getLinkState(env.robot, EE_LINK, computeForwardKinematics=True)[4]
    np.testing.assert_allclose(info["ee_pos"], fresh, atol=1e-6)
    np.testing.assert_allclose(obs[14:17], fresh, atol=1e-6)
    np.testing.assert_allclose(obs[:7], info["q"], atol=1e-6)


def test_command_takes_any_array_like_and_refuses_non_finite_or_misshapen_actions(env):
    env.reset(seed=0)
    expected = np.clip([0.3, -2.0, 1.0, 0.0, -0.5, 0.9, 5.0], -1, 1) * env.max_velocity
    action = np.array([0.3, -2.0, 1.0, 0.0, -0.5, 0.9, 5.0])
    for same in (action, action.tolist(), action.reshape(1, 7), np.stack([action, action], 1)[:, 0]):
        env.command(same)
        np.testing.assert_array_equal(env._targets, expected)
    for bad in (np.full(7, np.nan), np.r_[np.zeros(6), np.inf], np.zeros(6), [0.1] * 8):
        with pytest.raises(ValueError, match="finite"):
            env.step(bad)


def test_copying_is_refused_clearly(env):
    # its compiled observation pass holds the addresses of this env's own buffers: a copy must not share them
    import copy
    import pickle

    for attempt in (copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="cannot be copied"):
            attempt(env)
