"""The batched torch tasks of `sim.batched` as real `gymnasium.vector.VectorEnv`s.

`TorchVectorEnv` adapts a `BatchedEnv` to Gymnasium's vector API (numpy in, numpy out):
    step(actions [N, act_dim]) -> obs [N, obs_dim] float32, reward [N], terminated [N], truncated [N], info
    info["cost"] [N] float, info["unsafe"] [N] bool (with Gymnasium's "_cost"/"_unsafe" masks, all True)
Auto-reset is Gymnasium's SAME_STEP mode: a copy that finishes is reset inside the same `step`; the returned
obs is its new episode's first obs and its last obs is in info["final_obs"] (an object array, None for copies
that did not finish; mask info["_final_obs"]).

The pendulum and cart-pole ids carry these as their `vector_entry_point`, so
    gymnasium.make_vec("SafeShield/PendulumTilt-v0", num_envs=4096)
steps 4096 pendulums in one torch call (float64: the same numbers as the single env), while
vectorization_mode="sync" still gives N copies of the single env. The cart-pole's closed-form dynamics match
the MuJoCo model step by step except where MuJoCo's rail / hinge stops (|x| = 1 m, |θ| = 90°) act, which only a
step that already leaves the safe set (|x| ≤ 0.9) can reach. The raw torch path (`BatchedEnv.step` on
tensors) is what reaches ≥ 10⁶ env-steps/s; this adapter adds the numpy conversions.
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from sim.batched import BatchedCartPole, BatchedEnv, BatchedPendulum, BatchedPointMass


class TorchVectorEnv(VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, batched: BatchedEnv, single_observation_space, single_action_space, max_episode_steps=None):
        self.batched = batched
        if max_episode_steps is not None:
            batched.horizon = int(max_episode_steps)
        self.num_envs = batched.num_envs
        self.single_observation_space, self.single_action_space = single_observation_space, single_action_space
        self.observation_space = batch_space(single_observation_space, self.num_envs)
        self.action_space = batch_space(single_action_space, self.num_envs)
        self._all = np.ones(self.num_envs, bool)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options:
            raise ValueError(f"{type(self).__name__}.reset takes no options, got {sorted(options)}")
        return self._obs(self.batched.reset(seed=seed)), {}

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {actions.shape}")
        if not np.isfinite(actions).all():
            raise ValueError("actions must be finite")
        b = self.batched
        obs, reward, cost, terminated, truncated = b.step(torch.as_tensor(actions, dtype=b.dtype, device=b.device))
        terminated, truncated = terminated.cpu().numpy(), truncated.cpu().numpy()
        info = {"cost": cost.cpu().numpy().astype(np.float64), "_cost": self._all,
                "unsafe": b.unsafe.cpu().numpy(), "_unsafe": self._all}
        done = terminated | truncated
        if done.any():
            final = np.full(self.num_envs, None, dtype=object)
            last = self._obs(b.final_state)
            for i in np.flatnonzero(done):
                final[i] = last[i]
            info["final_obs"], info["_final_obs"] = final, done
        return self._obs(obs), reward.cpu().numpy().astype(np.float64), terminated, truncated, info

    @staticmethod
    def _obs(state: torch.Tensor) -> np.ndarray:
        return state.detach().cpu().numpy().astype(np.float32)


def pendulum_vector(num_envs: int, task: str = "upright", max_episode_steps: int | None = None, device="cpu"):
    from sim.pendulum import PendulumEnv

    single = PendulumEnv(task)
    batched = BatchedPendulum(num_envs, task=task, device=device, dtype=torch.float64)
    return TorchVectorEnv(batched, single.observation_space, single.action_space, max_episode_steps)


def cartpole_vector(num_envs: int, task: str = "move", max_episode_steps: int | None = None, device="cpu"):
    from sim.cartpole import CartPoleEnv

    single = CartPoleEnv(task)
    single.close()
    batched = BatchedCartPole(num_envs, task=task, device=device, dtype=torch.float64)
    return TorchVectorEnv(batched, single.observation_space, single.action_space, max_episode_steps)


def point_mass_vector(num_envs: int, device="cpu", seed: int | None = None):
    """The batched point mass (no single-env id: it is the CGPO/batched stand-in task of sim.batched)."""
    from gymnasium import spaces

    batched = BatchedPointMass(num_envs, device=device, dtype=torch.float64, seed=seed)
    return TorchVectorEnv(batched, spaces.Box(-np.inf, np.inf, (4,), np.float32), spaces.Box(-1.0, 1.0, (2,), np.float32))
