"""A1 quadruped (pybullet_data a1/a1.urdf) in PyBullet: SQRL locomotion and the shield's velocity-commanded robot.

Physics 0.002 s × 10 = 50 Hz control (SQRL's Minitaur ran at 50 Hz). Joints are PD position servos
(PyBullet POSITION_CONTROL, URDF effort limits). Leg order FR, FL, RR, RL; joints per leg: abduction, hip, knee.
Observation (34): roll, pitch, yaw, roll/pitch/yaw rates (6), base velocity in the body frame (3),
base height (1), 12 joint angles, 12 joint velocities.
Fall (failure, episode ends, cost 1): |roll| or |pitch| > 0.4 rad or base height < 0.15 m.

`QuadrupedLocomotionEnv` (SQRL, sqrl.md §5, Minitaur replaced by A1): a ∈ [−1, 1]¹² offsets 0.5·a rad around
the standing pose. Reward v_g − |v_g − clip(v_x, ±0.8)| − 0.01·mean|a_t − 2a_{t−1} + a_{t−2}|. Pre-training
target_speed 0.3 m/s; fine-tuning variants 0.4 m/s (+33 %) and foot friction ×1.25.

`QuadrupedVelocityEnv` (shield): a = (vx, vy, yaw rate) ∈ [−1, 1]³ × (0.4 m/s, 0.2 m/s, 0.8 rad/s), turned into
joint targets by `TrotGait`, an open-loop trot with per-leg inverse kinematics. Round pillars (physical)
are obstacles; touching one is a collision (unsafe, cost 1, ends the episode like a fall). Reward: command
tracking −‖v_xy − v_cmd‖ − 0.1 |ω − ω_cmd|. The unsafe set in closed form: `obstacle_pos`/`obstacle_radius`
and the body footprint radius `BODY_RADIUS` (`is_unsafe_xy`) plus the fall thresholds.
"""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numba import njit

from sim.pybullet_env import BulletSim
from sim.randomization import DomainRandomization

TIMESTEP, FRAME_SKIP = 0.002, 10
LEG_JOINTS = [1, 3, 4, 6, 8, 9, 11, 13, 14, 16, 18, 19]  # abduction, hip, knee × FR, FL, RR, RL
FOOT_LINKS = [5, 10, 15, 20]
STAND = np.array([0.0, 0.8, -1.6] * 4)
FALL_ANGLE, FALL_HEIGHT = 0.4, 0.15
HIP_OFFSETS = np.array([[0.183, -0.047], [0.183, 0.047], [-0.183, -0.047], [-0.183, 0.047]])  # base frame
L_HIP, L_UP, L_LOW = 0.08505, 0.2, 0.2
LEG_SIDE = np.array([-1, 1, -1, 1])  # right legs' hip offset points to −y
BODY_RADIUS = 0.3  # planar footprint for obstacle clearance (half the body length plus the feet)
REACH = 1.0  # no point of the robot is farther than this from the base (half body 0.2 + hip 0.05 + leg 0.49 < 0.75)
KP, KD = 0.1, 1.0  # PyBullet position/velocity gains of the joint servos
_KP_LIST, _KD_LIST = [KP] * 12, [KD] * 12


@njit("UniTuple(float64, 3)(float64, float64, float64, float64)", cache=True, nogil=True)
def _leg_ik(x, y, z, side):
    l_hip = side * L_HIP
    r2 = x * x + y * y + z * z
    cos_knee = (r2 - l_hip * l_hip - L_UP**2 - L_LOW**2) / (2 * L_UP * L_LOW)
    knee = -math.acos(max(-1.0, min(1.0, cos_knee)))
    leg = math.sqrt(L_UP**2 + L_LOW**2 + 2 * L_UP * L_LOW * math.cos(knee))  # hip → foot in the leg plane
    hip = math.asin(max(-1.0, min(1.0, -x / leg))) - knee / 2
    down = leg * math.cos(hip + knee / 2)  # leg-plane length below the hip, before abduction
    abduction = math.atan2(down * y + l_hip * z, l_hip * y - down * z)
    return (abduction, hip, knee)


def leg_inverse_kinematics(foot, side: int) -> tuple[float, float, float]:
    """Joint angles (abduction, hip, knee) putting the foot at `foot` = (x, y, z) in the hip frame.
    Knee from the law of cosines on the thigh–calf triangle; hip from the foot's fore-aft angle;
    abduction from rotating the leg plane (offset side·L_HIP from the hip) onto the foot's y-z position."""
    x, y, z = foot
    return _leg_ik(float(x), float(y), float(z), float(side))


@njit("void(float64, float64, float64, float64, float64, float64, float64, float64[::1])", cache=True, nogil=True)
def _trot_targets(phase0, vx, vy, wz, half, height, lift, out):
    """`TrotGait`'s 12 joint targets at gait phase `phase0` (compiled: ~45 µs a step in plain Python)."""
    for leg in range(4):
        phase = (phase0 + (0.0 if leg == 0 or leg == 3 else 0.5)) % 1.0
        hx, hy = HIP_OFFSETS[leg, 0], HIP_OFFSETS[leg, 1]
        stride_x, stride_y = (vx - wz * hy) * half, (vy + wz * hx) * half  # body travel during one stance
        if phase < 0.5:  # stance: foot slides back from +stride/2 to −stride/2
            k = 0.5 - phase / 0.5
            z = -height
        else:  # swing: forward again, lifted
            s = (phase - 0.5) / 0.5
            k = s - 0.5
            z = -height + lift * math.sin(math.pi * s)
        side = float(LEG_SIDE[leg])
        out[3 * leg], out[3 * leg + 1], out[3 * leg + 2] = _leg_ik(stride_x * k, side * L_HIP + stride_y * k, z, side)


class TrotGait:
    """Open-loop trot: diagonal pairs (FR+RL, FL+RR) alternate swing and stance every half period. In stance a
    foot moves opposite to the commanded velocity of its hip (v + ω × r_hip); in swing it returns along a
    raised sine arc. With zero command the feet step in place."""

    def __init__(self, period: float = 0.3, height: float = 0.27, lift: float = 0.06):
        self.period, self.height, self.lift = period, height, lift
        self.phase = 0.0

    def reset(self):
        self.phase = 0.0

    def joint_targets(self, command, dt: float) -> np.ndarray:
        vx, vy, wz = (float(c) for c in command)
        self.phase = (self.phase + dt / self.period) % 1.0
        out = np.empty(12)
        _trot_targets(self.phase, vx, vy, wz, self.period / 2, float(self.height), float(self.lift), out)
        return out


class _QuadrupedBase(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, foot_friction: float = 1.0, randomization: DomainRandomization | None = None, render_mode=None):
        self.render_mode = render_mode
        self.foot_friction = foot_friction
        self.randomization = randomization or DomainRandomization()
        self.sim = BulletSim(TIMESTEP, FRAME_SKIP)
        self.dt = self.sim.dt
        p = self.sim.p
        self.plane = p.loadURDF("plane.urdf")
        self.robot = p.loadURDF("a1/a1.urdf", [0, 0, 0.32], useFixedBase=False)
        self.max_force = np.array([p.getJointInfo(self.robot, j)[10] for j in LEG_JOINTS])
        self._setup_world()
        self._initial_state = p.saveState()
        self._position_control = p.POSITION_CONTROL  # BulletClient looks constants up through inspect on every access
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(34,), dtype=np.float32)
        self._base_masses = {l: p.getDynamicsInfo(self.robot, l)[0] for l in range(-1, p.getNumJoints(self.robot))}

    def _setup_world(self):
        pass

    # -- simulator plumbing ----------------------------------------------------------------------------
    def _apply_physics_scales(self, scales):
        p = self.sim.p
        for link, m in self._base_masses.items():
            p.changeDynamics(self.robot, link, mass=m * scales["mass"])
        for foot in FOOT_LINKS:
            p.changeDynamics(self.robot, foot, lateralFriction=self.foot_friction * scales["friction"])
        self._motor_scale = scales["motor"]
        self._force_list = (self.max_force * self._motor_scale).tolist()  # built once per episode, not per step

    def _reset_robot(self, xy=(0.0, 0.0), yaw=0.0):
        p = self.sim.p
        p.restoreState(self._initial_state)
        self._dr = self.randomization.episode(self.np_random)
        self._apply_physics_scales(self._dr.scales)
        quat = p.getQuaternionFromEuler([0, 0, yaw])
        p.resetBasePositionAndOrientation(self.robot, [xy[0], xy[1], 0.32], quat)
        p.resetBaseVelocity(self.robot, [0, 0, 0], [0, 0, 0])
        for j, q in zip(LEG_JOINTS, STAND):
            p.resetJointState(self.robot, j, q, 0.0)
        self.command_joints(STAND)
        for _ in range(25):  # settle onto the feet (0.5 s), not part of the episode
            self.sim.step()

    def command_joints(self, targets):
        p = self.sim.p
        p.setJointMotorControlArray(self.robot, LEG_JOINTS, self._position_control, targetPositions=np.asarray(targets).tolist(),
                                    forces=self._force_list, positionGains=_KP_LIST, velocityGains=_KD_LIST)

    def base_state(self):
        p = self.sim.p
        pos, quat = p.getBasePositionAndOrientation(self.robot)
        lin, ang = p.getBaseVelocity(self.robot)
        rpy = np.array(p.getEulerFromQuaternion(quat))
        rot = np.array(p.getMatrixFromQuaternion(quat)).reshape(3, 3)
        return np.array(pos), rpy, rot.T @ np.array(lin), rot.T @ np.array(ang), np.array(lin)

    def _obs(self, base=None):
        pos, rpy, v_body, w_body, _ = self.base_state() if base is None else base
        joints = self.sim.p.getJointStates(self.robot, LEG_JOINTS)
        obs = np.empty(34)
        obs[0:3], obs[3:6], obs[6:9], obs[9] = rpy, w_body, v_body, pos[2]
        obs[10:22] = [s[0] for s in joints]  # 12 angles, then 12 velocities
        obs[22:] = [s[1] for s in joints]
        return self._dr.observation(obs).astype(np.float32)

    def fallen(self, base=None) -> bool:
        pos, rpy, *_ = self.base_state() if base is None else base
        return bool(abs(rpy[0]) > FALL_ANGLE or abs(rpy[1]) > FALL_ANGLE or pos[2] < FALL_HEIGHT)

    def render(self):
        if self.render_mode == "rgb_array":
            pos, *_ = self.base_state()
            return self.sim.render(pos.tolist(), distance=1.2)
        return None

    def close(self):
        self.sim.close()


class QuadrupedLocomotionEnv(_QuadrupedBase):
    """SQRL locomotion: run forward at `target_speed` without falling."""

    def __init__(self, target_speed: float = 0.3, foot_friction: float = 1.0, **kw):
        super().__init__(foot_friction=foot_friction, **kw)
        self.target_speed = float(target_speed)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(12,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._reset_robot()
        self._prev = [np.zeros(12), np.zeros(12)]
        return self._obs(), {"cost": 0.0, "unsafe": False}

    def step(self, action):
        a = np.clip(np.asarray(action, float).reshape(12), -1.0, 1.0)
        self.command_joints(STAND + 0.5 * (self._dr.action(a) if self._dr.latency else a))
        self.sim.step()
        base = self.base_state()  # read once per step: obs, reward and the fall test share it
        v_forward = float(base[2][0])
        acc = a - 2 * self._prev[0] + self._prev[1]
        self._prev = [a, self._prev[0]]
        vg = self.target_speed
        reward = vg - abs(vg - min(max(v_forward, -0.8), 0.8)) - 0.01 * float(np.abs(acc).mean())
        fell = self.fallen(base)
        return self._obs(base), reward, fell, False, {"cost": float(fell), "unsafe": fell, "forward_speed": v_forward}


class QuadrupedVelocityEnv(_QuadrupedBase):
    """The shield's quadruped: body-velocity commands through a trot controller, among pillars."""

    COMMAND_SCALE = np.array([0.4, 0.2, 0.8])

    def __init__(self, num_obstacles: int = 4, obstacle_radius: float = 0.2, arena: float = 2.0, **kw):
        self.num_obstacles, self.obstacle_radius, self.arena = num_obstacles, float(obstacle_radius), arena
        super().__init__(**kw)
        self.gait = TrotGait()
        self.action_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.obstacle_pos = np.zeros((num_obstacles, 2))

    def _setup_world(self):
        p = self.sim.p
        shape = p.createCollisionShape(p.GEOM_CYLINDER, radius=self.obstacle_radius, height=0.6)
        visual = p.createVisualShape(p.GEOM_CYLINDER, radius=self.obstacle_radius, length=0.6, rgbaColor=[0.3, 0.6, 0.9, 1])
        self.obstacles = [p.createMultiBody(0, shape, visual, [10 + 2 * i, 10, 0.3]) for i in range(self.num_obstacles)]

    def is_unsafe_xy(self, xy) -> np.ndarray:
        """Closed form: the body centre closer than obstacle radius + BODY_RADIUS to any obstacle centre."""
        d = np.linalg.norm(np.asarray(xy, float)[..., None, :] - self.obstacle_pos, axis=-1)
        return (d < self.obstacle_radius + BODY_RADIUS).any(-1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        options = options or {}
        # obstacles anywhere in the arena but ≥ 0.6 m clear of the start at the origin, and of each other
        placed = []
        while len(placed) < self.num_obstacles:
            xy = self.np_random.uniform(-self.arena, self.arena, 2)
            if np.linalg.norm(xy) > self.obstacle_radius + BODY_RADIUS + 0.6 and all(np.linalg.norm(xy - q) > 0.6 for q in placed):
                placed.append(xy)
        self.obstacle_pos = np.asarray(options.get("obstacle_pos", placed), float).reshape(self.num_obstacles, 2)
        self._reset_robot()
        for body, xy in zip(self.obstacles, self.obstacle_pos):
            self.sim.p.resetBasePositionAndOrientation(body, [xy[0], xy[1], 0.3], [0, 0, 0, 1])
        self.gait.reset()
        return self._obs(), self._info(False, False)

    def collided(self, base_xy=None) -> bool:
        """Any contact between the robot and a pillar. Given the base position, pillars whose centre is farther
        than radius + REACH cannot touch it and are not asked for (PyBullet's contact query costs ~4 µs each)."""
        p = self.sim.p
        if base_xy is None:
            return any(p.getContactPoints(self.robot, body) for body in self.obstacles)
        x, y = base_xy
        reach = self.obstacle_radius + REACH
        return any(p.getContactPoints(self.robot, body) for body, (ox, oy) in zip(self.obstacles, self.obstacle_pos.tolist())
                   if math.hypot(ox - x, oy - y) < reach)

    def step(self, action):
        obs, reward, unsafe, _, _ = self.step_core(action)
        return obs, reward, unsafe, False, self._info(*self._last)

    def step_core(self, action):
        """`step` without its info dict: (obs, reward, terminated, cost, unsafe), for vector envs."""
        a = np.clip(np.asarray(action, float).reshape(3), -1.0, 1.0)
        command = (self._dr.action(a) if self._dr.latency else a) * self.COMMAND_SCALE
        self.command_joints(self.gait.joint_targets(command, self.dt))
        self.sim.step()
        base = self.base_state()
        _, _, v_body, w_body, _ = base
        d = v_body[:2] - command[:2]
        reward = -math.sqrt(d.dot(d)) - 0.1 * abs(float(w_body[2] - command[2]))  # sqrt(d·d) = np.linalg.norm(d), bit for bit
        fell, hit = self.fallen(base), self.collided(base[0][:2].tolist())
        self._last = fell, hit, base
        unsafe = bool(fell or hit)
        return self._obs(base), reward, unsafe, float(unsafe), unsafe

    def _info(self, fell, hit, base=None):
        pos, rpy, v_body, *_ = self.base_state() if base is None else base
        unsafe = bool(fell or hit)
        return {"cost": float(unsafe), "unsafe": unsafe, "fall": bool(fell), "collision": bool(hit),
                "base_pos": pos, "base_yaw": float(rpy[2]), "base_velocity": v_body, "obstacle_pos": self.obstacle_pos.copy()}
