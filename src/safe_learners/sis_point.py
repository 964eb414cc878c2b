"""SIS on the MuJoCo point robot (sim.point_robot): one-step model for the validity check, visited-state
collection, index synthesis, export as a shield bundle (safe_learners.handcrafted_index.build_point_bundle,
the lead's SafetyIndexModule -- no second index module), and the shield closed-loop check.

The inner loop here is the model-based oracle (exhaustive grid action search, `synthesize_with_oracle`), not
FAC: a FAC-SIS run on the point robot is not done yet (see RESULTS.md, SIS section).
"""
from __future__ import annotations

import numpy as np


class PointModel:
    """Exact one-step model of the point robot for observation rows
    [x, y, vx, vy, gx, gy, h0x, h0y, ...]: v' = v + (F u - c v)/m, two RK4 sub-steps like MuJoCo."""

    def __init__(self, params=None, d_min=None):
        from sim.point_robot import PointRobotParams
        self.p = params or PointRobotParams()
        self.d_min = self.p.hazard_radius if d_min is None else float(d_min)

    def _dd(self, pos, vel, hz):
        rel = pos[..., None, :] - hz                                # [..., K, 2]
        d = np.linalg.norm(rel, axis=-1)
        ddot = (rel * vel[..., None, :]).sum(-1) / np.maximum(d, 1e-9)
        return d, ddot

    def hazards(self, states):
        return states[:, 6:].reshape(len(states), -1, 2)

    def d_ddot(self, states):
        return self._dd(states[:, 0:2], states[:, 2:4], self.hazards(states))

    def step(self, pos, vel, u):
        p = self.p
        h = p.physics_dt
        acc = lambda v: (p.max_force * u - p.damping * v) / p.mass    # noqa: E731
        for _ in range(p.frame_skip):
            k1v, k1p = acc(vel), vel
            k2v, k2p = acc(vel + 0.5 * h * k1v), vel + 0.5 * h * k1v
            k3v, k3p = acc(vel + 0.5 * h * k2v), vel + 0.5 * h * k2v
            k4v, k4p = acc(vel + h * k3v), vel + h * k3v
            pos = pos + h / 6 * (k1p + 2 * k2p + 2 * k3p + k4p)
            vel = vel + h / 6 * (k1v + 2 * k2v + 2 * k3v + k4v)
        return pos, vel

    def next_d_ddot(self, states, actions):
        pos, vel = self.step(states[:, None, 0:2], states[:, None, 2:4], np.clip(actions, -1, 1)[None])
        return self._dd(pos, vel, self.hazards(states)[:, None])


def collect_states(env, episodes, seed=0, commander=None, shield=None):
    """Observations visited by `commander` (default: the demo's aggressive controller), optionally behind a
    shield.  Returns (states [N, n_obs], violations)."""
    from safe_shield.demo import aggressive_controller
    commander = commander or aggressive_controller
    out, viol = [], 0
    for e in range(episodes):
        obs, _ = env.reset(seed=seed + e)
        t = 0.0
        while True:
            out.append(obs.astype(np.float64))
            u = commander(obs)
            if shield is not None:
                u, _ = shield.decide(obs, u, state_stamp=t, now=t)
            obs, _, term, trunc, info = env.step(u)
            t += env.unwrapped.params.dt
            viol += bool(info["unsafe"])
            if term or trunc:
                break
    return np.array(out), viol


def closed_loop(bundle_path, episodes=100, seed=1000):
    """The demo's aggressive controller behind Shield.from_bundle: hazard violations and interventions."""
    import gymnasium as gym

    import sim  # noqa: F401  (registers the environments)
    from safe_shield.demo import run_episode, summarise
    from safe_shield.shield import Shield
    shield = Shield.from_bundle(bundle_path)
    env = gym.make("SafeShield/PointHazards-v0")
    runs = [run_episode(env, seed + i, shield) for i in range(episodes)]
    return summarise(str(bundle_path), runs)
