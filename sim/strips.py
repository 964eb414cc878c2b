"""Write a short PNG strip (and optionally a GIF) of each task for the README.

    python -m sim.strips docs/sim [--gif]

Actions: random, except where a scripted command shows the task better. MuJoCo scenes render offscreen
through EGL by default (MUJOCO_GL=egl; osmesa also works where Debian's libosmesa6 is installed).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sim.render import ensure_gl_backend

SHOTS = {  # id: (policy, steps, every)
    "SafeShield/PendulumUpright-v0": (lambda o: np.array([0.0], np.float32), 40, 8),
    "SafeShield/CartPoleSwing-v0": (lambda o: np.array([0.3], np.float32), 40, 8),
    "SafeShield/PointGoal-Hazard0.30-v0": (lambda o: np.array([1.0, 0.8], np.float32), 200, 40),
    "SafeShield/CarGoal-Pillar0.25-v0": (lambda o: np.array([1.0, 0.6], np.float32), 200, 40),
    "SafeShield/DrunkSpider-v0": (lambda o: np.array([1.0, 0.0], np.float32), 8, 2),
    "SafeShield/PandaKeepout-v0": (lambda o: np.array([0.5, 0.3, 0, 0, 0, 0, 0], np.float32), 60, 12),
    "SafeShield/A1Velocity-v0": (lambda o: np.array([1.0, 0.0, 0.0], np.float32), 100, 20),
}


def main(argv=None) -> int:
    ensure_gl_backend()
    import gymnasium as gym

    import sim  # noqa: F401
    from sim.render import rollout_frames, save_strip

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--gif", action="store_true")
    args = p.parse_args(argv)
    for env_id, (policy, steps, every) in SHOTS.items():
        env = gym.make(env_id, render_mode="rgb_array")
        frames = rollout_frames(env, policy, steps=steps, seed=0)
        name = env_id.split("/")[1].replace(".", "")
        print(save_strip(frames, args.out / f"{name}.png", every=every))
        if args.gif:
            print(save_strip(frames, args.out / f"{name}.gif", every=max(1, every // 4)))
        env.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
