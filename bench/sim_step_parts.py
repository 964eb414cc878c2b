"""Where a MuJoCo task's step goes besides the physics: the same env's step with `mj_step` replaced by a no-op,
timed hot (one call after another, nothing else running in between, so everything stays in cache).

    python -m bench sim_step_parts [--ids SafeShield/PointGoal-Hazard0.30-v0 ...]

Rows: `mj_step(m, d, frame_skip)` itself on the same model; the env's `step_core` (obs, reward, terminated,
cost, unsafe: what the lean vector env calls), its `step` (+ the info dict) and `gymnasium.make`'s env
(+ OrderEnforcing and TimeLimit), each without the physics. Inside `bench sim_speed` the same Python runs after
a physics step has evicted much of it from cache, so there it costs about twice these figures.
"""
from __future__ import annotations

import argparse
import timeit

import gymnasium as gym
import numpy as np


def per_call_us(fn, number: int) -> float:
    """Best of 7 blocks of `number` calls, µs per call (the least disturbed block, as timeit advises)."""
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def main() -> int:
    import mujoco

    import sim  # noqa: F401  (registers the ids)

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ids", nargs="*", default=["SafeShield/PointGoal-Hazard0.30-v0", "SafeShield/PointTraps-v0",
                                                 "SafeShield/CartPoleSwing-v0"])
    p.add_argument("--number", type=int, default=20_000)
    args = p.parse_args()
    print("| task | mj_step µs | step_core − physics µs | step − physics µs | gymnasium.make step − physics µs |")
    print("|---|---|---|---|---|")
    for env_id in args.ids:
        env = gym.make(env_id)
        u = env.unwrapped
        env.reset(seed=0)
        a = np.full(u.action_space.shape, 0.1, np.float32)
        physics = per_call_us(lambda: mujoco.mj_step(u._model, u._data, u.sim.frame_skip), args.number)
        u._mj_step = lambda m, d, n: None  # the env calls the physics through this attribute
        rows = [per_call_us(lambda: u.step_core(a), args.number), per_call_us(lambda: u.step(a), args.number),
                per_call_us(lambda: env.step(a), args.number)]
        print(f"| {env_id} | {physics:.1f} | " + " | ".join(f"{x:.2f}" for x in rows) + " |")
        env.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
