"""Safety-Gym-style navigation: registration, robot kinematics, lidar, ground-truth d / ḋ, costs."""
import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sim.safety_gym import LIDAR_BINS, NavigationEnv, pseudo_lidar

FAR = {"obstacle_pos": [[1.4, 1.4], [1.4, -1.4], [-1.4, 1.4], [-1.4, -1.4]], "goal_pos": [1.0, 0.0]}


@pytest.mark.parametrize("robot", ["Point", "Car"])
@pytest.mark.parametrize("variant", ["Hazard0.15", "Hazard0.30", "Pillar0.15", "Pillar0.25"])
def test_registered_ids_pass_checker(robot, variant):
    env = gym.make(f"SafeShield/{robot}Goal-{variant}-v0")
    assert env.spec.max_episode_steps == 1000
    u = env.unwrapped
    check_env(u, skip_render_check=True)
    assert u.observation_space.shape == (12 + 2 * LIDAR_BINS,)
    assert u.dt == pytest.approx(0.02)
    assert u.num_obstacles == 4 and u.obstacle_radius == float(variant[-4:])


def test_info_carries_the_task_by_default_and_the_ground_truth_geometry_on_request():
    task_keys = {"cost", "unsafe", "goal_met"}
    geometry_keys = {"obstacle_d", "obstacle_ddot", "obstacle_pos", "obstacle_radius", "robot_pos", "robot_vel",
                     "robot_heading", "goal_pos", "goal_dist"}
    plain = gym.make("SafeShield/PointGoal-Hazard0.30-v0")
    rich = gym.make("SafeShield/PointGoal-Hazard0.30-v0", geometry_info=True)
    check_env(rich.unwrapped, skip_render_check=True)  # fresh arrays in every info, as Gymnasium requires
    for env in (plain, rich):
        _, info = env.reset(seed=3)
        assert set(info) == task_keys | (geometry_keys if env is rich else set())
        _, _, _, _, info = env.step(np.array([0.5, 0.1], np.float32))
        assert set(info) == task_keys | (geometry_keys if env is rich else set())
    # the same ground truth is on the env either way
    np.testing.assert_array_equal(info["robot_pos"], rich.unwrapped.robot_pos)
    np.testing.assert_array_equal(info["obstacle_pos"], rich.unwrapped.obstacle_pos)
    traps = gym.make("SafeShield/PointTraps-v0")
    assert set(traps.reset(seed=0)[1]) == task_keys | {"health", "failure"}


@pytest.mark.parametrize("env_id", ["SafeShield/PointGoal-Hazard0.30-v0", "SafeShield/CarGoal-Pillar0.25-v0",
                                    "SafeShield/PointTraps-v0"])
def test_info_values_are_python_float_and_bool_in_and_out_of_the_unsafe_set(env_id):
    # info["cost"] is a float and info["unsafe"] a bool (the suite's contract), on reset and step, safe or not
    env = gym.make(env_id)
    u = env.unwrapped
    _, info = env.reset(seed=0)
    seen = set()
    for t in range(400):
        if t % 100 == 0:  # now and then start on top of an obstacle
            _, info = env.reset(seed=t, options={"robot_pos": u.obstacle_pos[0]})
        else:
            _, _, _, _, info = env.step(np.array([1.0, 0.3], np.float32))
        assert type(info["cost"]) is float and type(info["unsafe"]) is bool and type(info["goal_met"]) is bool
        if "failure" in info:
            assert type(info["failure"]) is bool and type(info["health"]) is int
        seen.add(info["unsafe"])
    assert seen == {True, False}


@pytest.mark.parametrize("env_id", ["SafeShield/PointTraps-v0", "SafeShield/CarTraps-v0"])
def test_csc_trap_ids(env_id):
    env = gym.make(env_id)
    assert env.spec.max_episode_steps == 500
    check_env(env.unwrapped, skip_render_check=True)


def test_layout_respects_keepouts_and_is_seeded():
    env = NavigationEnv("point", "hazard", 4, 0.30, geometry_info=True)
    _, a = env.reset(seed=11)
    _, b = env.reset(seed=11)
    _, c = env.reset(seed=12)
    np.testing.assert_array_equal(a["obstacle_pos"], b["obstacle_pos"])
    assert not np.array_equal(a["obstacle_pos"], c["obstacle_pos"])
    for seed in range(20):
        _, info = env.reset(seed=seed)
        assert (info["obstacle_d"] >= 0.30 + 0.18 + 0.4).all()  # robot keep-out + hazard keep-out
        assert np.abs(info["obstacle_pos"]).max() <= 1.5


def test_point_forward_action_drives_along_heading():
    env = NavigationEnv("point", "hazard", 4, 0.15, geometry_info=True)
    heading = 0.7
    _, info0 = env.reset(seed=0, options={"robot_pos": [0, 0], "robot_heading": heading, **FAR})
    for _ in range(50):
        _, _, _, _, info = env.step(np.array([1.0, 0.0]))
    moved = info["robot_pos"] - info0["robot_pos"]
    assert np.linalg.norm(moved) > 0.1
    assert math.atan2(moved[1], moved[0]) == pytest.approx(heading, abs=1e-3)
    assert info["robot_heading"] == pytest.approx(heading, abs=1e-3)


def test_point_velocity_approaches_force_over_damping():
    # slide damping 0.25 N s/m, forward force 0.3 N → terminal speed 1.2 m/s; time constant m/b = 2 s
    env = NavigationEnv("point", "hazard", 4, 0.15, geometry_info=True)
    env.reset(seed=0, options={"robot_pos": [-1.0, 0], "robot_heading": 0.0, **FAR})
    for k in range(50):  # 1 s
        _, _, _, _, info = env.step(np.array([1.0, 0.0]))
    expected = 1.2 * (1 - math.exp(-1.0 / 2.0))
    assert info["robot_vel"][0] == pytest.approx(expected, rel=0.02)


def test_point_turn_action_sets_yaw_rate():
    env = NavigationEnv("point", "hazard", 4, 0.15, geometry_info=True)
    env.reset(seed=0, options={"robot_pos": [0, 0], "robot_heading": 0.0, **FAR})
    for _ in range(50):
        env.step(np.array([0.0, 0.5]))
    # velocity servo kv·(3·a − ω) balances hinge damping b·ω at steady state: ω = kv·3a/(kv + b)
    kv, b = 0.05, 0.005
    assert env.sim.data.qvel[2] == pytest.approx(kv * 1.5 / (kv + b), rel=1e-3)


def test_car_equal_wheel_torques_drive_straight_and_opposite_torques_spin():
    env = NavigationEnv("car", "hazard", 4, 0.15, geometry_info=True)
    env.reset(seed=0, options={"robot_pos": [-1.0, 0], "robot_heading": 0.0, **FAR})
    for _ in range(100):
        _, _, _, _, info = env.step(np.array([1.0, 1.0]))
    assert info["robot_pos"][0] > -0.8 and abs(info["robot_pos"][1]) < 0.02
    assert abs(info["robot_heading"]) < 0.05
    env.reset(seed=0, options={"robot_pos": [0, 0], "robot_heading": 0.0, **FAR})
    for _ in range(50):
        _, _, _, _, info = env.step(np.array([-1.0, 1.0]))
    yaw_rate = env.sim.data.qvel[5]  # right wheel forward, left back → counter-clockwise spin
    assert yaw_rate > 1.0 and np.linalg.norm(info["robot_pos"]) < 0.25  # turns about the front axle


def test_obstacle_distance_rate_matches_finite_difference():
    env = NavigationEnv("point", "hazard", 4, 0.15, geometry_info=True)
    _, info = env.reset(seed=3)
    for _ in range(40):
        _, _, _, _, prev = env.step(np.array([1.0, 0.2]))
    _, _, _, _, nxt = env.step(np.array([1.0, 0.2]))
    fd = (nxt["obstacle_d"] - prev["obstacle_d"]) / env.dt
    mid = 0.5 * (nxt["obstacle_ddot"] + prev["obstacle_ddot"])
    np.testing.assert_allclose(mid, fd, atol=2e-3)


def test_hazard_cost_is_depth_inside_and_zero_outside():
    env = NavigationEnv("point", "hazard", 4, 0.30, geometry_info=True)
    obstacles = [[0.0, 0.0], [1.4, 1.4], [-1.4, 1.4], [-1.4, -1.4]]
    _, info = env.reset(seed=0, options={"robot_pos": [0.1, 0.0], "robot_heading": 0.0, "obstacle_pos": obstacles, "goal_pos": [1, -1]})
    assert info["unsafe"] and info["obstacle_d"][0] == pytest.approx(0.1)
    _, _, terminated, _, info = env.step(np.zeros(2))
    assert not terminated
    assert info["cost"] == pytest.approx(0.30 - info["obstacle_d"][0], abs=1e-9)
    assert bool(env.is_unsafe_xy(np.array([0.29, 0.0]))) and not bool(env.is_unsafe_xy(np.array([0.31, 0.0])))
    _, info = env.reset(seed=0, options={"robot_pos": [0.5, 0.0], "obstacle_pos": obstacles, "goal_pos": [1, -1]})
    _, _, _, _, info = env.step(np.zeros(2))
    assert info["cost"] == 0.0 and not info["unsafe"]


def test_pillar_blocks_the_robot_and_contact_costs_one():
    env = NavigationEnv("point", "pillar", 4, 0.25, geometry_info=True)
    obstacles = [[0.6, 0.0], [1.4, 1.4], [-1.4, 1.4], [-1.4, -1.4]]
    env.reset(seed=0, options={"robot_pos": [0.0, 0.0], "robot_heading": 0.0, "obstacle_pos": obstacles, "goal_pos": [-1, -1]})
    costs, xs = [], []
    for _ in range(100):
        _, _, _, _, info = env.step(np.array([1.0, 0.0]))
        costs.append(info["cost"])
        xs.append(info["robot_pos"][0])
    assert max(xs) < 0.6 - 0.25 - 0.1 + 0.01  # physical: it cannot pass through (contact radius 0.1)
    assert costs[-1] == 1.0 and info["unsafe"] and costs[0] == 0.0


def test_traps_fail_after_25_steps_inside():
    env = gym.make("SafeShield/PointTraps-v0", geometry_info=True).unwrapped
    obstacles = [[0.0, 0.0], [1.4, 1.4], [-1.4, 1.4], [-1.4, -1.4]]
    env.reset(seed=0, options={"robot_pos": [0.0, 0.0], "obstacle_pos": obstacles, "goal_pos": [1, -1]})
    for k in range(1, 26):
        _, _, terminated, _, info = env.step(np.zeros(2))
        assert info["health"] == 25 - k and terminated == (k == 25) and info["cost"] == float(k == 25)
    assert info["failure"]


def test_goal_reached_pays_bonus_and_moves_goal():
    env = NavigationEnv("point", "hazard", 4, 0.15, geometry_info=True)
    env.reset(seed=0, options={"robot_pos": [0.0, 0.0], "robot_heading": 0.0, "goal_pos": [0.35, 0.0], "obstacle_pos": FAR["obstacle_pos"]})
    total, met = 0.0, False
    for _ in range(100):
        _, r, _, _, info = env.step(np.array([1.0, 0.0]))
        total += r
        if info["goal_met"]:
            met = True
            break
    assert met and r > 0.9 and not np.allclose(info["goal_pos"], [0.35, 0.0])


def test_pseudo_lidar_bins_and_falloff():
    ahead = pseudo_lidar(np.array([[1.0, 0.0]]))  # bearing 0 sits between bins 15 and 0
    assert ahead[0] == pytest.approx(0.5 * math.exp(-1)) and ahead[15] == pytest.approx(0.5 * math.exp(-1))
    centre = (0.5 + 4) * 2 * math.pi / 16  # centre of bin 4 (left side)
    left = pseudo_lidar(np.array([[2 * math.cos(centre), 2 * math.sin(centre)]]))
    assert left[4] == pytest.approx(math.exp(-2)) and left.sum() == pytest.approx(math.exp(-2))


def test_seeded_rollouts_are_identical():
    def run(seed):
        env = gym.make("SafeShield/CarGoal-Pillar0.25-v0", geometry_info=True)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [obs]
        for _ in range(30):
            out.append(env.step(env.action_space.sample())[0])
        return np.array(out)

    np.testing.assert_array_equal(run(4), run(4))


@pytest.mark.parametrize("robot", ["point", "car"])
def test_goal_lidar_sees_the_goal_in_the_robot_frame(robot):
    env = NavigationEnv(robot, "hazard", 4, 0.15, geometry_info=True)
    # robot faces +y; the goal 1 m to its left (world −x) must light the bins around bearing +90°
    obs, _ = env.reset(seed=0, options={"robot_pos": [0.0, 0.0], "robot_heading": math.pi / 2, "goal_pos": [-1.0, 0.0], **{"obstacle_pos": FAR["obstacle_pos"]}})
    goal_lidar = obs[12 : 12 + LIDAR_BINS]
    assert set(np.argsort(goal_lidar)[-2:]) == {3, 4}  # bins centred on 78.75° and 101.25°
    assert goal_lidar[3] == pytest.approx(0.5 * math.exp(-1), rel=1e-3)


@pytest.mark.parametrize("robot", ["point", "car"])
def test_observation_lidars_equal_the_reference_pseudo_lidar_along_a_rollout(robot, rng):
    """The env's fused one-pass sensing must give what `pseudo_lidar` gives on the robot-frame positions."""
    env = NavigationEnv(robot, "hazard", 4, 0.30, geometry_info=True)
    obs, info = env.reset(seed=5)
    for _ in range(60):
        obs, _, _, _, info = env.step(rng.uniform(-1, 1, 2))
        xmat = env.sim.data.xmat[env._robot_body]
        to_robot = np.array([[xmat[0], xmat[3]], [xmat[1], xmat[4]]])
        rel = (np.vstack([info["goal_pos"], info["obstacle_pos"]]) - info["robot_pos"]) @ to_robot.T
        np.testing.assert_allclose(obs[12 : 12 + LIDAR_BINS], pseudo_lidar(rel[:1]), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(obs[12 + LIDAR_BINS :], pseudo_lidar(rel[1:]), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(info["obstacle_d"], np.linalg.norm(info["obstacle_pos"] - info["robot_pos"], axis=1))


def test_info_arrays_belong_to_the_caller():
    """Writing into a step's info arrays (they are views of one per-step copy) changes nothing in the env."""
    env = NavigationEnv("point", "hazard", 4, 0.30, geometry_info=True)
    _, info = env.reset(seed=2)
    obstacles, goal = env.obstacle_pos.copy(), env.goal_pos.copy()
    _, _, _, _, info = env.step(np.zeros(2))
    expected = {k: np.copy(v) for k, v in info.items()}
    for k in ("obstacle_d", "obstacle_ddot", "obstacle_pos", "obstacle_radius", "robot_pos", "robot_vel", "goal_pos"):
        info[k][...] = -7.0
    np.testing.assert_array_equal(env.obstacle_pos, obstacles)
    np.testing.assert_array_equal(env.goal_pos, goal)
    assert expected["obstacle_pos"].shape == (4, 2) and expected["obstacle_radius"].tolist() == [0.3] * 4
    _, _, _, _, again = env.step(np.zeros(2))
    assert again["obstacle_radius"].tolist() == [0.3] * 4
    np.testing.assert_array_equal(again["obstacle_pos"], expected["obstacle_pos"])
    np.testing.assert_array_equal(again["goal_pos"], expected["goal_pos"])


def test_copying_is_refused_clearly():
    # its compiled sensing holds the addresses of this env's own MjData and buffers: a copy must not share them
    import copy
    import pickle

    env = gym.make("SafeShield/PointGoal-Hazard0.30-v0").unwrapped
    for attempt in (copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="cannot be copied"):
            attempt(env)
