"""A1 quadruped (PyBullet): leg inverse kinematics vs the URDF, gait tracking, falls, collisions, SQRL variants."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sim.quadruped import (
    FOOT_LINKS, HIP_OFFSETS, LEG_JOINTS, LEG_SIDE, QuadrupedLocomotionEnv, QuadrupedVelocityEnv, leg_inverse_kinematics,
)


@pytest.fixture(scope="module")
def walker():
    env = QuadrupedVelocityEnv(num_obstacles=1)
    yield env
    env.close()


@pytest.mark.parametrize("env_id", ["SafeShield/A1Run-v0", "SafeShield/A1RunFast-v0", "SafeShield/A1RunFriction-v0", "SafeShield/A1Velocity-v0"])
def test_registered_and_checked(env_id):
    env = gym.make(env_id)
    assert env.spec.max_episode_steps == 1000
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_leg_inverse_kinematics_agrees_with_pybullet_forward_kinematics(walker):
    # Fix the base in the air, set the joints from our IK, and read the toe positions back from the URDF.
    p = walker.sim.p
    walker.reset(seed=0)
    p.resetBasePositionAndOrientation(walker.robot, [0, 0, 1.0], [0, 0, 0, 1])
    targets = [(0.05, 0.02, -0.25), (-0.04, -0.03, -0.22), (0.0, 0.0, -0.30), (0.08, 0.05, -0.2)]
    for leg, (x, y, z) in enumerate(targets):
        foot = (x, LEG_SIDE[leg] * 0.08505 + y, z)
        q = leg_inverse_kinematics(foot, LEG_SIDE[leg])
        for j, angle in zip(LEG_JOINTS[3 * leg : 3 * leg + 3], q):
            p.resetJointState(walker.robot, j, angle)
    # PyBullet places the base at its centre of mass; the URDF trunk frame sits at COM − inertial offset
    trunk = np.array([0, 0, 1.0]) - np.array(p.getDynamicsInfo(walker.robot, -1)[3])
    for leg, (x, y, z) in enumerate(targets):
        toe = np.array(p.getLinkState(walker.robot, FOOT_LINKS[leg], computeForwardKinematics=True)[4])
        hip = trunk + np.array([HIP_OFFSETS[leg][0], HIP_OFFSETS[leg][1], 0.0])
        np.testing.assert_allclose(toe - hip, [x, LEG_SIDE[leg] * 0.08505 + y, z], atol=2e-3)


def test_forward_command_walks_forward_and_stays_up(walker):
    _, info = walker.reset(seed=0, options={"obstacle_pos": [[5.0, 5.0]]})
    for _ in range(150):  # 3 s at 0.4 m/s commanded
        _, _, terminated, _, info = walker.step(np.array([1.0, 0.0, 0.0]))
        assert not terminated
    assert 0.6 < info["base_pos"][0] < 1.3 and abs(info["base_pos"][1]) < 0.2
    assert info["base_pos"][2] > 0.25


def test_yaw_command_turns_counter_clockwise(walker):
    walker.reset(seed=0, options={"obstacle_pos": [[5.0, 5.0]]})
    for _ in range(100):
        _, _, _, _, info = walker.step(np.array([0.0, 0.0, 1.0]))
    assert info["base_yaw"] > 0.5


def test_walking_into_a_pillar_is_a_collision(walker):
    walker.reset(seed=0, options={"obstacle_pos": [[0.7, 0.0]]})
    assert walker.is_unsafe_xy(np.array([0.3, 0.0])) and not walker.is_unsafe_xy(np.array([0.0, 0.0]))
    for k in range(200):
        _, _, terminated, _, info = walker.step(np.array([1.0, 0.0, 0.0]))
        if terminated:
            break
    assert terminated and info["collision"] and info["cost"] == 1.0
    assert info["base_pos"][0] > 0.7 - 0.2 - 0.35  # stopped by the physical pillar, near its surface
    # the step asks PyBullet only about pillars within reach of the base; asking about every pillar agrees
    assert walker.collided(info["base_pos"][:2].tolist()) == walker.collided() is True


def test_no_point_of_the_robot_is_beyond_reach_of_its_base(walker):
    """REACH bounds the pillar pre-check in `collided`: every link, tipped over or mid-stride, stays within it."""
    from sim.quadruped import REACH

    walker.reset(seed=1, options={"obstacle_pos": [[3.0, 3.0]]})
    p = walker.sim.p
    for k in range(150):  # walk, turn and fall (a hard sideways command tips it)
        walker.step(np.array([1.0, 1.0 if k > 60 else 0.0, 1.0]))
        base = np.array(p.getBasePositionAndOrientation(walker.robot)[0])
        links = np.array([s[4] for s in p.getLinkStates(walker.robot, list(range(p.getNumJoints(walker.robot))))])
        assert np.linalg.norm(links - base, axis=1).max() < REACH - 0.25  # margin for the feet's collision spheres


def test_tipped_body_is_a_fall():
    env = QuadrupedLocomotionEnv()
    env.reset(seed=0)
    p = env.sim.p
    p.resetBasePositionAndOrientation(env.robot, [0, 0, 0.3], p.getQuaternionFromEuler([0.5, 0, 0]))
    _, _, terminated, _, info = env.step(np.zeros(12))
    assert terminated and info["unsafe"] and info["cost"] == 1.0
    env.close()


def test_sqrl_reward_at_rest_and_variants():
    env = QuadrupedLocomotionEnv(target_speed=0.4, foot_friction=1.25)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.zeros(12))
    v = info["forward_speed"]
    assert reward == pytest.approx(0.4 - abs(0.4 - v))  # zero action ⇒ zero action-acceleration penalty
    assert env.sim.p.getDynamicsInfo(env.robot, FOOT_LINKS[0])[1] == pytest.approx(1.25)
    env.close()


def test_seeded_rollouts_are_identical():
    env = QuadrupedLocomotionEnv()

    def run():
        obs, _ = env.reset(seed=1)
        out = [obs]
        for a in np.random.default_rng(0).uniform(-0.3, 0.3, (15, 12)):
            out.append(env.step(a)[0])
        return np.array(out)

    np.testing.assert_array_equal(run(), run())
    env.close()


def _reference_trot_targets(phase0, command, period=0.3, height=0.27, lift=0.06):
    """TrotGait's targets in plain Python (the pre-compilation implementation), leg by leg."""
    import math

    from sim.quadruped import L_HIP, L_LOW, L_UP

    def ik(x, y, z, side):
        l_hip = side * L_HIP
        cos_knee = (x * x + y * y + z * z - l_hip * l_hip - L_UP**2 - L_LOW**2) / (2 * L_UP * L_LOW)
        knee = -math.acos(max(-1.0, min(1.0, cos_knee)))
        leg = math.sqrt(L_UP**2 + L_LOW**2 + 2 * L_UP * L_LOW * math.cos(knee))
        hip = math.asin(max(-1.0, min(1.0, -x / leg))) - knee / 2
        down = leg * math.cos(hip + knee / 2)
        return [math.atan2(down * y + l_hip * z, l_hip * y - down * z), hip, knee]

    vx, vy, wz = command
    out, half = [], period / 2
    for leg in range(4):
        phase = (phase0 + (0.0 if leg in (0, 3) else 0.5)) % 1.0
        hx, hy = HIP_OFFSETS[leg].tolist()
        sx, sy = (vx - wz * hy) * half, (vy + wz * hx) * half
        if phase < 0.5:
            k, z = 0.5 - phase / 0.5, -height
        else:
            s = (phase - 0.5) / 0.5
            k, z = s - 0.5, -height + lift * math.sin(math.pi * s)
        side = int(LEG_SIDE[leg])
        out += ik(sx * k, side * L_HIP + sy * k, z, side)
    return np.array(out)


def test_compiled_trot_gait_equals_the_plain_python_reference_bit_for_bit(rng):
    from sim.quadruped import QuadrupedVelocityEnv, TrotGait

    gait, dt = TrotGait(), 0.02
    for command in rng.uniform(-1, 1, (2000, 3)) * QuadrupedVelocityEnv.COMMAND_SCALE * rng.uniform(0, 3, (2000, 1)):
        phase = (gait.phase + dt / gait.period) % 1.0
        np.testing.assert_array_equal(gait.joint_targets(command, dt), _reference_trot_targets(phase, command.tolist()))
