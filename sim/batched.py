"""Batched torch versions of the simple dynamics: thousands of copies stepped in one call.

The `*_dynamics` functions are pure and differentiable (torch autograd flows through them); they are the
*same* equations as the single envs (`sim.pendulum`, the MuJoCo cart-pole in `sim.cartpole`), which the
tests check step by step. `BatchedEnv` adds rewards, cost/unsafe flags, horizons and auto-reset.

    pendulum   state [θ, θ̇]          action [a] ∈ [−1,1]      Gym-v0 pendulum, dt 0.05 (crabs.md)
    cart-pole  state [x, θ, ẋ, θ̇]    action [a] ∈ [−1,1]      rigid-body equations of sim/assets/cart_pole.xml,
                                                                RK4 at 0.02 s × 2 like MuJoCo's RK4 integrator
    point mass state [x, y, vx, vy]   action [fx, fy] ∈ [−1,1]² planar double integrator with linear drag
"""
from __future__ import annotations

import math

import torch

from sim.cartpole import THETA_LIMITS, X_LIMIT
from sim.pendulum import DT as PENDULUM_DT, MAX_SPEED, MAX_TORQUE, S0 as PENDULUM_S0, THETA_LIMIT, THETA_TILT

# ---- pendulum -------------------------------------------------------------------------------------


def pendulum_dynamics(state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Gym-v0 pendulum: θ̇⁺ = θ̇ + (15 sinθ + 3u)dt, θ⁺ = θ + θ̇⁺dt, then θ̇⁺ clipped to ±8; θ wrapped."""
    theta, theta_dot = state[..., 0], state[..., 1]
    u = MAX_TORQUE * action[..., 0].clamp(-1.0, 1.0)
    new_dot = theta_dot + (15.0 * torch.sin(theta) + 3.0 * u) * PENDULUM_DT
    new_theta = theta + new_dot * PENDULUM_DT
    new_theta = torch.remainder(new_theta + math.pi, 2 * math.pi) - math.pi
    return torch.stack([new_theta, new_dot.clamp(-MAX_SPEED, MAX_SPEED)], dim=-1)


# ---- cart-pole (the MuJoCo model of sim/assets/cart_pole.xml, in closed form) ---------------------
# Masses and inertia follow from the capsule geometry at density 1000 (MuJoCo's inertiafromgeom);
# tests/sim compare them with the compiled MjModel.
CART_MASS = 1000 * (math.pi * 0.1**2 * 0.2 + 4 / 3 * math.pi * 0.1**3)  # capsule r 0.1, half-length 0.1
POLE_MASS = 1000 * (math.pi * 0.049**2 * 0.6 + 4 / 3 * math.pi * 0.049**3)  # capsule r 0.049, length 0.6
POLE_COM = 0.3  # hinge → pole centre of mass (m)


def _capsule_transverse_inertia(radius: float, half_length: float, density: float = 1000.0) -> float:
    """Inertia of a solid capsule about a transverse axis through its centre: a cylinder plus two
    hemispheres (own inertia 83/320·m r², COM 3r/8 from the flat face, shifted by the parallel-axis rule)."""
    m_cyl = density * math.pi * radius**2 * 2 * half_length
    m_hemi = density * 2 / 3 * math.pi * radius**3
    offset = half_length + 3 * radius / 8
    i_cyl = m_cyl * (3 * radius**2 + (2 * half_length) ** 2) / 12
    return i_cyl + 2 * (m_hemi * 83 / 320 * radius**2 + m_hemi * offset**2)


POLE_INERTIA = _capsule_transverse_inertia(0.049, 0.3)  # about the COM, hinge axis (kg m²)
JOINT_DAMPING = 1.0
GEAR = 100.0
GRAVITY = 9.81
CART_TIMESTEP, CART_FRAME_SKIP = 0.02, 2


def cartpole_accel(state: torch.Tensor, force: torch.Tensor) -> torch.Tensor:
    """[ẍ, θ̈] from the Lagrangian of cart (M) + pole (m, COM at l, inertia I), θ from upright:
        (M+m) ẍ + m l cosθ θ̈ = F − b ẋ + m l sinθ θ̇²
        m l cosθ ẍ + (I + m l²) θ̈ = m g l sinθ − b θ̇
    """
    theta, x_dot, theta_dot = state[..., 1], state[..., 2], state[..., 3]
    M, m, l, I, b = CART_MASS, POLE_MASS, POLE_COM, POLE_INERTIA, JOINT_DAMPING
    c, s = torch.cos(theta), torch.sin(theta)
    a11, a12, a22 = M + m, m * l * c, I + m * l * l
    f1 = force - b * x_dot + m * l * s * theta_dot**2
    f2 = m * GRAVITY * l * s - b * theta_dot
    det = a11 * a22 - a12 * a12
    return torch.stack([(a22 * f1 - a12 * f2) / det, (a11 * f2 - a12 * f1) / det], dim=-1)


def cartpole_dynamics(
    state: torch.Tensor, action: torch.Tensor, force_scale: float = GEAR, action_limit: float = 1.0
) -> torch.Tensor:
    """One control step (dt 0.04 s): classic RK4 at 0.02 s, twice, force = gear · clip(a, ±limit)."""
    force = force_scale * action[..., 0].clamp(-action_limit, action_limit)

    def f(z):
        return torch.cat([z[..., 2:], cartpole_accel(z, force)], dim=-1)

    h = CART_TIMESTEP
    for _ in range(CART_FRAME_SKIP):
        k1 = f(state)
        k2 = f(state + 0.5 * h * k1)
        k3 = f(state + 0.5 * h * k2)
        k4 = f(state + h * k3)
        state = state + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return state


# ---- point mass -----------------------------------------------------------------------------------
POINT_DT = 0.02
POINT_FORCE = 1.0  # N per unit action
POINT_MASS = 0.1  # kg
POINT_DRAG = 1.0  # 1/s, linear velocity damping


def point_mass_dynamics(state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Semi-implicit Euler: v⁺ = v + (F a / m − k v) dt, p⁺ = p + v⁺ dt."""
    pos, vel = state[..., :2], state[..., 2:]
    acc = POINT_FORCE * action.clamp(-1.0, 1.0) / POINT_MASS - POINT_DRAG * vel
    vel = vel + acc * POINT_DT
    return torch.cat([pos + vel * POINT_DT, vel], dim=-1)


# ---- batched environments -------------------------------------------------------------------------


class BatchedEnv:
    """N copies of one task, stepped together. Finished copies reset automatically (the returned obs is
    the new episode's first obs; `terminated`/`truncated` say which copies finished on this step).

    step(action [N, act_dim]) -> (obs [N, obs_dim], reward [N], cost [N], terminated [N], truncated [N])
    """

    obs_dim: int
    act_dim: int
    horizon: int

    def __init__(self, num_envs: int, device="cpu", dtype=torch.float32, seed: int | None = None):
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.dtype = dtype
        self.generator = torch.Generator(device=self.device)
        if seed is not None:
            self.generator.manual_seed(seed)
        self.state = torch.zeros(num_envs, self.obs_dim, device=self.device, dtype=dtype)
        self.t = torch.zeros(num_envs, dtype=torch.long, device=self.device)

    # task definition ------------------------------------------------------------------------------
    def dynamics(self, state, action):
        raise NotImplementedError

    def initial_state(self, n: int) -> torch.Tensor:
        raise NotImplementedError

    def reward(self, state, action, next_state):
        raise NotImplementedError

    def is_unsafe(self, state) -> torch.Tensor:
        raise NotImplementedError

    terminate_on_unsafe = True
    violation_penalty = 0.0

    # stepping ------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> torch.Tensor:
        if seed is not None:
            self.generator.manual_seed(seed)
        self.state = self.initial_state(self.num_envs)
        self.t.zero_()
        return self.state.clone()

    @torch.no_grad()
    def step(self, action: torch.Tensor):
        next_state = self.dynamics(self.state, action)
        unsafe = self.is_unsafe(next_state)
        cost = unsafe.to(self.dtype)
        reward = self.reward(self.state, action, next_state)
        terminated = unsafe if self.terminate_on_unsafe else torch.zeros_like(unsafe)
        reward = torch.where(terminated, torch.full_like(reward, -self.violation_penalty), reward)
        self.t += 1
        truncated = (self.t >= self.horizon) & ~terminated
        done = terminated | truncated
        self.unsafe = unsafe
        self.final_state = next_state  # before the auto-reset: the finished copies' last states
        if bool(done.any()):
            fresh = self.initial_state(int(done.sum()))
            next_state = next_state.clone()
            next_state[done] = fresh
            self.t[done] = 0
        self.state = next_state
        return next_state, reward, cost, terminated, truncated


class BatchedPendulum(BatchedEnv):
    """CRABS Upright / Tilt (deterministic s0 = (0.3, −0.9) unless `s0_noise` > 0), 200 steps."""

    obs_dim, act_dim, horizon = 2, 1, 200
    violation_penalty = 30.0

    def __init__(self, num_envs, task="upright", s0_noise: float = 0.0, **kw):
        self.task, self.s0_noise = task, s0_noise
        super().__init__(num_envs, **kw)

    def dynamics(self, state, action):
        return pendulum_dynamics(state, action)

    def initial_state(self, n):
        s0 = torch.tensor(PENDULUM_S0, device=self.device, dtype=self.dtype).expand(n, 2).clone()
        if self.s0_noise > 0:
            s0 += self.s0_noise * torch.randn(n, 2, generator=self.generator, device=self.device, dtype=self.dtype)
        return s0

    def reward(self, state, action, next_state):
        target = THETA_TILT if self.task == "tilt" else 0.0
        return -((target - next_state[:, 0]) ** 2)

    def is_unsafe(self, state):
        return state[..., 0].abs() > THETA_LIMIT


class BatchedCartPole(BatchedEnv):
    """CRABS Move / Swing with the closed-form MuJoCo cart-pole, 1000 steps, s0 = 0."""

    obs_dim, act_dim, horizon = 4, 1, 1000
    violation_penalty = 10.0

    def __init__(self, num_envs, task="move", s0_noise: float = 0.0, **kw):
        self.task, self.s0_noise = task, s0_noise
        super().__init__(num_envs, **kw)

    def dynamics(self, state, action):
        return cartpole_dynamics(state, action)

    def initial_state(self, n):
        s0 = torch.zeros(n, 4, device=self.device, dtype=self.dtype)
        if self.s0_noise > 0:
            s0 += self.s0_noise * torch.randn(n, 4, generator=self.generator, device=self.device, dtype=self.dtype)
        return s0

    def reward(self, state, action, next_state):
        return next_state[:, 0] ** 2 if self.task == "move" else next_state[:, 1] ** 2

    def is_unsafe(self, state):
        return (state[..., 0].abs() > X_LIMIT) | (state[..., 1].abs() > THETA_LIMITS[self.task])


class BatchedPointMass(BatchedEnv):
    """Point mass in [−2, 2]² driving to a goal at the origin past round hazards (non-physical).
    Start uniform on the square's border band; reward −‖p‖; cost 1 inside any hazard (not terminal)."""

    obs_dim, act_dim, horizon = 4, 2, 500
    terminate_on_unsafe = False

    def __init__(self, num_envs, hazards=((0.8, 0.0, 0.3), (-0.5, 0.6, 0.3)), **kw):
        super().__init__(num_envs, **kw)
        self.hazards = torch.tensor(hazards, device=self.device, dtype=self.dtype).reshape(-1, 3)

    def dynamics(self, state, action):
        return point_mass_dynamics(state, action)

    def initial_state(self, n):
        angle = 2 * math.pi * torch.rand(n, generator=self.generator, device=self.device, dtype=self.dtype)
        radius = 1.5 + 0.4 * torch.rand(n, generator=self.generator, device=self.device, dtype=self.dtype)
        pos = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=-1)
        return torch.cat([pos, torch.zeros_like(pos)], dim=-1)

    def reward(self, state, action, next_state):
        return -next_state[:, :2].norm(dim=-1)

    def is_unsafe(self, state):
        d = (state[..., None, :2] - self.hazards[:, :2]).norm(dim=-1)
        return (d < self.hazards[:, 2]).any(dim=-1)
