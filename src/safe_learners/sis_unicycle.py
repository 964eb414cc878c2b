"""The SIS paper's custom collision-avoidance environment (App. E.2, Table 1; digest sec. 5 "Custom environment").

Point/unicycle agent, state (x, y, v, theta), inputs (a, omega) with a in [-4, 4], omega in [-pi, pi] [code];
RK4 integration with dt = 0.1 [code]; goal at (0, 5); one hazard of radius 0.5 (= d_min) near the origin;
120 steps per episode (paper, Table 4; the authors' code uses 200).

Reward: -( |heading error to the goal| + |v - v_target| ), v_target = dist_to_goal / 5 s (the agent should
always need 5 s to reach the goal).  cost = 1{d <= 0.5} [code].  The policy acts in [-1, 1]^2; the env scales.

Choices where the paper is silent (stated): initial speed v0 = 0; heading = pi/2 + U[-pi/4, pi/4] (Table 1
angle measured from the goal direction, [code] theta0 in [pi/4, 3pi/4]); v is not clipped (the agent may
reverse); hazard y range of distribution 2 read as [0.5, 1.5] (printed "[0.5, 1, 5]").

info carries the per-obstacle "d" and "ddot" (shape [1]) at the NEW state, and "d_prev"/"ddot_prev" at the old
one, which is what FAC-SIS stores in its buffer.  ddot = v * (cos th, sin th) . (p - o) / d  (< 0 approaching;
the digest warns that the authors' helper has the opposite sign).
"""
from __future__ import annotations

import numpy as np

try:  # gymnasium spaces when available (they are in the project venv); the env works without them
    from gymnasium import spaces as _spaces
except Exception:  # pragma: no cover
    _spaces = None

DT = 0.1
A_MAX = 4.0
W_MAX = np.pi
HAZARD_R = 0.5
GOAL = np.array([0.0, 5.0])
EP_LEN = 120
T_ARRIVE = 5.0

# Table 1: (agent x range, agent y range, hazard y range); hazard x = 0; heading offset in [-pi/4, pi/4]
INIT_DISTS = {
    1: ((0.0, 0.0), (-1.5, -1.0), (0.5, 1.0)),
    2: ((0.0, 0.0), (-1.5, -0.5), (0.5, 1.5)),
    3: ((-0.5, 0.5), (-1.5, -0.5), (0.5, 1.0)),
}


def _f(s, u):
    """Continuous dynamics, batched: s [..., 4] = (x, y, v, th), u [..., 2] = (a, w) in physical units."""
    v, th = s[..., 2], s[..., 3]
    cols = np.broadcast_arrays(v * np.cos(th), v * np.sin(th), u[..., 0], u[..., 1])
    return np.stack(cols, axis=-1)


def rk4_step(s, u, dt=DT):
    """One RK4 step with zero-order-hold input (broadcasts s against u)."""
    s = np.asarray(s, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    k1 = _f(s, u)
    k2 = _f(s + 0.5 * dt * k1, u)
    k3 = _f(s + 0.5 * dt * k2, u)
    k4 = _f(s + dt * k3, u)
    return s + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def scale_action(a_norm):
    a_norm = np.clip(np.asarray(a_norm, dtype=np.float64), -1.0, 1.0)
    return a_norm * np.array([A_MAX, W_MAX])


def d_ddot(s, hazard):
    """Per-obstacle (d, ddot) for states s [..., 4] and hazard centre [..., 2]; returns ([..., 1], [..., 1])."""
    rel = s[..., :2] - hazard
    d = np.linalg.norm(rel, axis=-1)
    vel = np.stack([s[..., 2] * np.cos(s[..., 3]), s[..., 2] * np.sin(s[..., 3])], axis=-1)
    ddot = (vel * rel).sum(-1) / np.maximum(d, 1e-9)
    return d[..., None], ddot[..., None]


def goal_terms(s):
    rel = GOAL - s[..., :2]
    dist = np.linalg.norm(rel, axis=-1)
    head_err = np.angle(np.exp(1j * (np.arctan2(rel[..., 1], rel[..., 0]) - s[..., 3])))
    v_target = dist / T_ARRIVE
    return dist, head_err, v_target


def nominal_action(s):
    """An aggressive goal-tracking command (normalised to [-1,1]^2) that ignores the hazard: the paper's
    reward is tracking error, so this is the reward-greedy controller that drives straight at the goal."""
    _, head_err, v_target = goal_terms(s)
    a = np.clip(2.0 * (v_target - s[..., 2]), -A_MAX, A_MAX) / A_MAX
    w = np.clip(3.0 * head_err, -W_MAX, W_MAX) / W_MAX
    return np.stack([a, w], axis=-1)


class UnicycleHazardEnv:
    """Gymnasium-style env (reset/step/observation_space/action_space) of App. E.2."""

    n_obstacles = 1
    d_min = HAZARD_R

    def __init__(self, init_dist: int = 1, ep_len: int = EP_LEN, seed: int | None = None, v0_range=(0.0, 0.0)):
        self.init_dist = init_dist
        self.v0_range = tuple(v0_range)   # (0, 0) = paper-like start at rest; > 0 gives a harder, faster instance
        self.ep_len = ep_len
        self.rng = np.random.default_rng(seed)
        if _spaces is not None:
            self.observation_space = _spaces.Box(-np.inf, np.inf, (8,), np.float32)
            self.action_space = _spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.s = np.zeros(4)
        self.hazard = np.zeros(2)
        self.t = 0

    # observation: position, speed, heading (cos, sin), hazard-relative position, goal-relative position
    def _obs(self):
        x, y, v, th = self.s
        return np.array([x, y, v, np.cos(th), np.sin(th), self.hazard[0] - x, self.hazard[1] - y,
                         GOAL[1] - y], dtype=np.float32)

    def reset(self, seed: int | None = None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        (xl, xh), (yl, yh), (hl, hh) = INIT_DISTS[self.init_dist]
        th = np.pi / 2 + self.rng.uniform(-np.pi / 4, np.pi / 4)
        self.s = np.array([self.rng.uniform(xl, xh), self.rng.uniform(yl, yh), self.rng.uniform(*self.v0_range), th])
        self.hazard = np.array([0.0, self.rng.uniform(hl, hh)])
        self.t = 0
        d, dd = d_ddot(self.s, self.hazard)
        return self._obs(), {"d": d, "ddot": dd, "state": self.s.copy(), "hazard": self.hazard.copy()}

    def set_state(self, s, hazard):
        self.s = np.asarray(s, dtype=np.float64).copy()
        self.hazard = np.asarray(hazard, dtype=np.float64).copy()
        return self._obs()

    def step(self, action):
        d0, dd0 = d_ddot(self.s, self.hazard)
        self.s = rk4_step(self.s, scale_action(action))
        self.s[3] = np.angle(np.exp(1j * self.s[3]))
        self.t += 1
        d, dd = d_ddot(self.s, self.hazard)
        _, head_err, v_target = goal_terms(self.s)
        reward = -(abs(head_err) + abs(self.s[2] - v_target))
        unsafe = bool(d[0] <= HAZARD_R)
        info = {"d": d, "ddot": dd, "d_prev": d0, "ddot_prev": dd0, "cost": float(unsafe), "unsafe": unsafe,
                "state": self.s.copy(), "hazard": self.hazard.copy()}
        return self._obs(), float(reward), False, self.t >= self.ep_len, info


class UnicycleModel:
    """Exact one-step model for the validity check: states are rows (x, y, v, th, hx, hy)."""

    d_min = HAZARD_R

    def d_ddot(self, states):
        return d_ddot(states[:, :4], states[:, 4:6])

    def next_d_ddot(self, states, actions_norm):
        """states [B, 6], actions [A, 2] normalised -> next (d, ddot), each [B, A, 1]."""
        s = states[:, None, :4]
        s2 = rk4_step(s, scale_action(actions_norm)[None, :, :])
        return d_ddot(s2, states[:, None, 4:6])


# ----------------------------------------------------------------------------- Table 3 study (our proxy)
def obs_to_state(obs):
    """Invert the observation to model rows (x, y, v, th, hx, hy)."""
    obs = np.asarray(obs, dtype=np.float64)
    x, y = obs[:, 0], obs[:, 1]
    return np.stack([x, y, obs[:, 2], np.arctan2(obs[:, 4], obs[:, 3]), obs[:, 5] + x, obs[:, 6] + y], 1)


def sample_initial(n, init_dist=1, rng=None, v0_range=(0.0, 0.0)):
    """n initial (x, y, v, th, hx, hy) rows from Table 1."""
    rng = np.random.default_rng(rng)
    (xl, xh), (yl, yh), (hl, hh) = INIT_DISTS[init_dist]
    return np.stack([rng.uniform(xl, xh, n), rng.uniform(yl, yh, n), rng.uniform(*v0_range, n),
                     np.pi / 2 + rng.uniform(-np.pi / 4, np.pi / 4, n), np.zeros(n), rng.uniform(hl, hh, n)], 1)


def sample_uniform_states(n, rng=None, d_range=(0.5, 2.0), v_range=(0.0, 2.0)):
    """Uniform states around a hazard at the origin: distance, bearing, heading, speed uniform."""
    rng = np.random.default_rng(rng)
    r = rng.uniform(*d_range, n)
    b = rng.uniform(-np.pi, np.pi, n)
    return np.stack([r * np.cos(b), r * np.sin(b), rng.uniform(*v_range, n), rng.uniform(-np.pi, np.pi, n),
                     np.zeros(n), np.zeros(n)], 1)


def filtered_rollouts(zeta, n_traj=100, init_dist=1, seed=0, actions=None, eta_d=0.0, eps=1e-4,
                      ep_len=EP_LEN, policy=None):
    """Roll out `policy` (default: the aggressive nominal tracker) behind a grid-search safe-action filter
    for index zeta: each step apply the grid action nearest to the command among those with Delta_phi <= -eps;
    if none exists the state is INFEASIBLE and the action with the smallest Delta_phi is applied.

    This is our stand-in for the paper's Table 3 (which rolled out the FAC policy trained with each index):
    a trajectory succeeds if it never enters the hazard and never visits an infeasible state.
    Returns dict with success / phi0-violation / infeasible rates, tracking error and the visited states."""
    from safe_learners.sis_index import delta_phi_np
    from safe_learners.validity import action_grid
    actions = action_grid() if actions is None else actions
    S = sample_initial(n_traj, init_dist, seed)
    visited, infeas_any, unsafe_any, track = [], np.zeros(n_traj, bool), np.zeros(n_traj, bool), np.zeros(n_traj)
    model = UnicycleModel()
    for _ in range(ep_len):
        visited.append(S.copy())
        cmd = nominal_action(S[:, :4]) if policy is None else policy(S)
        d, dd = model.d_ddot(S)
        d2, dd2 = model.next_d_ddot(S, actions)
        dphi = delta_phi_np(d[:, None, :], dd[:, None, :], d2, dd2, zeta, HAZARD_R, eta_d)     # [B, A]
        ok = dphi <= -eps
        dist = ((actions[None, :, :] - cmd[:, None, :]) ** 2).sum(-1)
        choice = np.where(ok.any(1), np.where(ok, dist, np.inf).argmin(1), dphi.argmin(1))
        infeas_any |= ~ok.any(1)
        S = S.copy()
        S[:, :4] = rk4_step(S[:, :4], scale_action(actions[choice]))
        S[:, 3] = np.angle(np.exp(1j * S[:, 3]))
        dn, _ = model.d_ddot(S)
        unsafe_any |= dn[:, 0] <= HAZARD_R
        _, he, vt = goal_terms(S[:, :4])
        track += np.abs(he) + np.abs(S[:, 2] - vt)
    success = ~(infeas_any | unsafe_any)
    return {"success": float(success.mean()), "phi0_violation": float(unsafe_any.mean()),
            "infeasible": float(infeas_any.mean()), "tracking_error": float((track / ep_len).mean()),
            "visited": np.concatenate(visited, 0)}
