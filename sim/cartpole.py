"""CRABS cart-pole tasks Move and Swing (crabs.md §5): MuJoCo inverted pendulum on a cart.

State s = [x, θ, ẋ, θ̇] (qpos, qvel). Action a ∈ [−1, 1] → cart force 100·a N (gear 100).
dt = 0.04 s (RK4 at 0.02 s, 2 frames). s0 = 0 exactly (Gym's ±0.01 reset noise is off, as in CRABS code).
    Move : reward x²,  safe iff |θ| ≤ 0.2 and |x| ≤ 0.9
    Swing: reward θ²,  safe iff |θ| ≤ 1.5 and |x| ≤ 0.9
A violation ends the episode with reward −penalty (10 in the CRABS code, 30 in the paper); 1000 steps.
"""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim.mujoco_env import MujocoSim
from sim.numba_views import addresses, gather_float32
from sim.randomization import DomainRandomization
from sim.safe_sets import BoxSafeSet

FRAME_SKIP = 2
X_LIMIT = 0.9
THETA_LIMITS = {"move": 0.2, "swing": 1.5}


def cartpole_safe_set(task: str) -> BoxSafeSet:
    th = THETA_LIMITS[task]
    return BoxSafeSet(index=(0, 1), low=(-X_LIMIT, -th), high=(X_LIMIT, th), names=("x", "theta"))


class CartPoleEnv(gym.Env):
    """task="move" or "swing". Observation = state = [x, θ, ẋ, θ̇] (float32)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        task: str = "move",
        violation_penalty: float = 10.0,
        randomization: DomainRandomization | None = None,
        render_mode: str | None = None,
    ):
        if task not in THETA_LIMITS:
            raise ValueError(f"task must be one of {sorted(THETA_LIMITS)}, got {task!r}")
        self.task = task
        self.violation_penalty = float(violation_penalty)
        self.render_mode = render_mode
        self.sim = MujocoSim("cart_pole.xml", FRAME_SKIP)
        self.dt = self.sim.dt
        self.safe_set = cartpole_safe_set(task)  # the unsafe set in closed form
        self.randomization = randomization or DomainRandomization()
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        high = np.array([1.0, np.pi / 2, np.inf, np.inf], np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self._dr = None
        self._theta_limit = THETA_LIMITS[task]
        d = self._data = self.sim.data  # cached views into MjData
        self._ctrl, self._qpos, self._qvel = d.ctrl, d.qpos, d.qvel
        self._model, self._mj_step = self.sim.model, self.sim._mujoco.mj_step
        self._state_buf = np.empty(4)

    @property
    def state(self) -> np.ndarray:
        return np.concatenate([self.sim.data.qpos, self.sim.data.qvel])

    def is_unsafe(self, states) -> np.ndarray:
        return self.safe_set.is_unsafe(states)

    def reward(self, state) -> float:
        return float(state[0] ** 2) if self.task == "move" else float(state[1] ** 2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._dr = self.randomization.episode(self.np_random, self.sim)
        state = np.zeros(4) if options is None or "state" not in options else np.asarray(options["state"], float)
        self.sim.reset(state[:2], state[2:])
        return self._obs(), self._info()

    def step(self, action):
        obs, reward, unsafe, cost, _ = self.step_core(action)
        return obs, reward, unsafe, False, {"cost": cost, "unsafe": unsafe}

    def step_core(self, action):
        """`step` without its info dict: (obs, reward, terminated, cost, unsafe), for vector envs (which may use
        `CartPoleCopies` instead: the same `_advance`, the observations of all copies gathered in one call)."""
        reward, unsafe = self._advance(action)
        return self._observation(), reward, unsafe, float(unsafe), unsafe

    def _observation(self) -> np.ndarray:
        """[x, θ, ẋ, θ̇] as float32, with this episode's noise if any."""
        if self._dr.noise_std:
            state = self._state_buf
            state[:2], state[2:] = self._qpos, self._qvel
            return self._dr.observation(state).astype(np.float32)
        return np.concatenate((self._qpos, self._qvel), dtype=np.float32)  # the same rounding as astype

    def _advance(self, action) -> tuple[float, bool]:
        """Write the command and step the physics; returns (reward, unsafe)."""
        a = self._dr.action(np.array(action, np.float64)) if self._dr.latency else action  # a copy: callers reuse buffers
        self._ctrl[:] = a  # MuJoCo clamps it to the actuator's ctrlrange [−1, 1]
        (a,) = self._ctrl.tolist()
        if not math.isfinite(a):
            raise ValueError(f"action must be finite, got {action!r}")
        self._mj_step(self._model, self._data, FRAME_SKIP)  # = self.sim.step_written(), one call less
        x, theta = self._qpos.tolist()
        # scalar test on the hot path; equals self.safe_set.is_unsafe (tests check both)
        unsafe = abs(x) > X_LIMIT or abs(theta) > self._theta_limit
        reward = -self.violation_penalty if unsafe else (x**2 if self.task == "move" else theta**2)
        return reward, unsafe

    @classmethod
    def copies_stepper(cls, envs) -> "CartPoleCopies":
        """What a vector env of these copies steps them with (`LeanVectorEnv` asks for it)."""
        return CartPoleCopies(envs)

    def _obs(self, state=None):
        state = self.state if state is None else state
        return self._dr.observation(state).astype(np.float32)

    def _info(self, state=None):
        # scalar test on the hot path; equals self.safe_set.is_unsafe (tests check both)
        x, theta = (self.sim.data.qpos if state is None else state)[:2]
        lim = THETA_LIMITS[self.task]
        unsafe = bool(abs(x) > X_LIMIT or abs(theta) > lim)
        return {"cost": float(unsafe), "unsafe": unsafe}

    def render(self):
        if self.render_mode == "rgb_array":
            return self.sim.render()
        return None

    def close(self):
        self.sim.close()


class CartPoleCopies:
    """Steps several cart-poles together with the results of each one's `step_core`: each copy's `_advance` in
    Python, then all observations (qpos, qvel → float32) gathered into the vector env's array in one compiled
    call instead of one small array per copy."""

    def __init__(self, envs):
        self.envs = list(envs)
        self._buffers = np.array([addresses((e._qpos, e._qvel)) for e in self.envs], np.int64)
        self._sizes = np.array([self.envs[0]._qpos.shape[0], self.envs[0]._qvel.shape[0]], np.int64)

    def step(self, rows: list[int], actions, obs_out, rewards, terminated, costs, unsafe) -> None:
        """Step copies `rows` with actions[r]; write obs_out[r] and rewards[r], terminated[r], costs[r], unsafe[r]."""
        envs = self.envs
        for r in rows:
            rewards[r], u = envs[r]._advance(actions[r])
            terminated[r] = unsafe[r] = u
            costs[r] = float(u)
        if rows:
            gather_float32(self._buffers, np.array(rows, np.int64), self._sizes, obs_out)
        for r in rows:
            if envs[r]._dr.noise_std:  # domain randomisation: this episode's observation noise, as step_core draws it
                obs_out[r] = envs[r]._observation()
