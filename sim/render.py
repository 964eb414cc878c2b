"""Rendering helpers: a tiny numpy rasteriser for the analytic tasks, MuJoCo offscreen frames, and a
GIF/PNG-strip writer. Everything returns uint8 RGB arrays [H, W, 3] (Gymnasium's rgb_array convention)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class Canvas:
    """A white image with world coordinates in [−extent, extent]² (y up), for 2-D tasks with no 3-D scene."""

    def __init__(self, width: int, height: int, extent: float, centre=(0.0, 0.0)):
        self.image = np.full((height, width, 3), 255, np.uint8)
        self.scale = min(width, height) / (2 * extent)
        ys, xs = np.mgrid[0:height, 0:width]
        self._x = (xs - width / 2) / self.scale + centre[0]
        self._y = (height / 2 - ys) / self.scale + centre[1]

    def disc(self, centre, radius, colour):
        mask = (self._x - centre[0]) ** 2 + (self._y - centre[1]) ** 2 <= radius**2
        self.image[mask] = colour

    def rect(self, low, high, colour):
        mask = (self._x >= low[0]) & (self._x <= high[0]) & (self._y >= low[1]) & (self._y <= high[1])
        self.image[mask] = colour

    def segment(self, a, b, half_width, colour):
        a, b = np.asarray(a, float), np.asarray(b, float)
        d = b - a
        t = ((self._x - a[0]) * d[0] + (self._y - a[1]) * d[1]) / max(float(d @ d), 1e-12)
        t = np.clip(t, 0.0, 1.0)
        dist2 = (self._x - a[0] - t * d[0]) ** 2 + (self._y - a[1] - t * d[1]) ** 2
        self.image[dist2 <= half_width**2] = colour


def ensure_gl_backend() -> str:
    """MuJoCo offscreen rendering needs a GL backend; on a headless machine EGL (GPU) or OSMesa (CPU,
    Debian package libosmesa6) must be chosen *before* mujoco is imported. Respect a user's MUJOCO_GL."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
    return os.environ["MUJOCO_GL"]


def save_strip(frames, path, every: int = 1, fps: int = 20) -> Path:
    """Save frames as an animated GIF (path ends .gif) or a horizontal PNG strip (anything else)."""
    from PIL import Image

    frames = [np.asarray(f, np.uint8) for f in frames[::every]]
    if not frames:
        raise ValueError("no frames to save")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    else:
        Image.fromarray(np.concatenate(frames, axis=1)).save(path, optimize=True)  # README budget: < 300 KB in all
    return path


def rollout_frames(env, policy=None, steps: int = 50, seed: int = 0):
    """Roll an rgb_array env for `steps` steps (random actions unless a policy is given); returns frames."""
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    frames = [env.render()]
    for _ in range(steps):
        action = env.action_space.sample() if policy is None else policy(obs)
        obs, _, terminated, truncated, _ = env.step(action)
        frames.append(env.render())
        if terminated or truncated:
            break
    return frames
