"""A Safety-Gym-style point robot in MuJoCo: a holonomic point mass, round hazards and a goal.

The robot is a 1 kg body on two slide joints (x, y) with viscous damping, driven by two motors:
the action (fx, fy) ∈ [-1, 1]² is the planar force normalised by its maximum. With no contacts,
the physics is exactly the control-affine double integrator
    ṗ = v,   v̇ = (F_max·u − c·v) / m,
which is what the shield's safety-index filter uses (``control_affine_matrices``).

Hazards are non-physical discs, as in Safety Gym: the robot's centre inside a disc is unsafe
(``info["unsafe"]``) and costs 1 per step (``info["cost"]``). Hazards and goal are resampled at
each reset from the seed and are part of the observation, so one certificate serves any layout:
    obs = [x, y, vx, vy, goal_x, goal_y, hazard0_x, hazard0_y, ..., hazard{K-1}_x, hazard{K-1}_y]
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces


@dataclass(frozen=True)
class PointRobotParams:
    mass: float = 1.0            # kg
    damping: float = 1.0         # N·s/m on each slide joint
    max_force: float = 4.0       # N per axis at |u| = 1
    physics_dt: float = 0.01     # s (RK4)
    frame_skip: int = 2          # control period dt = 0.02 s
    num_hazards: int = 6
    hazard_radius: float = 0.3   # m
    hazard_gap: float = 0.4      # m of free space kept between any two hazards
    arena: float = 2.0           # start/goal/hazards live in [-arena, arena]²
    bound: float = 3.0           # leaving [-bound, bound]² ends the episode
    max_speed: float = 6.0       # m/s, upper end of the observation range
    goal_radius: float = 0.15
    max_steps: int = 400

    @property
    def dt(self) -> float:
        return self.physics_dt * self.frame_skip


def _mjcf(p: PointRobotParams) -> str:
    hazards = "\n".join(
        f'    <geom name="hazard{i}" type="cylinder" size="{p.hazard_radius} 0.005" pos="0 0 0.005" '
        f'contype="0" conaffinity="0" rgba="0.9 0.3 0.3 0.6"/>' for i in range(p.num_hazards))
    return f"""
<mujoco model="point_hazards">
  <option timestep="{p.physics_dt}" integrator="RK4" gravity="0 0 0"/>
  <worldbody>
    <light pos="0 0 6" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="{p.bound} {p.bound} 0.1" rgba="0.92 0.92 0.92 1"
          contype="0" conaffinity="0"/>
{hazards}
    <site name="goal" type="cylinder" size="{p.goal_radius} 0.006" pos="0 0 0.006" rgba="0.2 0.8 0.3 0.8"/>
    <body name="robot" pos="0 0 0.1">
      <joint name="x" type="slide" axis="1 0 0" damping="{p.damping}"/>
      <joint name="y" type="slide" axis="0 1 0" damping="{p.damping}"/>
      <geom name="robot" type="sphere" size="0.08" mass="{p.mass}" contype="0" conaffinity="0"
            rgba="0.2 0.4 0.9 1"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="x" gear="{p.max_force}" ctrlrange="-1 1" ctrllimited="true"/>
    <motor joint="y" gear="{p.max_force}" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>
"""


def observation_names(num_hazards: int) -> list[str]:
    names = ["x", "y", "vx", "vy", "goal_x", "goal_y"]
    for i in range(num_hazards):
        names += [f"hazard{i}_x", f"hazard{i}_y"]
    return names


def control_affine_matrices(p: PointRobotParams) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) with ẋ = A x + B u for the full observation vector (goal and hazards are static)."""
    n = 6 + 2 * p.num_hazards
    A = np.zeros((n, n))
    B = np.zeros((n, 2))
    A[0, 2] = A[1, 3] = 1.0
    A[2, 2] = A[3, 3] = -p.damping / p.mass
    B[2, 0] = B[3, 1] = p.max_force / p.mass
    return A, B


class PointHazardsEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, params: PointRobotParams | None = None, render_mode: str | None = None):
        self.params = p = params or PointRobotParams()
        self.model = mujoco.MjModel.from_xml_string(_mjcf(p))
        self.data = mujoco.MjData(self.model)
        self.render_mode = render_mode
        self._renderer = None
        self._hazard_geoms = [self.model.geom(f"hazard{i}").id for i in range(p.num_hazards)]
        self._goal_site = self.model.site("goal").id
        n = 6 + 2 * p.num_hazards
        low = np.full(n, -p.bound, np.float32)
        high = np.full(n, p.bound, np.float32)
        low[2:4], high[2:4] = -p.max_speed, p.max_speed
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.hazards = np.zeros((p.num_hazards, 2))
        self.goal = np.zeros(2)
        self._steps = 0

    # --- layout -------------------------------------------------------------------------------
    def _sample_layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Start on the left, goal on the right, hazards in between with a passable gap."""
        p, rng = self.params, self.np_random
        start = np.array([-p.arena + 0.2, rng.uniform(-1.0, 1.0)])
        goal = np.array([p.arena - 0.2, rng.uniform(-1.0, 1.0)])
        min_sep = 2 * p.hazard_radius + p.hazard_gap
        hazards: list[np.ndarray] = []
        while len(hazards) < p.num_hazards:
            c = rng.uniform([-1.2, -1.6], [1.2, 1.6])
            clear_of_ends = min(np.linalg.norm(c - start), np.linalg.norm(c - goal)) > p.hazard_radius + 0.5
            if clear_of_ends and all(np.linalg.norm(c - h) >= min_sep for h in hazards):
                hazards.append(c)
        return start, goal, np.array(hazards)

    # --- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        start, self.goal, self.hazards = self._sample_layout()
        if options and "start" in options:
            start = np.asarray(options["start"], float)
        if options and "hazards" in options:
            self.hazards = np.asarray(options["hazards"], float).reshape(self.params.num_hazards, 2)
        if options and "goal" in options:
            self.goal = np.asarray(options["goal"], float)
        for gid, h in zip(self._hazard_geoms, self.hazards):
            self.model.geom_pos[gid, :2] = h
        self.model.site_pos[self._goal_site, :2] = self.goal
        self.data.qpos[:] = start
        self.data.qvel[:] = np.asarray(options.get("velocity", (0.0, 0.0))) if options else 0.0
        mujoco.mj_forward(self.model, self.data)
        self._steps = 0
        self._prev_goal_dist = float(np.linalg.norm(start - self.goal))
        return self._obs(), self._info()

    def step(self, action):
        u = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self.data.ctrl[:] = u
        mujoco.mj_step(self.model, self.data, nstep=self.params.frame_skip)
        self._steps += 1
        obs, info = self._obs(), self._info()
        goal_dist = float(np.linalg.norm(self.data.qpos - self.goal))
        reward = self._prev_goal_dist - goal_dist
        self._prev_goal_dist = goal_dist
        reached = goal_dist < self.params.goal_radius
        out_of_bounds = bool(np.any(np.abs(self.data.qpos) > self.params.bound - 0.05))
        info["goal_reached"] = reached
        info["out_of_bounds"] = out_of_bounds
        reward += 1.0 if reached else 0.0
        terminated = reached or out_of_bounds
        truncated = self._steps >= self.params.max_steps
        return obs, reward, terminated, truncated, info

    def _obs(self) -> np.ndarray:
        # Terminal speed is max_force/damping = 4 m/s < max_speed, so no clipping is needed.
        return np.concatenate([self.data.qpos, self.data.qvel, self.goal,
                               self.hazards.ravel()]).astype(np.float32)

    def hazard_distances(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre-to-centre distance d to each hazard and its rate ḋ (negative when approaching)."""
        rel = self.data.qpos[None, :] - self.hazards
        d = np.linalg.norm(rel, axis=1)
        d_dot = rel @ self.data.qvel / np.maximum(d, 1e-9)
        return d, d_dot

    def _info(self) -> dict:
        d, d_dot = self.hazard_distances()
        unsafe = bool(np.any(d < self.params.hazard_radius))
        return {"cost": float(unsafe), "unsafe": unsafe, "hazard_d": d, "hazard_d_dot": d_dot}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, 240, 240)
        self._renderer.update_scene(self.data)
        return self._renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
