"""Simulation speed: env steps/s for each task alone and vectorised, against the raw simulator stepping the
very same model in the same run, and batched torch env-steps/s.

    python -m bench sim_speed [--seconds 8.0] [--batch 100000] [--only ID_PART ...]

"raw" = the bare physics a step is made of, on the very same model and client: MuJoCo: ctrl written, then one
mujoco.mj_step(model, data, frame_skip) call; PyBullet: the same setJointMotorControlArray, then frame_skip ×
stepSimulation; analytic tasks: the bare numpy update. No observation, cost or info. ratio = ours / raw
(target ≥ 0.8). "vector" = sim.vector.make_vector (LeanVectorEnv) against N raw worlds stepped in one loop, world
k replaying copy k's actions;
for the MuJoCo tasks Gymnasium's own SyncVectorEnv of the same id is timed alongside, for reference.
"""
from __future__ import annotations

import argparse
import copy
import os
import platform
import time

import gymnasium as gym
import numpy as np


def _rate(fn, seconds: float) -> float:
    """Calls of fn per second, over at least `seconds` (after a short warm-up)."""
    for _ in range(5):
        fn()
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            fn()
        n += 10
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def interleaved(fns: dict, seconds: float, slice_s: float = 0.05) -> dict:
    """Rates of several step functions measured in alternating short slices (round-robin, seconds / slice_s
    rounds): this VM's speed drifts from one second to the next, so `ours` and `raw` are timed back to back
    many times and compared round by round (many short pairs give a steadier median than a few long ones).
    Returns the per-round rates of each function."""
    rates = {k: [] for k in fns}
    for _ in range(max(8, round(seconds / slice_s))):
        for k, fn in fns.items():
            rates[k].append(_rate(fn, slice_s))
    return {k: np.array(v) for k, v in rates.items()}


def paired_ratio(ours, raw) -> str:
    """Median of the per-round ratios ours/raw (each round's two slices ran back to back) and their
    interquartile range."""
    r = ours / raw
    return f"{np.median(r):.2f} ({np.percentile(r, 25):.2f}–{np.percentile(r, 75):.2f})"


def bench_actions(env, amplitude: float = 1.0) -> np.ndarray:
    """1000 uniform random actions in ±amplitude (seeded): ours and raw are driven by the same sequence."""
    return amplitude * np.random.default_rng(0).uniform(-1, 1, (1000,) + env.action_space.shape).astype(np.float32)


def env_stepper(env, actions=None):
    """A step function for `env` that replays `actions` and resets when an episode ends."""
    env.reset(seed=0)
    actions = bench_actions(env) if actions is None else actions
    i = [0]

    def step():
        _, _, term, trunc, _ = env.step(actions[i[0] % 1000])
        i[0] += 1
        if term or trunc:
            env.reset()

    return step


def env_rate(env, seconds):
    return _rate(env_stepper(env), seconds)


def mean_episode_length(env, actions, steps: int = 2000) -> int:
    """Steps per episode of `env` under `actions` (on a throw-away run of `steps`; `steps` if none ends): how often
    raw restarts from an episode's start state, so both spend their time in the same regime."""
    env.reset(seed=0)
    ends = 0
    for t in range(steps):
        _, _, term, trunc, _ = env.step(actions[t % len(actions)])
        if term or trunc:
            env.reset()
            ends += 1
    return max(1, steps // max(1, ends))


def raw_mujoco_stepper(env, actions):
    """One world (MjModel + MjData) of the env's model per entry of `actions` (one action sequence per world, as a
    vector env's copy k replays column k; a single array: one world, the env's own model), each: the ctrl our
    env would write (clipped and scaled, e.g. the Point's turn rate), then frame_skip physics steps in one C
    call. Each world is reset as often as our env's episodes end under its actions, so both simulate the same
    regime (a cart-pole left running would spend its time against the rail stops, where the solver does extra
    work)."""
    import mujoco

    sequences = [actions] if isinstance(actions, np.ndarray) else list(actions)
    copies = len(sequences)
    reset_every = [mean_episode_length(env, a) for a in sequences]

    u = env.unwrapped
    sim = u.sim
    env.reset(seed=0)
    qpos0 = sim.data.qpos.copy()  # an episode's start state (not whatever state the env is in later)
    # N copies = N worlds, each its own MjModel + MjData, as each copy of a vector env owns its world (the
    # navigation layouts live in the model); one copy steps the env's own model
    models = [sim.model] if copies == 1 else [copy.copy(sim.model) for _ in range(copies)]
    worlds = [(m, mujoco.MjData(m)) for m in models]
    for m, d in worlds:
        d.qpos[:] = qpos0
        mujoco.mj_forward(m, d)
    ctrls = [np.clip(a.astype(np.float64), -1, 1) * getattr(u, "_ctrl_scale", 1.0) for a in sequences]
    runs = list(zip(worlds, ctrls, reset_every))
    frame_skip, mj_step = sim.frame_skip, mujoco.mj_step
    i = [0]

    def step():
        t = i[0] % 1000
        for (m, d), ctrl, _ in runs:
            d.ctrl[:] = ctrl[t]
            mj_step(m, d, frame_skip)
        i[0] += 1
        for (m, d), _, every in runs:
            if i[0] % every == 0:
                mujoco.mj_resetData(m, d)
                d.qpos[:] = qpos0
                mujoco.mj_forward(m, d)  # as our reset does

    return step


def raw_bullet_stepper(env, actions, reset_every=None):
    """A second copy of the env (its own PyBullet client, same URDFs and settings) driven through the bare
    pybullet module: the motor commands our env writes for `actions` (same setJointMotorControlArray: joints,
    mode, targets, forces, gains; the A1Velocity gait's joint targets precomputed outside the timing), then
    frame_skip × stepSimulation. As for MuJoCo, the world is put back to an episode's start state (one
    restoreState of a snapshot taken after our reset) as often as our env's episodes end under the same actions,
    so both simulate the same regime (an arm left running for ever ends up pressed against its joint limits)."""
    import pybullet

    from sim.panda import ARM_JOINTS, PandaEnv
    from sim.quadruped import _KD_LIST, _KP_LIST, LEG_JOINTS, STAND, QuadrupedVelocityEnv, TrotGait

    reset_every = reset_every or mean_episode_length(env, actions)
    u = env.unwrapped
    u.reset(seed=0)
    cid, robot, frame_skip = u.sim.client_id, u.robot, u.sim.frame_skip
    start = pybullet.saveState(physicsClientId=cid)
    a = np.clip(actions.astype(np.float64), -1, 1)
    if isinstance(u, PandaEnv):
        joints, mode, forces = ARM_JOINTS, pybullet.VELOCITY_CONTROL, u.max_force.tolist()
        targets = (a * u.max_velocity).tolist()
        gains = {}
    else:
        joints, mode, forces = LEG_JOINTS, pybullet.POSITION_CONTROL, u.max_force.tolist()
        if isinstance(u, QuadrupedVelocityEnv):
            gait = TrotGait()
            targets = [gait.joint_targets(c * u.COMMAND_SCALE, u.dt).tolist() for c in a]
        else:  # SQRL locomotion: offsets around the standing pose
            targets = (STAND + 0.5 * a).tolist()
        gains = {"positionGains": _KP_LIST, "velocityGains": _KD_LIST}
    key = "targetVelocities" if mode == pybullet.VELOCITY_CONTROL else "targetPositions"
    i = [0]

    def step():
        pybullet.setJointMotorControlArray(robot, joints, mode, forces=forces, physicsClientId=cid,
                                           **{key: targets[i[0] % 1000]}, **gains)
        for _ in range(frame_skip):
            pybullet.stepSimulation(physicsClientId=cid)
        i[0] += 1
        if i[0] % reset_every == 0:
            pybullet.restoreState(start, physicsClientId=cid)

    return step


def vector_actions(env, copies, amplitude=1.0) -> np.ndarray:
    """1000 seeded batches of uniform actions in ±amplitude, shape (1000, copies, action dim): copy k of the vector
    env replays column k, and world k of raw ×copies the same column."""
    shape = (1000, copies) + env.action_space.shape
    return amplitude * np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)


def vector_stepper(env_id, actions, mode="lean"):
    from sim.vector import make_vector

    venv = make_vector(env_id, actions.shape[1], vectorization_mode=mode)
    venv.reset(seed=0)
    i = [0]

    def step():
        venv.step(actions[i[0] % 1000])  # finished copies auto-reset inside the vector env
        i[0] += 1

    return step


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
    p.add_argument("--seconds", type=float, default=8.0, help="per step function, split into interleaved slices")
    p.add_argument("--batch", type=int, default=100_000)
    p.add_argument("--copies", type=int, default=8)
    p.add_argument("--only", nargs="*", default=None, help="time only the ids containing one of these strings")
    args = p.parse_args()
    wanted = (lambda env_id: True) if not args.only else (lambda env_id: any(s in env_id for s in args.only))
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; "
          f"mujoco {__import__('mujoco').__version__}, torch {torch.__version__}")

    rows = []
    n = args.copies
    # MuJoCo tasks: ours (gymnasium.make, with its default wrappers) vs raw mj_step on the same model
    for env_id in ["SafeShield/CartPoleSwing-v0", "SafeShield/PointGoal-Hazard0.30-v0", "SafeShield/CarGoal-Pillar0.25-v0",
                   "SafeShield/PointTraps-v0"]:
        if not wanted(env_id):
            continue
        env = gym.make(env_id)
        actions, batches = bench_actions(env), vector_actions(env, n)
        columns = [batches[:, k] for k in range(n)]
        r = interleaved({"ours": env_stepper(env, actions), "raw": raw_mujoco_stepper(env, actions),
                         "vec": vector_stepper(env_id, batches), "raw_vec": raw_mujoco_stepper(env, columns),
                         "sync": vector_stepper(env_id, batches, mode="sync")}, args.seconds)
        rows.append((env_id, 1.0, r["ours"], r["raw"], r["vec"] * n, r["raw_vec"] * n, r["sync"] * n))
    # PyBullet tasks: ours vs the same command + frame_skip × stepSimulation on a second client; vectorised vs
    # N such raw clients stepped in series. A1Run gets ±0.2 actions: with ±1 noise it falls within a few steps
    # and the 25-step settling reset would dominate the timing.
    for env_id, amplitude in [("SafeShield/PandaKeepout-v0", 1.0), ("SafeShield/A1Velocity-v0", 1.0), ("SafeShield/A1Run-v0", 0.2)]:
        if not wanted(env_id):
            continue
        env, twin = gym.make(env_id), gym.make(env_id)
        twins = [gym.make(env_id) for _ in range(n)]  # raw ×n: n worlds, as the vector env steps n worlds
        actions, batches = bench_actions(env, amplitude), vector_actions(env, n, amplitude)
        every = mean_episode_length(twin, actions)
        raw_steps = [raw_bullet_stepper(t, batches[:, k]) for k, t in enumerate(twins)]  # world k: column k
        r = interleaved({"ours": env_stepper(env, actions), "raw": raw_bullet_stepper(twin, actions, every),
                         "vec": vector_stepper(env_id, batches), "raw_vec": lambda: [f() for f in raw_steps]},
                        args.seconds)
        rows.append((env_id, amplitude, r["ours"], r["raw"], r["vec"] * n, r["raw_vec"] * n, None))
        for e in [env, twin, *twins]:
            e.close()
    # analytic numpy tasks: raw = the bare numpy update
    if wanted("SafeShield/PendulumUpright-v0"):
        env = gym.make("SafeShield/PendulumUpright-v0")
        state, act = np.array([0.3, -0.9]), np.array([0.1])
        r = interleaved({"ours": env_stepper(env), "raw": lambda: pendulum_step(state, act),
                         "vec": vector_stepper("SafeShield/PendulumUpright-v0", vector_actions(env, n))}, args.seconds)
        rows.append(("SafeShield/PendulumUpright-v0", 1.0, r["ours"], r["raw"], r["vec"] * n, None, None))
        rows.append(("SafeShield/DrunkSpider-v0", 1.0, env_rate(gym.make("SafeShield/DrunkSpider-v0"), args.seconds), None, None, None,
                     None))

    def fmt(x):  # a rate, or the median of per-round rates
        return "–" if x is None else f"{np.median(x):,.0f}"

    print(f"\n| task | actions | ours steps/s | raw steps/s | ratio: median (IQR) | vector ×{n} env-steps/s | raw ×{n} | ratio "
          f"| Gymnasium sync ×{n} ÷ raw |")
    print("|---|---|---|---|---|---|---|---|---|")
    for env_id, amplitude, ours, raw, vec, raw_vec, sync in rows:
        r1 = "–" if raw is None else paired_ratio(ours, raw)
        r2 = "–" if raw_vec is None or vec is None else paired_ratio(vec, raw_vec)
        r3 = "–" if sync is None else paired_ratio(sync, raw_vec)
        print(f"| {env_id} | ±{amplitude:g} | {fmt(ours)} | {fmt(raw)} | {r1} | {fmt(vec)} | {fmt(raw_vec)} | {r2} | {r3} |")

    if args.only:  # a quick look at some ids: no batched torch tables
        return 0
    print(f"\n| batched torch ({args.batch:,} copies) | threads | env-steps/s |")
    print("|---|---|---|")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, cls, kw in [("pendulum", batched.BatchedPendulum, {}), ("point mass", batched.BatchedPointMass, {}),
                              ("cart-pole (RK4)", batched.BatchedCartPole, {"task": "swing"})]:
            print(f"| {name} | {threads} | {batched_rate(cls, args.batch, args.seconds, **kw):,.0f} |")
    # the same torch dynamics behind Gymnasium's VectorEnv API (numpy in/out, float64, info arrays)
    torch.set_num_threads(1)
    print(f"\n| gymnasium.make_vec (vector_entry_point, {args.batch:,} copies, 1 thread) | env-steps/s |")
    print("|---|---|")
    for env_id in ("SafeShield/PendulumUpright-v0", "SafeShield/CartPoleSwing-v0"):
        venv = gym.make_vec(env_id, num_envs=args.batch)
        venv.reset(seed=0)
        actions = np.random.default_rng(0).uniform(-1, 1, (args.batch, 1))
        print(f"| {env_id} | {_rate(lambda: venv.step(actions), args.seconds) * args.batch:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
