"""Safety-Gym-style navigation in MuJoCo (sis.md §5, csc.md §5): Point and Car robots, a Goal task,
hazards (non-physical circles) or pillars (static physical cylinders), pseudo-lidar observations.

Robots (action 2-D in [−1, 1], physics 0.002 s × frame skip 10 = 0.02 s per step):
  point  a = [forward force, turn]: a motor pushes along the robot's heading (0.3 N per unit), a velocity
         servo sets the yaw rate (3 rad/s per unit); slide joints x, y and a yaw hinge, like Safety Gym's Point.
  car    a = [left wheel, right wheel] torques: two driven wheels at the front and a frictionless caster,
         a free-floating chassis (differential drive, like Safety Gym's Car).
Observation (float32), in this order:
  accelerometer(3), velocimeter(3), gyro(3), magnetometer(3)  — MuJoCo sensors at the robot's centre
  goal_lidar(16), obstacle_lidar(16)                          — pseudo-lidar, see `pseudo_lidar`
(Safety Gym's Goal levels also carry a vases lidar; we have no vases, so hazard-Goal is 44-D, not 60-D.)

Goal task: reward = (previous goal distance − goal distance) + 1 on reaching the goal (distance ≤ 0.3),
after which a new goal is drawn. Episodes last 1000 steps (time limit from the registration).
Cost (info["cost"]):
  hazards: Σ over hazards of (r − d) while the robot's centre is inside (dense, as in the SIS code);
           cost_mode="indicator" gives 1.0 instead (Safety Gym's constrain_indicator)
  pillars: 1.0 while the robot touches any pillar
info["unsafe"]: inside a hazard (d < r) / touching a pillar; info["goal_met"]: the goal was reached this step.
With `geometry_info=True` every info also carries the simulator's ground truth (what SIS, its validity check
and the shield scripts read; off by default, as Safety Gym's info carries none: Gymnasium wants every info's
arrays fresh, and building them costs a point robot's step ~10 % of its speed, BENCHMARKS "Simulation"):
  obstacle_d    [n]  planar centre-to-centre distance robot → obstacle
  obstacle_ddot [n]  ḋ = −v_xy·(o − p)/‖o − p‖
  obstacle_pos [n, 2], obstacle_radius [n], robot_pos [2], robot_vel [2], robot_heading, goal_pos [2],
  goal_dist
The same ground truth is always on the env: `obstacle_pos`, `obstacle_radius`, `robot_pos`, `robot_vel`,
`robot_heading`, `goal_pos`.
Traps (CSC): with `health` set, each step inside a hazard costs one health point; at 0 the robot fails
(terminated, info["failure"] True, cost 1.0 on that step, else 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim.mujoco_env import MujocoSim
from sim.nav_sensing import BUFFERS, sense_at, sense_copies, table_size
from sim.numba_views import addresses
from sim.randomization import DomainRandomization

TIMESTEP = 0.002
FRAME_SKIP = 10
LIDAR_BINS = 16
GOAL_SIZE = 0.3
ROBOT_RADIUS = {"point": 0.1, "car": 0.12}  # planar footprint, for pillar clearances
TURN_RATE = 3.0  # rad/s per unit turn action (point)


@dataclass(frozen=True)
class NavLayout:
    """Where things may be placed: uniform in the square `extent`, rejecting overlaps of keep-out circles."""

    extent: float = 1.5
    robot_keepout: float = 0.4
    goal_keepout: float = 0.305
    obstacle_keepout: float = 0.18  # added to the obstacle radius


def pseudo_lidar(rel_xy: np.ndarray, bins: int = LIDAR_BINS) -> np.ndarray:
    """Safety-Gym-style pseudo-lidar from object positions in the robot frame [k, 2]: each object adds
    exp(−distance) to the bin its bearing falls in, shared linearly with the neighbouring bin by how far the
    bearing is from the bin centre (aliasing); a bin keeps the max over objects. Bin i is centred on
    bearing (i + ½)·2π/bins, measured counter-clockwise from the robot's heading."""
    # plain-Python math: for the handful of objects a Safety-Gym scene has, this beats numpy's per-call cost
    out = [0.0] * bins
    scale = bins / (2 * math.pi)
    for x, y in np.asarray(rel_xy, float).reshape(-1, 2).tolist():
        sensor = math.exp(-math.hypot(x, y))
        pos = (math.atan2(y, x) % (2 * math.pi)) * scale - 0.5
        base = math.floor(pos)
        frac = pos - base
        lo = base % bins
        hi = (lo + 1) % bins
        out[lo] = max(out[lo], (1 - frac) * sensor)
        out[hi] = max(out[hi], frac * sensor)
    return np.array(out)


def _robot_xml(robot: str) -> tuple[str, str]:
    """(body, actuators). Contact classes: floor 2, pillars 1; point touches pillars only, car both."""
    if robot == "point":
        body = """
    <body name="robot" pos="0 0 0.1">
      <joint name="x" type="slide" axis="1 0 0" damping="0.25"/>
      <joint name="y" type="slide" axis="0 1 0" damping="0.25"/>
      <joint name="yaw" type="hinge" axis="0 0 1" damping="0.005"/>
      <geom name="robot" type="sphere" size="0.1" mass="0.5" contype="1" conaffinity="1" rgba="0.9 0.3 0.3 1"/>
      <geom name="nose" type="box" pos="0.1 0 0" size="0.04 0.02 0.02" mass="0" contype="0" conaffinity="0" rgba="0.3 0.3 0.3 1"/>
      <site name="robot" pos="0 0 0" size="0.01"/>
    </body>"""
        actuators = """
    <motor name="forward" site="robot" gear="0.3 0 0 0 0 0" ctrllimited="true" ctrlrange="-1 1"/>
    <velocity name="turn" joint="yaw" kv="0.05" ctrllimited="true" ctrlrange="-3 3"/>"""
    elif robot == "car":
        body = """
    <body name="robot" pos="0 0 0.07">
      <freejoint name="robot"/>
      <geom name="robot" type="box" size="0.1 0.07 0.03" mass="1" contype="3" conaffinity="3" rgba="0.9 0.3 0.3 1"/>
      <geom name="caster" type="sphere" pos="-0.075 0 -0.035" size="0.035" mass="0.05" condim="1" priority="1" contype="3" conaffinity="3"/>
      <site name="robot" pos="0 0 0" size="0.01"/>
      <body name="left_wheel" pos="0.05 0.09 -0.03">
        <joint name="left" type="hinge" axis="0 1 0" damping="0.002"/>
        <geom type="cylinder" size="0.04 0.01" quat="0.70710678 0.70710678 0 0" mass="0.05" friction="1 0.01 0.001" contype="3" conaffinity="3" rgba="0.2 0.2 0.2 1"/>
      </body>
      <body name="right_wheel" pos="0.05 -0.09 -0.03">
        <joint name="right" type="hinge" axis="0 1 0" damping="0.002"/>
        <geom type="cylinder" size="0.04 0.01" quat="0.70710678 0.70710678 0 0" mass="0.05" friction="1 0.01 0.001" contype="3" conaffinity="3" rgba="0.2 0.2 0.2 1"/>
      </body>
    </body>"""
        actuators = """
    <motor name="left" joint="left" gear="0.05" ctrllimited="true" ctrlrange="-1 1"/>
    <motor name="right" joint="right" gear="0.05" ctrllimited="true" ctrlrange="-1 1"/>"""
    else:
        raise ValueError(f"robot must be 'point' or 'car', got {robot!r}")
    return body, actuators


def navigation_xml(robot: str, obstacle: str, num_obstacles: int, radius: float) -> str:
    body, actuators = _robot_xml(robot)
    obstacles = []
    for i in range(num_obstacles):
        if obstacle == "hazard":  # a flat disc with no contact: only its geometry matters
            obstacles.append(
                f'<geom name="obstacle{i}" type="cylinder" size="{radius} 0.002" pos="0 0 0.002" '
                f'contype="0" conaffinity="0" rgba="0.2 0.2 0.9 0.6"/>'
            )
        else:  # a static physical cylinder
            obstacles.append(
                f'<geom name="obstacle{i}" type="cylinder" size="{radius} 0.25" pos="0 0 0.25" '
                f'contype="1" conaffinity="1" rgba="0.3 0.6 0.9 1"/>'
            )
    return f"""
<mujoco model="{robot}_{obstacle}">
  <option timestep="{TIMESTEP}"/>
  <visual><global offwidth="400" offheight="400"/></visual>
  <worldbody>
    <light pos="0 0 4" dir="0 0 -1"/>
    <camera name="top" pos="0 0 4.2" xyaxes="1 0 0 0 1 0"/>
    <geom name="floor" type="plane" size="3 3 0.1" contype="2" conaffinity="2" rgba="0.85 0.85 0.8 1"/>
    <geom name="goal" type="cylinder" size="{GOAL_SIZE} 0.002" pos="0 0 0.003" contype="0" conaffinity="0" rgba="0.2 0.9 0.2 0.5"/>
    {''.join(obstacles)}
    {body}
  </worldbody>
  <actuator>{actuators}
  </actuator>
  <sensor>
    <accelerometer site="robot"/>
    <velocimeter site="robot"/>
    <gyro site="robot"/>
    <magnetometer site="robot"/>
  </sensor>
</mujoco>"""


class NavigationEnv(gym.Env):
    """Point / Car robot, Goal task, `num_obstacles` hazards or pillars of radius `obstacle_radius`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        robot: str = "point",
        obstacle: str = "hazard",
        num_obstacles: int = 4,
        obstacle_radius: float = 0.15,
        cost_mode: str = "dense",
        health: int | None = None,
        layout: NavLayout = NavLayout(),
        randomization: DomainRandomization | None = None,
        render_mode: str | None = None,
        geometry_info: bool = False,
    ):
        if obstacle not in ("hazard", "pillar"):
            raise ValueError(f"obstacle must be 'hazard' or 'pillar', got {obstacle!r}")
        if cost_mode not in ("dense", "indicator"):
            raise ValueError(f"cost_mode must be 'dense' or 'indicator', got {cost_mode!r}")
        if health is not None and obstacle != "hazard":
            raise ValueError("health (CSC traps) needs hazards")
        self.robot, self.obstacle = robot, obstacle
        self.num_obstacles, self.obstacle_radius = num_obstacles, float(obstacle_radius)
        self.cost_mode, self.max_health, self.layout = cost_mode, health, layout
        self._indicator_cost = cost_mode == "indicator"
        self.randomization = randomization or DomainRandomization()
        self.render_mode = render_mode
        self.geometry_info = bool(geometry_info)
        self._info = self._geometry_info if self.geometry_info else self._task_info  # chosen once: no per-step test
        self.sim = MujocoSim(navigation_xml(robot, obstacle, num_obstacles, obstacle_radius), FRAME_SKIP, from_string=True)
        self.dt = self.sim.dt
        m = self.sim.model
        import mujoco

        self._obstacle_geoms = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"obstacle{i}") for i in range(num_obstacles)]
        self._goal_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "goal")
        self._robot_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "robot")
        self._robot_site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "robot")
        self._pillars = obstacle == "pillar"
        self._pillar_geoms = set(self._obstacle_geoms) if self._pillars else set()
        self._ctrl_scale = np.array([1.0, TURN_RATE]) if robot == "point" else np.ones(2)
        self._turn_scale = float(self._ctrl_scale[1])
        self._robot_geoms = {g for g in range(m.ngeom) if self._belongs_to_robot(m.geom_bodyid[g])}
        self._touch_pairs = {(a, b) for a in self._pillar_geoms for b in self._robot_geoms}
        self._touch_pairs |= {(b, a) for a, b in self._touch_pairs}
        # cached views into MjData (its buffers live as long as the MjData): no per-step attribute lookups
        d = self._data = self.sim.data
        self._model, self._mj_step = m, mujoco.mj_step
        self._ctrl, self._imu, self._qvel2 = d.ctrl, d.sensordata[:12], d.qvel[:2]
        self._xpos, self._xmat = d.xpos[self._robot_body], d.xmat[self._robot_body]
        self._obs_buf = np.empty(12 + 2 * LIDAR_BINS)
        # the step table (layout in sim.nav_sensing.sense): the sensing reads the goal and obstacles from it
        # and writes d, ḋ, robot position and velocity; a step's info arrays are views of one copy of it (one
        # allocation instead of seven, ~2.5 µs a step)
        n = num_obstacles
        self._table = np.zeros(table_size(n))
        self._table[2 * n:3 * n] = self.obstacle_radius
        self._objects = self._table[3 * n + 4:].reshape(n + 1, 2)  # row 0 the goal, rows 1.. the obstacles
        self._views = (slice(0, n), slice(n, 2 * n), slice(2 * n, 3 * n), slice(3 * n, 3 * n + 2),
                       slice(3 * n + 2, 3 * n + 4), slice(3 * n + 4, 3 * n + 6), slice(3 * n + 6, None))
        self._obs32 = np.empty(self._obs_buf.shape, np.float32)
        # the sensing's buffers by address (sim.nav_sensing.BUFFERS order): all of them live as long as this env
        buffers = (self._imu, self._xmat, self._qvel2, self._xpos, self._obs_buf, self._table, self._obs32)
        assert len(buffers) == len(BUFFERS)
        self._buffer_addresses = np.array(addresses(buffers, [np.float64] * 6 + [np.float32]), np.int64)
        self._buffer_lengths = np.array([b.shape[0] for b in buffers], np.int64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        obs_dim = 12 + 2 * LIDAR_BINS
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)
        self._set_layout(np.zeros((num_obstacles, 2)), np.zeros(2))

    def __getstate__(self):
        # a copy would carry the addresses of this env's simulator buffers into its kernels (and deepcopy turns
        # the MjData / numpy views into detached arrays): refuse clearly instead of stepping the wrong memory
        raise TypeError(f"{type(self).__name__} cannot be copied or pickled (its compiled step holds the addresses "
                        "of its own simulator buffers); make another one with gymnasium.make")

    def _belongs_to_robot(self, body: int) -> bool:
        m = self.sim.model
        while body != 0:
            if body == self._robot_body:
                return True
            body = m.body_parentid[body]
        return False

    # -- state --------------------------------------------------------------------------------------
    @property
    def obstacle_pos(self) -> np.ndarray:
        """[n, 2] obstacle centres: a view of what the sensing reads (assigning moves the sensed
        obstacles; pillars' geoms are moved by `_place`)."""
        return self._objects[1:]

    @obstacle_pos.setter
    def obstacle_pos(self, xy) -> None:
        self._objects[1:] = np.asarray(xy, float).reshape(self.num_obstacles, 2)

    @property
    def robot_pos(self) -> np.ndarray:
        return self.sim.data.xpos[self._robot_body][:2].copy()

    @property
    def robot_vel(self) -> np.ndarray:
        # world-frame planar velocity of the robot's origin: the x/y slide joints (point) or the free
        # joint's linear part (car) are both the first two dofs
        return self.sim.data.qvel[:2].copy()

    @property
    def robot_heading(self) -> float:
        xmat = self.sim.data.xmat[self._robot_body].reshape(3, 3)
        return float(np.arctan2(xmat[1, 0], xmat[0, 0]))

    def is_unsafe_xy(self, xy) -> np.ndarray:
        """Closed-form unsafe set on planar robot positions [..., 2]: inside a hazard, or closer to a
        pillar's centre than pillar radius + robot footprint (i.e. touching it)."""
        xy = np.asarray(xy, float)
        d = np.linalg.norm(xy[..., None, :] - self.obstacle_pos, axis=-1)
        reach = self.obstacle_radius + (ROBOT_RADIUS[self.robot] if self.obstacle == "pillar" else 0.0)
        return (d < reach).any(axis=-1)

    # -- episode ------------------------------------------------------------------------------------
    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._dr = self.randomization.episode(self.np_random, self.sim)
        options = options or {}
        robot_xy, heading, obstacles, goal = self._sample_layout()
        robot_xy = np.asarray(options.get("robot_pos", robot_xy), float)
        heading = float(options.get("robot_heading", heading))
        obstacles = np.asarray(options.get("obstacle_pos", obstacles), float).reshape(self.num_obstacles, 2)
        goal = np.asarray(options.get("goal_pos", goal), float)
        self._place(robot_xy, heading, obstacles, goal)
        self.health = self.max_health
        self._last_goal_dist = self._goal_dist()
        obs, inside = self._sense()
        unsafe = self._obstacle_contact() if self._pillars else inside > 0
        return obs, self._info(0.0, False, False, unsafe)

    def _sample_layout(self):
        L, rng = self.layout, self.np_random
        placed: list[tuple[float, float, float]] = []  # x, y, keep-out of what is placed (plain floats: a reset
        # draws ~15 candidates against up to 6 objects, and numpy's per-call cost was most of a reset)

        def draw(keepout):
            for _ in range(10_000):
                xy = rng.uniform(-L.extent, L.extent, 2)
                x, y = xy.tolist()
                if all(math.hypot(x - px, y - py) >= keepout + k for px, py, k in placed):
                    placed.append((x, y, keepout))
                    return xy
            raise RuntimeError("could not place every object; enlarge NavLayout.extent")

        robot = draw(L.robot_keepout)
        goal = draw(L.goal_keepout)
        obstacles = np.array([draw(self.obstacle_radius + L.obstacle_keepout) for _ in range(self.num_obstacles)])
        heading = rng.uniform(-np.pi, np.pi)
        return robot, heading, obstacles.reshape(self.num_obstacles, 2), goal

    def _place(self, robot_xy, heading, obstacles, goal):
        m, d = self.sim.model, self.sim.data
        import mujoco

        mujoco.mj_resetData(m, d)
        if self.robot == "point":
            d.qpos[:3] = [robot_xy[0], robot_xy[1], heading]
        else:
            d.qpos[:3] = [robot_xy[0], robot_xy[1], m.body_pos[self._robot_body][2]]
            d.qpos[3:7] = [np.cos(heading / 2), 0, 0, np.sin(heading / 2)]
        self._set_layout(np.array(obstacles, float).reshape(self.num_obstacles, 2), goal)
        for g, xy in zip(self._obstacle_geoms, self.obstacle_pos):
            m.geom_pos[g][:2] = xy
        mujoco.mj_forward(m, d)

    def _set_layout(self, obstacles, goal):
        self.obstacle_pos = obstacles
        self._set_goal(goal)

    def _set_goal(self, goal):
        self.goal_pos = np.array(goal, float).reshape(2)
        self._goal_x, self._goal_y = self.goal_pos.tolist()
        self._objects[0] = self.goal_pos
        self.sim.model.geom_pos[self._goal_geom][:2] = self.goal_pos

    def _goal_dist(self) -> float:
        return float(np.linalg.norm(self.goal_pos - self.robot_pos))

    def step(self, action):
        obs, reward, failure, cost, unsafe = self.step_core(action)
        return obs, reward, failure, False, self._info(cost, failure, self._goal_met, unsafe)

    def step_core(self, action):
        """`step` without its info dict: (obs, reward, terminated, cost, unsafe). Vector envs that report only
        cost and unsafe call this, or `NavigationCopies` (the same three parts, the sensing of all copies in
        one compiled call)."""
        reward = self._advance(action)
        inside = sense_at(self._buffer_addresses, self._buffer_lengths)
        obs = self._observation() if self._dr.noise_std else self._obs32.copy()  # = _sense, inlined
        cost, failure, unsafe = self._outcome(inside)
        return obs, reward, failure, cost, unsafe

    def _advance(self, action) -> float:
        """Write the command, step the physics, score the goal (a new goal once it is reached); returns the
        reward. The sensing comes next."""
        a = self._dr.action(np.array(action, np.float64)) if self._dr.latency else action  # a copy: callers reuse buffers
        # ctrl = a · _ctrl_scale; MuJoCo clamps it to each actuator's ctrlrange (±1, turn ±3 = clip(a)·TURN_RATE),
        # so no np.clip here. Written as a copy plus one float product: numpy's multiply costs ~1 µs a step
        ctrl = self._ctrl
        ctrl[:] = a
        c0, c1 = ctrl.tolist()
        if not (math.isfinite(c0) and math.isfinite(c1)):
            raise ValueError(f"action must be finite, got {action!r}")
        if self._turn_scale != 1.0:
            ctrl[1] = c1 * self._turn_scale
        self._mj_step(self._model, self._data, FRAME_SKIP)  # = self.sim.step_written(), one call less
        x, y, _ = self._xpos.tolist()
        goal_dist = math.hypot(self._goal_x - x, self._goal_y - y)
        reward = self._last_goal_dist - goal_dist
        self._goal_met = goal_met = goal_dist <= GOAL_SIZE
        if goal_met:
            reward += 1.0
            self._set_goal(self._sample_goal())
            goal_dist = self._goal_dist()
        self._last_goal_dist = goal_dist
        return reward

    def _outcome(self, inside: float) -> tuple[float, bool, bool]:
        """(cost, failure, unsafe) of the state just sensed; `inside` = Σ penetration depth (r − d)⁺ over hazards."""
        if self._pillars:
            contact = self._obstacle_contact()
            return float(contact), False, contact
        unsafe = inside > 0
        if self.max_health is not None:  # CSC traps: delayed, cumulative failure
            if unsafe:
                self.health -= 1
            failure = self.health <= 0
            return float(failure), failure, unsafe
        return (float(unsafe) if self._indicator_cost else inside), False, unsafe

    @classmethod
    def copies_stepper(cls, envs) -> "NavigationCopies":
        """What a vector env of these copies steps them with (`LeanVectorEnv` asks for it)."""
        return NavigationCopies(envs)

    def _sample_goal(self):
        L, rng = self.layout, self.np_random
        others = [(*self.robot_pos.tolist(), L.robot_keepout)]
        others += [(px, py, self.obstacle_radius + L.obstacle_keepout) for px, py in self.obstacle_pos.tolist()]
        for _ in range(10_000):
            xy = rng.uniform(-L.extent, L.extent, 2)
            x, y = xy.tolist()
            if all(math.hypot(x - px, y - py) >= L.goal_keepout + k for px, py, k in others):
                return xy
        raise RuntimeError("could not place a new goal")

    def _obstacle_contact(self) -> bool:
        """Any contact between a robot geom and a pillar (looked up in a precomputed pair set)."""
        n = self._data.ncon
        if n == 0 or not self._pillar_geoms:
            return False
        pairs = self._touch_pairs
        return any((g1, g2) in pairs for g1, g2 in self._data.contact.geom[:n].tolist())

    # -- observation / info -------------------------------------------------------------------------
    def _sense(self):
        """Observation and Σ hazard depth; fills the step table (d, ḋ, robot position and velocity). One
        compiled pass (`sim.nav_sensing`, held to `pseudo_lidar` by tests/sim/test_sim_safety_gym.py)."""
        inside = sense_at(self._buffer_addresses, self._buffer_lengths)
        return self._observation(), inside

    def _observation(self) -> np.ndarray:
        """The float32 observation of the sensed buffer, with this episode's noise if any."""
        if self._dr.noise_std:
            return self._dr.observation(self._obs_buf).astype(np.float32)
        return self._obs32.copy()

    def _task_info(self, cost: float, failure: bool, goal_met: bool, unsafe: bool) -> dict:
        # the values are Python floats and bools already (_outcome, _advance): no conversions on the step path
        info = {"cost": cost, "unsafe": unsafe, "goal_met": goal_met}
        if self.max_health is not None:
            info["health"] = self.health
            info["failure"] = failure
        return info

    def _geometry_info(self, cost: float, failure: bool, goal_met: bool, unsafe: bool) -> dict:
        m = self._xmat
        t = self._table.copy()  # fresh arrays per call (Gymnasium's rule); the entries below are views of it
        d, ddot, radius, pos, vel, goal, obstacles = self._views
        info = {
            "cost": float(cost),
            "unsafe": bool(unsafe),
            "obstacle_d": t[d],
            "obstacle_ddot": t[ddot],
            "obstacle_pos": t[obstacles].reshape(self.num_obstacles, 2),
            "obstacle_radius": t[radius],
            "robot_pos": t[pos],
            "robot_vel": t[vel],
            "robot_heading": math.atan2(m[3], m[0]),
            "goal_pos": t[goal],
            "goal_dist": self._last_goal_dist,
            "goal_met": bool(goal_met),
        }
        if self.max_health is not None:
            info["health"] = self.health
            info["failure"] = bool(failure)
        return info

    def render(self):
        if self.render_mode == "rgb_array":
            return self.sim.render(400, 400, camera="top")
        return None

    def close(self):
        self.sim.close()


class NavigationCopies:
    """Steps several copies of one navigation task together, with the results of each copy's `step_core`: each
    copy's command, physics and goal in Python (`_advance`), then the sensing of all of them in one compiled call
    (`sense_copies`, the same arithmetic on each copy's own buffers, its float32 observation written straight
    into the vector env's array), then each copy's cost (`_outcome`). What `LeanVectorEnv` uses for these envs:
    one sensing call instead of one per copy and no per-copy observation array."""

    def __init__(self, envs):
        envs = list(envs)
        e0 = envs[0]
        if any((e.robot, e.obstacle, e.num_obstacles, e.obstacle_radius) != (e0.robot, e0.obstacle, e0.num_obstacles,
                                                                             e0.obstacle_radius) for e in envs):
            raise ValueError("NavigationCopies steps copies of one task (same robot, obstacles and radius)")
        self.envs = envs
        # each copy's sensing buffers by address; the envs (and their MjData) outlive this object
        self._buffers = np.stack([e._buffer_addresses for e in envs])
        self._lengths = e0._buffer_lengths
        self._inside = np.zeros(len(envs))

    def step(self, rows: list[int], actions, obs_out, rewards, terminated, costs, unsafe) -> None:
        """Step copies `rows` with actions[r]; write obs_out[r] and rewards[r], terminated[r], costs[r], unsafe[r]
        (lists over all copies)."""
        if not rows:
            return
        envs = self.envs
        for r in rows:
            rewards[r] = envs[r]._advance(actions[r])
        sense_copies(self._buffers, self._lengths, np.array(rows, np.int64), obs_out, self._inside)
        inside = self._inside.tolist()
        for r in rows:
            env = envs[r]
            costs[r], terminated[r], unsafe[r] = env._outcome(inside[r])
            if env._dr.noise_std:  # domain randomisation: this episode's observation noise, drawn as step_core draws it
                obs_out[r] = env._observation()
