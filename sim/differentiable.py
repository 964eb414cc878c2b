"""Differentiable tasks for CGPO (cgpo.md §5): `step` is a torch function, so returns and constraint sums
over a finite horizon can be back-propagated to the policy (BPTT / SHAC-style analytic gradients).

Choice: analytic torch dynamics rather than MuJoCo transition Jacobians wrapped in an autograd Function.
  * exact gradients: MuJoCo's Jacobians (mjd_transitionFD) are finite differences, with step-size error;
  * batched: one call steps and differentiates thousands of copies; the MuJoCo route is one C call per copy;
  * same model: the cart-pole equations here are those of sim/assets/cart_pole.xml and agree with MuJoCo's
    RK4 roll-out to ~1e-15 (tests/sim/test_sim_cartpole.py), so nothing is lost away from the joint stops.
The price: contacts and joint limits are not modelled, so HalfCheetah/Ant stay out of scope (they would need
MuJoCo-MJX or Brax, which are not in our stack).

Gymnasium ids (numpy API, for check_env and non-gradient learners): SafeShield/CGPOCartPole-v0,
SafeShield/CGPOPointMass-v0, SafeShield/CGPOFunction-v0 (`DifferentiableEnv`, episode length T).

Tasks (each: horizon T, per-step reward and cost, and the paper's bound on Σ cost over T, undiscounted):
  CartPole   a ∈ [−3, 3] (×100 N, Brax's inverted pendulum gear), reward 1 per step while |θ| ≤ 0.2
             (a mask: carries no gradient), cost −x², T = 300, constraint Σ cost ≤ −50 (i.e. RMS|x| ≥ 0.41).
  PointMass  a ∈ [−1, 1]², reward −‖p − goal‖, cost ‖v‖ (a speed limit like CGPO's locomotion tasks),
             T = 200, constraint Σ cost ≤ 100 (mean speed ≤ 0.5 m/s). Our own stand-in for Reacher/Ant.
  Function   CGPO App. C: s′ = s + 0.2 a, a ∈ (−1, 1), reward = cost = f(s) = (s/10)² + 0.1 + 0.1 sin(8s/π),
             T = 100, constraint Σ f ≤ 8. Start state (not given in the paper): s0 ~ U(−5, 5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from sim.batched import cartpole_dynamics, point_mass_dynamics


@dataclass(frozen=True)
class DiffTask:
    name: str
    obs_dim: int
    act_dim: int
    action_limit: float
    horizon: int
    cost_bound: float  # constraint: Σ_t cost_t ≤ cost_bound
    cost_sign: int  # +1: every per-step cost ≥ 0 (the running sum only grows), −1: every cost ≤ 0

    def initial_state(self, n: int, generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
        raise NotImplementedError

    def step(self, state: torch.Tensor, action: torch.Tensor):
        """(next_state, reward, cost), all differentiable in state and action except where noted."""
        raise NotImplementedError

    def rollout(self, policy, state: torch.Tensor):
        """Undiscounted (Σ reward, Σ cost) per copy over the horizon, keeping the autograd graph."""
        total_r = torch.zeros(state.shape[0], dtype=state.dtype)
        total_c = torch.zeros_like(total_r)
        for _ in range(self.horizon):
            state, r, c = self.step(state, policy(state))
            total_r, total_c = total_r + r, total_c + c
        return total_r, total_c


class CartPoleTask(DiffTask):
    def __init__(self):
        super().__init__("CartPole", 4, 1, 3.0, 300, -50.0, -1)

    def initial_state(self, n, generator=None, dtype=torch.float32):
        return 0.01 * (2 * torch.rand(n, 4, generator=generator, dtype=dtype) - 1)  # Brax's ±0.01 reset noise

    def step(self, state, action):
        nxt = cartpole_dynamics(state, action, action_limit=self.action_limit)
        alive = (nxt[:, 1].abs() <= 0.2).to(state.dtype)
        return nxt, alive, -(nxt[:, 0] ** 2)


class PointMassTask(DiffTask):
    goal = (1.0, 1.0)

    def __init__(self):
        super().__init__("PointMass", 4, 2, 1.0, 200, 100.0, +1)

    def initial_state(self, n, generator=None, dtype=torch.float32):
        return torch.cat([0.2 * (2 * torch.rand(n, 2, generator=generator, dtype=dtype) - 1), torch.zeros(n, 2, dtype=dtype)], 1)

    def step(self, state, action):
        nxt = point_mass_dynamics(state, action)
        goal = torch.tensor(self.goal, dtype=state.dtype)
        return nxt, -(nxt[:, :2] - goal).norm(dim=-1), nxt[:, 2:].norm(dim=-1)


def cgpo_function(s: torch.Tensor) -> torch.Tensor:
    return (s / 10) ** 2 + 0.1 + 0.1 * torch.sin(8 * s / math.pi)


class FunctionTask(DiffTask):
    def __init__(self):
        super().__init__("Function", 1, 1, 1.0, 100, 8.0, +1)

    def initial_state(self, n, generator=None, dtype=torch.float32):
        return 10 * torch.rand(n, 1, generator=generator, dtype=dtype) - 5

    def step(self, state, action):
        nxt = state + 0.2 * action.clamp(-1.0, 1.0)
        f = cgpo_function(nxt[:, 0])
        return nxt, f, f


TASKS = {t.name: t for t in (CartPoleTask(), PointMassTask(), FunctionTask())}


class DifferentiableEnv(gym.Env):
    """A CGPO task as a Gymnasium env (numpy API, float64 inside): registered as SafeShield/CGPO{name}-v0 with
    max_episode_steps = the task's horizon T. Gradient-based learners use the same dynamics through
    `env.unwrapped.task` (`task.step` / `task.rollout` on batched torch tensors, autograd intact).

    info["cost"] is the task's per-step cost c_t; info["cost_sum"] the running Σ c; info["unsafe"] is True
    once the finite-horizon constraint Σ_{t<T} c_t ≤ b is certainly violated: for non-negative costs as soon as
    the running sum exceeds b (it can only grow), for non-positive costs (CartPole) only at the last step T."""

    metadata = {"render_modes": []}

    def __init__(self, task: str = "CartPole"):
        if task not in TASKS:
            raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
        self.task = TASKS[task]
        t = self.task
        self.action_space = spaces.Box(-t.action_limit, t.action_limit, (t.act_dim,), np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, (t.obs_dim,), np.float32)
        self._state = torch.zeros(1, t.obs_dim, dtype=torch.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if options and "state" in options:  # hand-placed start
            self._state = torch.as_tensor(np.asarray(options["state"], float).reshape(1, -1), dtype=torch.float64)
        else:
            gen = torch.Generator().manual_seed(int(self.np_random.integers(2**62)))
            self._state = self.task.initial_state(1, gen, dtype=torch.float64)
        self._t, self._cost_sum = 0, 0.0
        return self._obs(), {"cost": 0.0, "cost_sum": 0.0, "unsafe": False}

    @torch.no_grad()
    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(1, self.task.act_dim)
        if not np.isfinite(a).all():
            raise ValueError(f"action must be finite, got {action!r}")
        self._state, reward, cost = self.task.step(self._state, torch.from_numpy(a))
        self._t += 1
        cost = float(cost[0])
        self._cost_sum += cost
        over = self._cost_sum > self.task.cost_bound
        unsafe = over and (self.task.cost_sign > 0 or self._t >= self.task.horizon)
        return self._obs(), float(reward[0]), False, False, {"cost": cost, "cost_sum": self._cost_sum, "unsafe": unsafe}

    def _obs(self):
        return self._state[0].numpy().astype(np.float32)
