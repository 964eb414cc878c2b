"""7-DoF Franka Panda (pybullet_data franka_panda/panda.urdf) commanded by joint velocities, for the shield.

Action a ∈ [−1, 1]⁷ → joint velocity targets a·q̇_max (URDF limits: 2.175 rad/s joints 1–4, 2.61 rad/s 5–7),
tracked by PyBullet's velocity motors at the URDF effort limits. Physics 1/240 s × 4 = 60 Hz control.
Observation (20): q (7), q̇ (7), end-effector position (3), reach target (3).
Task: reach a target point sampled in front of the robot; reward −‖ee − target‖.
Unsafe set, in closed form (`keepout_low/high`, `joint_low/high`):
  * any checked point of the arm (the frame origins of panda_link4 … panda_link7, the hand and the grasp target,
    by forward kinematics from q: `sim.arm_kinematics`) inside the keep-out box — a person's workspace beside
    the robot;
  * any joint outside its URDF limits shrunk by `joint_margin`.
info["cost"] = 1.0 when unsafe. Unsafe is not terminal by default (a shield should keep it from happening);
terminate_on_unsafe=True makes it a failure.
"""
from __future__ import annotations

import math
import os

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from numba import njit

from sim.arm_kinematics import ArmKinematics, chain_frames, points_in_box
from sim.numba_views import addresses, float32_view, float64_matrix, float64_view, int64_view
from sim.pybullet_env import BulletSim
from sim.randomization import DomainRandomization

ARM_JOINTS = list(range(7))
CHECKED_LINKS = [3, 4, 5, 6, 8, 11]  # PyBullet link indices: panda_link4 … panda_link7, hand, grasp target
EE_LINK = 11
assert CHECKED_LINKS[-1] == EE_LINK  # _observe reads the end effector from the checked links
HOME = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.785])
KEEPOUT_LOW = np.array([0.25, 0.25, 0.0])  # m, base frame (the base is at the origin)
KEEPOUT_HIGH = np.array([0.75, 0.75, 0.9])


class BufferSlice:
    """A public array attribute that is a slice of one of the env's kernel buffers: reading gives the view (edits in
    place reach the kernel), assigning writes into the buffer (the kernel keeps reading the same address)."""

    def __init__(self, buffer: str, index: slice, doc: str):
        self.buffer, self.index, self.__doc__ = buffer, index, doc

    def __get__(self, obj, objtype=None):
        return self if obj is None else getattr(obj, self.buffer)[self.index]

    def __set__(self, obj, value):
        getattr(obj, self.buffer)[self.index] = value


class PandaEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 60}

    def __init__(self, joint_margin: float = 0.05, terminate_on_unsafe: bool = False,
                 randomization: DomainRandomization | None = None, render_mode=None):
        self.render_mode = render_mode
        # link masses, joint friction (joint damping here: the arm touches nothing), motor strength (the
        # velocity motors' effort limits), action latency, observation noise
        self.randomization = randomization or DomainRandomization()
        self._dr = self.randomization.episode(np.random.default_rng(0))  # replaced at every reset
        self._dynamics_scaled = False
        self.terminate_on_unsafe = terminate_on_unsafe
        self.sim = BulletSim(1 / 240, 4)
        self.dt = self.sim.dt
        p = self.sim.p
        self.robot = p.loadURDF("franka_panda/panda.urdf", useFixedBase=True)
        info = [p.getJointInfo(self.robot, j) for j in ARM_JOINTS]
        # joint_low ‖ joint_high (shrunk by the margin), read by the observation kernel
        self._limits = np.concatenate([[i[8] + joint_margin for i in info], [i[9] - joint_margin for i in info]])
        self.max_force = np.array([i[10] for i in info])
        self._force_list = self.max_force.tolist()
        self.max_velocity = np.array([i[11] for i in info])
        self._box = np.concatenate([KEEPOUT_LOW, KEEPOUT_HIGH])  # keepout_low ‖ keepout_high, read by the kernel
        box = p.createVisualShape(p.GEOM_BOX, halfExtents=((KEEPOUT_HIGH - KEEPOUT_LOW) / 2).tolist(), rgbaColor=[0.9, 0.2, 0.2, 0.35])
        p.createMultiBody(0, -1, box, ((KEEPOUT_HIGH + KEEPOUT_LOW) / 2).tolist())  # drawn only: no collision shape
        self.action_space = spaces.Box(-1.0, 1.0, shape=(7,), dtype=np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(20,), dtype=np.float32)
        self._target = np.zeros(3)
        self._links = list(range(-1, p.getNumJoints(self.robot)))
        self._base_inertia = {l: p.getDynamicsInfo(self.robot, l)[:3:2] for l in self._links}  # (mass, inertia diag)
        self._base_damping = {l: (p.getJointInfo(self.robot, l)[6] if l >= 0 else 0.0) for l in self._links}
        self._initial_state = p.saveState()  # restoring it makes resets bit-reproducible
        # the checked points by forward kinematics from q (the URDF's joint transforms, compiled): PyBullet's
        # getLinkStates of the six links cost ~8 µs a step in Python tuples, this ~2 µs
        import pybullet_data

        urdf = os.path.join(pybullet_data.getDataPath(), "franka_panda/panda.urdf")
        kinematics = ArmKinematics(urdf, [p.getJointInfo(self.robot, j) for j in range(p.getNumJoints(self.robot))],
                                   CHECKED_LINKS)
        self._kinematics = kinematics
        self._state, self._points = np.zeros(14), np.zeros((len(CHECKED_LINKS), 3))  # q ‖ q̇; checked points
        self._targets = np.zeros(7)  # the velocity targets of the last command
        self._obs32 = np.zeros(20, np.float32)
        # the observation kernel's buffers by address (OBSERVE_BUFFERS order): all live as long as this env
        buffers = (self._state, kinematics.chain, kinematics.link_rows, kinematics.frames, self._points, self._box,
                   self._limits, self._target, self._obs32)
        dtypes = [np.float64, np.float64, np.int64] + [np.float64] * 5 + [np.float32]
        self._buffer_addresses = np.array(addresses(buffers, dtypes), np.int64)
        self._buffer_lengths = np.array([b.size for b in buffers], np.int64)
        # the per-step calls, bound once (BulletClient looks every other attribute up through inspect + partial)
        self._set_motors, self._joint_states = p.setJointMotorControlArray, p.getJointStates
        self._velocity_control = p.VELOCITY_CONTROL

    def __getstate__(self):
        # a copy would carry the addresses of this env's own buffers into its kernels: refuse clearly instead of
        # reading and writing the original's memory
        raise TypeError(f"{type(self).__name__} cannot be copied or pickled (its compiled step holds the addresses "
                        "of its own simulator buffers); make another one with gymnasium.make")

    # closed-form unsafe set (views of the observation kernel's buffers: edit in place or assign) -------------
    keepout_low = BufferSlice("_box", slice(0, 3), "The keep-out box's low corner (m, base frame).")
    keepout_high = BufferSlice("_box", slice(3, 6), "The keep-out box's high corner (m, base frame).")
    joint_low = BufferSlice("_limits", slice(0, 7), "Lower joint limits of the unsafe set (URDF + joint_margin).")
    joint_high = BufferSlice("_limits", slice(7, 14), "Upper joint limits of the unsafe set (URDF − joint_margin).")
    target = BufferSlice("_target", slice(0, 3), "This episode's reach target (m, base frame).")

    def in_keepout(self, points) -> np.ndarray:
        points = np.asarray(points, float)
        return ((points >= self.keepout_low) & (points <= self.keepout_high)).all(-1)

    def joints_out_of_limits(self, q) -> np.ndarray:
        q = np.asarray(q, float)
        return ((q < self.joint_low) | (q > self.joint_high)).any(-1)

    # state ---------------------------------------------------------------------------------------
    def joint_state(self):
        states = self.sim.p.getJointStates(self.robot, ARM_JOINTS)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def checked_points(self, q=None) -> np.ndarray:
        """World link-frame origins of CHECKED_LINKS (6, 3) at joint angles q (default: the current ones)."""
        q = self.joint_state()[0] if q is None else np.asarray(q, np.float64)
        return self._kinematics.points(np.ascontiguousarray(q))[0]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        options = options or {}
        q0 = np.asarray(options.get("q", HOME), float)
        self.sim.p.restoreState(self._initial_state)
        self._dr = self.randomization.episode(self.np_random)
        self._apply_physics_scales(self._dr.scales)
        for j, q in zip(ARM_JOINTS, q0):
            self.sim.p.resetJointState(self.robot, j, q, 0.0)
        self.sim.p.setJointMotorControlArray(self.robot, ARM_JOINTS, self.sim.p.VELOCITY_CONTROL,
                                             targetVelocities=[0.0] * 7, forces=self.max_force)
        # reach targets in front of the robot, away from the keep-out box
        default_target = self.np_random.uniform([0.3, -0.5, 0.2], [0.6, 0.0, 0.7])
        self.target = np.asarray(options.get("target", default_target), float)
        return self._observe()

    def _apply_physics_scales(self, scales):
        """Masses and joint damping (the friction knob) ×scale; effort limits ×motor. Left untouched while the
        scales are 1 and were 1 before, so an env without randomisation is the plain URDF bit for bit."""
        unit = all(v == 1.0 for v in scales.values())
        if unit and not self._dynamics_scaled:
            return
        p = self.sim.p
        for link in self._links:
            mass, inertia = self._base_inertia[link]
            k = scales["mass"]  # same shape, denser material: mass and inertia scale together
            p.changeDynamics(self.robot, link, mass=mass * k, localInertiaDiagonal=[i * k for i in inertia])
            if link >= 0:
                p.changeDynamics(self.robot, link, jointDamping=self._base_damping[link] * scales["friction"])
        self._force_list = (self.max_force * scales["motor"]).tolist()
        self._dynamics_scaled = not unit

    def command(self, action):
        """Write the velocity targets clip(action, −1, 1)·q̇_max (what a raw PyBullet loop would write, too). A
        non-finite action is refused (ValueError): PyBullet would take a NaN target as it is."""
        if self._dr.latency:
            a = np.asarray(action, float).reshape(7)
            if not np.isfinite(a).all():
                raise ValueError(f"action must be finite, got {action!r}")
            targets = (self._dr.action(np.clip(a, -1.0, 1.0)) * self.max_velocity).tolist()
        else:  # compiled: numpy's per-call cost on seven numbers (or Python's min/max) was ~4 µs a step
            try:
                status = velocity_targets(action, self.max_velocity, self._targets)
            except TypeError:  # a list, another dtype, a strided view: convert once to the kernel's types
                status = velocity_targets(np.ascontiguousarray(action, np.float64).reshape(-1), self.max_velocity,
                                          self._targets)
            if status:
                raise ValueError(f"action must be 7 finite numbers, got {action!r}")
            targets = self._targets.tolist()
        self._set_motors(self.robot, ARM_JOINTS, self._velocity_control, targetVelocities=targets, forces=self._force_list)

    def step(self, action):
        obs, reward, terminated, _, _ = self.step_core(action)
        return obs, reward, terminated, False, self._info(*self._last[1:])

    def step_core(self, action):
        """`step` without its info dict: (obs, reward, terminated, cost, unsafe), for vector envs."""
        self.command(action)
        self.sim.step()
        obs, unsafe, in_box, at_limit, ee, q = self._last = self._observe_core()
        (ex, ey, ez), (tx, ty, tz) = ee, self.target.tolist()
        reward = -math.hypot(ex - tx, ey - ty, ez - tz)  # −‖ee − target‖ on plain floats (numpy's per-call cost > the math)
        terminated = bool(self.terminate_on_unsafe and unsafe)
        return obs, reward, terminated, float(unsafe), unsafe

    def _observe(self):
        obs, *rest = self._observe_core()
        return obs, self._info(*rest)

    @staticmethod
    def _info(unsafe, in_box, at_limit, ee, q):
        return {"cost": float(unsafe), "unsafe": unsafe, "in_keepout": in_box, "joint_limit": at_limit,
                "ee_pos": np.array(ee), "q": np.array(q)}

    def _observe_core(self):
        """(obs, unsafe, in_keepout, joint_limit, ee, q) from one getJointStates call and one compiled pass
        (`observe_arm`: the forward kinematics of q, the box and joint-limit tests, the float32 observation)."""
        states = self._joint_states(self.robot, ARM_JOINTS)
        q = [s[0] for s in states]
        self._state[:] = q + [s[1] for s in states]
        flags = observe_arm(self._buffer_addresses, self._buffer_lengths)
        in_box, at_limit = bool(flags & 1), bool(flags & 2)
        ee = self._points[-1].tolist()
        if self._dr.noise_std:
            values = np.concatenate([self._state, self._points[-1], self._target])
            obs = self._dr.observation(values).astype(np.float32)
        else:
            obs = self._obs32.copy()
        return obs, in_box or at_limit, in_box, at_limit, ee, q

    def render(self):
        if self.render_mode == "rgb_array":
            return self.sim.render([0.3, 0.2, 0.35], distance=1.4, yaw=20, pitch=-25)
        return None

    def close(self):
        self.sim.close()


# the buffers `observe_arm` reads and writes, by address (sim.numba_views), in this order
OBSERVE_BUFFERS = ("state: q ‖ q̇", "chain", "links", "frames", "points", "box", "limits", "target", "obs32")


@njit("int64(int64[::1], int64[::1])", cache=True, nogil=True)
def observe_arm(buffers, lengths):
    """One compiled pass over a PandaEnv's buffers (OBSERVE_BUFFERS, by address; two small arguments: passing
    nine arrays cost more than the arithmetic): the checked points by forward kinematics of q, the keep-out box
    test, the joint-limit test, and the float32 observation q, q̇, end effector, target (the rounding of numpy's
    float64 → float32). Returns 1 if a checked point is in the box, + 2 if a joint is outside its limits."""
    state = float64_view(buffers[0], lengths[0])
    chain = float64_matrix(buffers[1], lengths[1] // 18, 18)
    links = int64_view(buffers[2], lengths[2])
    frames = float64_matrix(buffers[3], lengths[3] // 12, 12)
    points = float64_matrix(buffers[4], lengths[4] // 3, 3)
    box = float64_view(buffers[5], 6)
    limits = float64_view(buffers[6], lengths[6])
    target = float64_view(buffers[7], 3)
    obs = float32_view(buffers[8], lengths[8])
    n = lengths[0] // 2
    chain_frames(state, chain, frames)  # q = state[:n] (the kinematics reads q[joint] for joints 0..n-1)
    flags = 1 if points_in_box(frames, links, points, box) else 0
    for j in range(n):
        if not limits[j] <= state[j] <= limits[n + j]:
            flags += 2
            break
    for j in range(2 * n):
        obs[j] = state[j]
    ee = links.shape[0] - 1
    for k in range(3):
        obs[2 * n + k] = points[ee, k]
        obs[2 * n + 3 + k] = target[k]
    return flags


@njit(["int64(float32[::1], float64[::1], float64[::1])", "int64(float64[::1], float64[::1], float64[::1])"],
      cache=True, nogil=True)
def velocity_targets(action, max_velocity, out):
    """out = clip(action, −1, 1) · max_velocity; returns 0, or 1 if the action does not have len(out) finite
    entries (out is then unspecified)."""
    if action.shape[0] != out.shape[0]:
        return 1
    for j in range(out.shape[0]):
        x = float(action[j])
        if not math.isfinite(x):
            return 1
        out[j] = min(max(x, -1.0), 1.0) * max_velocity[j]
    return 0
