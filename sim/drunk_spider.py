"""SQRL's DrunkSpider (sqrl.md §5): a 2-D point crossing a one-unit bridge between two lava pits.

Map: 8 × 7 units, position s = (row, column) ∈ [0, 8] × [0, 7]. Lava fills rows [2, 6) of columns [2, 3)
and [4, 5); the bridge is column [3, 4). Start (0.5, 3.5), goal (7.5, 3.5), success within distance 1.
Action a ∈ [−1, 1]²: velocity = clip(scale·a + noise·U(−½, ½)², ±scale), integrated over 10 substeps of
0.1, stopping at the first lava contact (or leaving the map), which is a failure: episode ends, cost 1.
Per-step reward −‖s − g‖/diagonal, +30 on reaching the goal. At the end: +1 per remaining step after an
early success, −1 per remaining step after a fall, −30 on timeout (the horizon, `max_steps`).
Pre-train / fine-tune variants change `noise` (the SQRL code draws it from [0, 0.4]) or `action_scale`
([0.5, 2]); the horizon is not in the paper: 30 steps here (the straight path takes 7 at scale 1).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim.render import Canvas

SIZE = np.array([8.0, 7.0])
LAVA = np.array([[[2.0, 2.0], [6.0, 3.0]], [[2.0, 4.0], [6.0, 5.0]]])  # [pit, low/high, (row, col)]
START = np.array([0.5, 3.5])
GOAL = np.array([7.5, 3.5])
GOAL_RADIUS = 1.0
SUBSTEPS, SUB_DT = 10, 0.1
DIAGONAL = float(np.linalg.norm(SIZE))


def _unsafe_scalar(r: float, c: float) -> bool:
    """is_unsafe for one position, without numpy (the substep loop's hot path)."""
    if r < 0 or c < 0 or r > SIZE[0] or c > SIZE[1]:
        return True
    return 2.0 <= r < 6.0 and (2.0 <= c < 3.0 or 4.0 <= c < 5.0)


def is_unsafe(xy) -> np.ndarray:
    """Closed form on positions [..., 2]: in a lava pit or off the map."""
    xy = np.asarray(xy, float)
    off_map = (xy < 0).any(-1) | (xy > SIZE).any(-1)
    in_lava = np.zeros(xy.shape[:-1], bool)
    for low, high in LAVA:
        in_lava |= ((xy >= low) & (xy < high)).all(-1)
    return off_map | in_lava


class DrunkSpiderEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, noise: float = 0.1, action_scale: float = 1.0, max_steps: int = 30, render_mode=None):
        self.noise, self.action_scale, self.max_steps = float(noise), float(action_scale), int(max_steps)
        self.render_mode = render_mode
        self.is_unsafe = is_unsafe
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.observation_space = spaces.Box(np.zeros(2, np.float32), SIZE.astype(np.float32), dtype=np.float32)
        self.pos = START.copy()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = np.asarray((options or {}).get("pos", START), float).copy()
        self.t = 0
        return self._obs(), {"cost": 0.0, "unsafe": bool(is_unsafe(self.pos)), "success": False}

    def step(self, action):
        a = np.clip(np.asarray(action, float).reshape(2), -1.0, 1.0)
        vel = self.action_scale * a + self.noise * self.np_random.uniform(-0.5, 0.5, 2)
        vel = np.clip(vel, -self.action_scale, self.action_scale)
        fell = False
        r, c = float(self.pos[0]), float(self.pos[1])
        dr, dc = float(vel[0]) * SUB_DT, float(vel[1]) * SUB_DT
        for _ in range(SUBSTEPS):
            r, c = r + dr, c + dc
            if _unsafe_scalar(r, c):
                fell = True
                break
        self.pos = np.array([r, c])
        self.t += 1
        remaining = self.max_steps - self.t
        success = not fell and np.linalg.norm(self.pos - GOAL) <= GOAL_RADIUS
        reward = 30.0 if success else -float(np.linalg.norm(self.pos - GOAL)) / DIAGONAL
        if success:
            reward += remaining
        elif fell:
            reward -= remaining
        truncated = not (success or fell) and remaining <= 0
        if truncated:
            reward -= 30.0
        info = {"cost": float(fell), "unsafe": fell, "success": bool(success)}
        return self._obs(), reward, bool(fell or success), truncated, info

    def _obs(self):
        return np.clip(self.pos, 0, SIZE).astype(np.float32)

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        c = Canvas(280, 320, extent=4.2, centre=(3.5, 4.0))  # x = column, y = row
        c.rect((0, 0), (7, 8), (235, 225, 200))
        for low, high in LAVA:
            c.rect((low[1], low[0]), (high[1], high[0]), (220, 80, 20))
        c.disc((GOAL[1], GOAL[0]), GOAL_RADIUS, (90, 200, 90))
        c.disc((self.pos[1], self.pos[0]), 0.2, (30, 30, 30))
        return c.image
