"""Simulation speed: env steps/s for each task alone and vectorised, against the raw simulator stepping the
very same model in the same run, and batched torch env-steps/s.

    python -m bench sim_speed [--seconds 1.0] [--batch 100000]

"raw" = the bare physics call a step is made of (frame_skip × mujoco.mj_step with ctrl set, or the numpy
update for the analytic tasks), no Python env around it; ratio = ours / raw (target ≥ 0.8).
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import gymnasium as gym
import numpy as np


def _rate(fn, seconds: float) -> float:
    """Calls of fn per second, over at least `seconds` (after a short warm-up)."""
    for _ in range(20):
        fn()
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(50):
            fn()
        n += 50
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def env_rate(env, seconds):
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (1000,) + env.action_space.shape).astype(np.float32)
    i = [0]

    def step():
        _, _, term, trunc, _ = env.step(actions[i[0] % 1000])
        i[0] += 1
        if term or trunc:
            env.reset()

    return _rate(step, seconds)


def raw_mujoco_rate(sim, act_dim, seconds, copies=1):
    import mujoco

    datas = [mujoco.MjData(sim.model) for _ in range(copies)]
    for d in datas:
        d.qpos[:] = sim.data.qpos
        mujoco.mj_forward(sim.model, d)
    ctrl = np.random.default_rng(0).uniform(-1, 1, (1000, act_dim))
    i = [0]

    def step():
        for d in datas:
            d.ctrl[:] = ctrl[i[0] % 1000]
            for _ in range(sim.frame_skip):
                mujoco.mj_step(sim.model, d)
        i[0] += 1
        if i[0] % 200 == 0:  # keep the state bounded, like an episode reset
            for d in datas:
                mujoco.mj_resetData(sim.model, d)
                d.qpos[:] = sim.data.qpos

    return _rate(step, seconds) * copies


def vector_rate(env_id, copies, seconds):
    from sim.vector import make_vector

    venv = make_vector(env_id, copies)
    venv.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (1000,) + venv.action_space.shape).astype(np.float32)
    i = [0]

    def step():
        venv.step(actions[i[0] % 1000])  # finished copies auto-reset inside the vector env
        i[0] += 1

    rate = _rate(step, seconds) * copies
    venv.close()
    return rate


def batched_rate(cls, n, seconds, **kw):
    import torch

    env = cls(n, seed=0, **kw)
    env.reset()
    action = torch.rand(n, env.act_dim, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return _rate(lambda: env.step(action), seconds) * n


def main() -> int:
    import torch

    import sim  # noqa: F401
    from sim import batched
    from sim.drunk_spider import DrunkSpiderEnv
    from sim.pendulum import pendulum_step

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=100_000)
    p.add_argument("--copies", type=int, default=8)
    args = p.parse_args()
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; "
          f"mujoco {__import__('mujoco').__version__}, torch {torch.__version__}")

    rows = []
    # MuJoCo tasks: ours (gymnasium.make, with its default wrappers) vs raw mj_step on the same model
    for env_id in ["SafeShield/CartPoleSwing-v0", "SafeShield/PointGoal-Hazard0.30-v0", "SafeShield/CarGoal-Pillar0.25-v0"]:
        env = gym.make(env_id)
        ours = env_rate(env, args.seconds)
        sim_ = env.unwrapped.sim
        raw = raw_mujoco_rate(sim_, env.action_space.shape[0], args.seconds)
        vec = vector_rate(env_id, args.copies, args.seconds)
        raw_vec = raw_mujoco_rate(sim_, env.action_space.shape[0], args.seconds, copies=args.copies)
        rows.append((env_id, ours, raw, vec, raw_vec))
    # analytic numpy tasks: raw = the bare numpy update
    env = gym.make("SafeShield/PendulumUpright-v0")
    state, act = np.array([0.3, -0.9]), np.array([0.1])
    raw = _rate(lambda: pendulum_step(state, act), args.seconds)
    rows.append(("SafeShield/PendulumUpright-v0", env_rate(env, args.seconds), raw, vector_rate("SafeShield/PendulumUpright-v0", args.copies, args.seconds), None))
    rows.append(("SafeShield/DrunkSpider-v0", env_rate(gym.make("SafeShield/DrunkSpider-v0"), args.seconds), None, None, None))

    def fmt(x):
        return "–" if x is None else f"{x:,.0f}"

    print(f"\n| task | ours steps/s | raw steps/s | ratio | vector ×{args.copies} env-steps/s | raw ×{args.copies} | ratio |")
    print("|---|---|---|---|---|---|---|")
    for env_id, ours, raw, vec, raw_vec in rows:
        r1 = "–" if raw is None else f"{ours / raw:.2f}"
        r2 = "–" if raw_vec is None or vec is None else f"{vec / raw_vec:.2f}"
        print(f"| {env_id} | {fmt(ours)} | {fmt(raw)} | {r1} | {fmt(vec)} | {fmt(raw_vec)} | {r2} |")

    print(f"\n| batched torch ({args.batch:,} copies) | threads | env-steps/s |")
    print("|---|---|---|")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, cls, kw in [("pendulum", batched.BatchedPendulum, {}), ("point mass", batched.BatchedPointMass, {}),
                              ("cart-pole (RK4)", batched.BatchedCartPole, {"task": "swing"})]:
            print(f"| {name} | {threads} | {batched_rate(cls, args.batch, args.seconds, **kw):,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
