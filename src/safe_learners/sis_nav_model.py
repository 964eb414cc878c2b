"""The Safety-Gym-style navigation simulator itself as the one-step model of the validity check
(safe_learners.validity) for the SIS index on SafeShield/{Point,Car}Goal-{Hazard,Pillar}*-v0.

The SIS MDP is deterministic (digest sec. 1), so "is there an action that satisfies eq. 1 at s?" can be asked of
the simulator exactly: restore s (MuJoCo physics state + obstacle layout), apply each action of the grid for one
env step, read (d', ddot') as the env does (planar centre distance, ddot = -v_xy.(o - p)/|o - p|), restore again.
No hand-written dynamics, so pillar contacts and the turn servo of the Point robot are included as simulated.

A state row is [MuJoCo state (physics + solver warm start) | obstacle positions (n x 2) | d (n) | ddot (n)].
(d, ddot) at s are stored as the env reported them: the env reads the robot position from xpos, which mj_step
leaves one physics sub-step behind qpos, so recomputing them from the restored qpos would differ by ~1e-5.
Restoring does NOT call mj_forward, so the model's next (d, ddot) use the env's convention exactly.
"""
from __future__ import annotations

import numpy as np


class NavSimModel:
    """validity-check model (d_ddot / next_d_ddot) backed by a private copy of a navigation env."""

    def __init__(self, env_id: str):
        import gymnasium as gym
        import mujoco

        import sim  # noqa: F401  (registers the environments)
        self._mj = mujoco
        self.env = gym.make(env_id).unwrapped
        self.env.reset(seed=0)
        s = self.env.sim
        self._spec = mujoco.mjtState.mjSTATE_PHYSICS | mujoco.mjtState.mjSTATE_WARMSTART
        self.n_phys = mujoco.mj_stateSize(s.model, self._spec)
        self.n_obstacles = n = self.env.num_obstacles
        self._obst = slice(self.n_phys, self.n_phys + 2 * n)
        self._d = slice(self.n_phys + 2 * n, self.n_phys + 3 * n)
        self._dd = slice(self.n_phys + 3 * n, self.n_phys + 4 * n)

    def record(self, env) -> np.ndarray:
        """State row of a live env of the same id (e.g. the one an evaluation episode runs in)."""
        u = env.unwrapped
        row = np.empty(self.n_phys + 4 * self.n_obstacles)
        self._mj.mj_getState(u.sim.model, u.sim.data, row[: self.n_phys], self._spec)
        row[self._obst] = u.obstacle_pos.reshape(-1)
        row[self._d], row[self._dd] = self._d_ddot_of_env(u)
        return row

    def _restore(self, row):
        e, s = self.env, self.env.sim
        obstacles = row[self._obst].reshape(self.n_obstacles, 2)
        if not np.array_equal(obstacles, e.obstacle_pos):
            e.obstacle_pos = obstacles.copy()
            for g, xy in zip(e._obstacle_geoms, obstacles):
                s.model.geom_pos[g][:2] = xy
        self._mj.mj_setState(s.model, s.data, row[: self.n_phys], self._spec)

    @staticmethod
    def _d_ddot_of_env(e):
        off = e.obstacle_pos - e.robot_pos                 # as the env's info: xpos-based position, qvel velocity
        d = np.hypot(*off.T)
        return d, -(off @ e.robot_vel) / np.maximum(d, 1e-9)

    def d_ddot(self, states):
        states = np.atleast_2d(states)
        return states[:, self._d].copy(), states[:, self._dd].copy()

    def next_d_ddot(self, states, actions):
        states, actions = np.atleast_2d(states), np.clip(np.atleast_2d(actions), -1.0, 1.0)
        d2 = np.empty((len(states), len(actions), self.n_obstacles))
        dd2 = np.empty_like(d2)
        scale = self.env._ctrl_scale
        for i, row in enumerate(states):
            for j, a in enumerate(actions):
                self._restore(row)
                self.env.sim.step(a * scale)          # exactly the env's one step (frame skip 10)
                d2[i, j], dd2[i, j] = self._d_ddot_of_env(self.env)
        return d2, dd2


def visited_states(env_id, policy, episodes, model: NavSimModel, seed=200_000, every=10):
    """Rows of the states a policy ((obs, info) -> action; info with the ground-truth geometry) visits, every
    `every`-th step."""
    import gymnasium as gym
    env = gym.make(env_id, geometry_info=True)
    rows = []
    for e in range(episodes):
        obs, info = env.reset(seed=seed + e)
        t = 0
        while True:
            if t % every == 0:
                rows.append(model.record(env))
            obs, _, term, trunc, info = env.step(policy(obs, info))
            t += 1
            if term or trunc:
                break
    return np.array(rows)
