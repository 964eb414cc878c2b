"""Gymnasium vector envs for the physics tasks (one simulator per copy).

`make_vector("SafeShield/CartPoleSwing-v0", 8)` steps 8 MuJoCo copies in this process ("sync"); pass
vectorization_mode="async" for one subprocess per copy (worth it only when a step costs ≫ the IPC, e.g. the
Car robot). info["cost"] / info["unsafe"] come back as arrays (Gymnasium stacks info entries per key).
For the analytic tasks use the batched torch envs in sim.batched instead: they are far faster.
"""
from __future__ import annotations

import gymnasium as gym


def make_vector(env_id: str, num_envs: int, vectorization_mode: str = "sync", **kwargs) -> gym.vector.VectorEnv:
    import sim  # noqa: F401  (registers the ids)

    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization_mode, **kwargs)
