"""CRABS pendulum tasks Upright and Tilt (crabs.md §5): the classic Gym Pendulum-v0 dynamics.

State s = [θ, θ̇] with θ measured from upright and wrapped to [−π, π). Action a ∈ [−1, 1], torque u = 2a.
One step (dt = 0.05, g = 10, m = l = 1), in Gym-v0 order (θ uses the *unclipped* new velocity):
    θ̇⁺ = θ̇ + (15 sin θ + 3u)·dt ;  θ⁺ = θ + θ̇⁺·dt ;  θ̇⁺ ← clip(θ̇⁺, ±8)
Safe set |θ| ≤ 1.5. A violation ends the episode with reward −penalty (30 in the paper).
Upright reward −θ²; Tilt reward −(θ_lim − θ)² with θ_lim = −arcsin(0.4), the steepest angle that full
torque (u = +2) can hold: 15 sin θ_lim + 3·2 = 0.
"""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim.randomization import DomainRandomization
from sim.render import Canvas
from sim.safe_sets import BoxSafeSet

DT = 0.05
MAX_SPEED = 8.0
MAX_TORQUE = 2.0
THETA_LIMIT = 1.5
THETA_TILT = -math.asin(0.4)  # -0.41151684...
S0 = (0.3, -0.9)


def wrap_angle(theta):
    """Wrap to [−π, π) (works on floats and arrays)."""
    return (theta + np.pi) % (2 * np.pi) - np.pi


def pendulum_step(state, action, torque_scale: float = 1.0):
    """One Gym-v0 pendulum step on numpy arrays [..., 2] / [..., 1]; returns the next (wrapped) state.
    `torque_scale` (domain randomisation) = motor strength / rod mass: the torque term 3u/(m l²) scales with it,
    the gravity term 3g/(2l)·sin θ of a uniform rod does not depend on its mass."""
    theta, theta_dot = state[..., 0], state[..., 1]
    u = MAX_TORQUE * np.clip(action[..., 0], -1.0, 1.0)
    if torque_scale != 1.0:
        u = u * torque_scale
    new_dot = theta_dot + (15.0 * np.sin(theta) + 3.0 * u) * DT
    new_theta = theta + new_dot * DT
    new_dot = np.clip(new_dot, -MAX_SPEED, MAX_SPEED)
    return np.stack([wrap_angle(new_theta), new_dot], axis=-1)


class PendulumEnv(gym.Env):
    """task="upright" or "tilt". Observation = state = [θ, θ̇] (float32)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": int(1 / DT)}

    #: the unsafe set in closed form: unsafe iff |θ| > 1.5 (state index 0)
    safe_set = BoxSafeSet(index=(0,), low=(-THETA_LIMIT,), high=(THETA_LIMIT,), names=("theta",))

    def __init__(
        self,
        task: str = "upright",
        violation_penalty: float = 30.0,
        randomization: DomainRandomization | None = None,
        render_mode: str | None = None,
    ):
        if task not in ("upright", "tilt"):
            raise ValueError(f"task must be 'upright' or 'tilt', got {task!r}")
        self.task = task
        self.violation_penalty = float(violation_penalty)
        self.render_mode = render_mode
        self.dt = DT
        self.s0 = np.array(S0, dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.observation_space = spaces.Box(
            np.array([-np.pi, -MAX_SPEED], np.float32), np.array([np.pi, MAX_SPEED], np.float32), dtype=np.float32
        )
        self.state = self.s0.copy()
        # mass, motor strength, action latency, observation noise (friction: the model has none, ignored)
        self.randomization = randomization or DomainRandomization()
        self._dr = self.randomization.episode(np.random.default_rng(0))  # replaced at every reset
        self._torque_scale = 1.0

    def is_unsafe(self, states) -> np.ndarray:
        """Vectorised unsafe test on states [..., 2]."""
        return self.safe_set.is_unsafe(states)

    def reward(self, state) -> float:
        target = THETA_TILT if self.task == "tilt" else 0.0
        return -float((target - state[0]) ** 2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._dr = self.randomization.episode(self.np_random)
        self._torque_scale = self._dr.scales["motor"] / self._dr.scales["mass"]
        # s0 is deterministic in CRABS; options={"state": [θ, θ̇]} places the pendulum by hand.
        state = self.s0 if options is None or "state" not in options else options["state"]
        self.state = np.asarray(state, dtype=np.float64).copy()
        return self._obs(), self._info()

    def step(self, action):
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(1), -1.0, 1.0)
        if self._dr.latency:
            a = self._dr.action(a)
        self.state = pendulum_step(self.state, a, self._torque_scale)
        theta = float(self.state[0])
        # scalar test on the hot path; equals self.safe_set.is_unsafe (tests check both)
        unsafe = abs(theta) > THETA_LIMIT
        target = THETA_TILT if self.task == "tilt" else 0.0
        reward = -self.violation_penalty if unsafe else -((target - theta) ** 2)  # = self.reward(state)
        return self._obs(), reward, unsafe, False, {"cost": float(unsafe), "unsafe": unsafe}

    def _obs(self):
        return self._dr.observation(self.state).astype(np.float32)

    def _info(self):
        unsafe = bool(self.is_unsafe(self.state))
        return {"cost": float(unsafe), "unsafe": unsafe}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        c = Canvas(240, 240, extent=1.3)
        theta = self.state[0]
        for lim in (-THETA_LIMIT, THETA_LIMIT):  # safe-set edges, faint
            c.segment((0, 0), (1.2 * math.sin(lim), 1.2 * math.cos(lim)), 0.01, (200, 200, 200))
        tip = (math.sin(theta), math.cos(theta))  # θ from upright
        colour = (200, 40, 40) if self.is_unsafe(self.state) else (40, 90, 200)
        c.segment((0, 0), tip, 0.06, colour)
        c.disc((0, 0), 0.05, (30, 30, 30))
        return c.image
