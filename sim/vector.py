"""Vector envs for the physics tasks: N copies stepped in this process.

`make_vector("SafeShield/CartPoleSwing-v0", 8)` gives a `LeanVectorEnv`: the same results as Gymnasium's
`SyncVectorEnv` (next-step autoreset, seeds seed + i, info arrays with their `_key` masks), held to it step by
step by tests/sim/test_sim_vector_and_wrappers.py, but it stacks only the info keys asked for (`info_keys`,
default cost and unsafe) into preallocated arrays and keeps each copy's time limit itself. Gymnasium's generic
per-key info stacking cost about as much as the physics of a point robot (cProfile: 0.28 s against mj_step's
0.28 s over 4,000 env-steps).
When only cost and unsafe are asked for, no copy builds an info dict: copies with a `step_core` (obs, reward,
terminated, cost, unsafe) are stepped through it, and a task whose class offers `copies_stepper` (navigation,
cart-pole) steps all its copies together (one compiled pass over every copy's sensing or observation).
vectorization_mode="sync" / "async" give Gymnasium's SyncVectorEnv / AsyncVectorEnv (every info key; async:
one subprocess per copy, worth it only when a step costs ≫ the IPC, e.g. the Car robot).
For the analytic tasks use the batched torch envs in sim.batched instead: they are far faster.
"""
from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space


class LeanVectorEnv(gym.vector.VectorEnv):
    """`num_envs` copies of a registered env (`gymnasium.make(env_id, **kwargs).unwrapped` each), stepped in
    series. Truncation after the id's `max_episode_steps` (or the `max_episode_steps` given), as TimeLimit does.
    info holds the keys in `info_keys` (each an array over copies, and a bool mask `_key`: which copies reported
    it this step), taken from each copy's step info, or its reset info on an autoreset step."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, env_id: str, num_envs: int, info_keys: Sequence[str] = ("cost", "unsafe"),
                 max_episode_steps: int | None = None, **kwargs):
        import sim  # noqa: F401  (registers the ids)

        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be ≥ 1, got {num_envs!r}")
        self.num_envs = int(num_envs)
        self.spec = gym.spec(env_id)
        self.max_episode_steps = self.spec.max_episode_steps if max_episode_steps is None else int(max_episode_steps)
        self.envs = [gym.make(env_id, **kwargs).unwrapped for _ in range(self.num_envs)]
        first = self.envs[0]
        self.metadata = {**first.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
        self.render_mode = first.render_mode
        self.single_observation_space, self.single_action_space = first.observation_space, first.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        n = self.num_envs
        self._obs = np.zeros((n,) + self.single_observation_space.shape, self.single_observation_space.dtype)
        self._rewards = np.zeros(n)
        self._terminations = np.zeros(n, bool)
        self._truncations = np.zeros(n, bool)
        self._autoreset = np.zeros(n, bool)
        self._any_ended = False  # = self._autoreset.any(), kept as a bool for the step_core path
        self._elapsed = [0] * n
        self.info_keys = tuple(info_keys)
        self._info = {}   # key -> array over copies, allocated from the first value seen
        self._masks = {k: np.zeros(n, bool) for k in self.info_keys}
        # Copies that offer `step_core` (obs, reward, terminated, cost, unsafe) skip building an info dict whose
        # other keys would be thrown away: only when cost and unsafe are all that is asked for.
        self._core = set(self.info_keys) <= {"cost", "unsafe"} and all(hasattr(e, "step_core") for e in self.envs)
        # ... and where the task's class offers a `copies_stepper` (navigation, cart-pole), all copies are stepped
        # together by it
        stepper = getattr(type(self.envs[0]), "copies_stepper", None) if self._core else None
        self._copies = stepper(self.envs) if stepper is not None else None
        self._rows = list(range(n))
        if self._core:  # the dtypes Gymnasium's stacking gives a float and a bool
            for k, dtype in (("cost", np.float64), ("unsafe", np.bool_)):
                if k in self._masks:
                    self._info[k] = np.zeros(n, dtype)

    # -- Gymnasium VectorEnv API --------------------------------------------------------------------------
    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None):
        n = self.num_envs
        seeds = [None] * n if seed is None else [seed + i for i in range(n)] if isinstance(seed, int) else list(seed)
        if len(seeds) != n:
            raise ValueError(f"seed: expected {n} seeds, got {len(seeds)}")
        options = dict(options) if options is not None else None
        mask = np.ones(n, bool)
        if options is not None and "reset_mask" in options:
            mask = options.pop("reset_mask")
            if not (isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (n,) and mask.any()):
                raise ValueError(f"options['reset_mask'] must be a bool array of shape ({n},) with a True value, got {mask!r}")
        for k, m in self._masks.items():  # copies not reset report nothing (zeros, mask False), as SyncVectorEnv
            m[:] = False
            if k in self._info:
                self._info[k][:] = 0
        for i in np.flatnonzero(mask):
            self._obs[i], info = self.envs[i].reset(seed=seeds[i], options=options)
            self._elapsed[i] = 0
            self._terminations[i] = self._truncations[i] = self._autoreset[i] = False
            self._record_info(i, info)
        self._any_ended = bool(self._autoreset.any())
        return self._obs.copy(), self._infos()

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape[:1] != (self.num_envs,):
            raise ValueError(f"actions: expected a leading dimension of {self.num_envs}, got shape {actions.shape}")
        if self._core:
            return self._step_core(actions)
        obs, rewards, terms, truncs, elapsed, limit = (self._obs, self._rewards, self._terminations,
                                                       self._truncations, self._elapsed, self.max_episode_steps)
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:  # next-step autoreset: this step only resets the copy (reward 0)
                obs[i], info = env.reset()
                rewards[i], terms[i], truncs[i], elapsed[i] = 0.0, False, False, 0
            else:
                obs[i], rewards[i], terms[i], truncs[i], info = env.step(actions[i])
                elapsed[i] += 1
                if limit is not None and elapsed[i] >= limit:
                    truncs[i] = True
            self._record_info(i, info)
        np.logical_or(terms, truncs, out=self._autoreset)
        self._any_ended = bool(self._autoreset.any())
        return obs.copy(), rewards.copy(), terms.copy(), truncs.copy(), self._infos()

    def _step_core(self, actions):
        """`step` through each copy's `step_core` (or all copies' `copies_stepper` together): the scalars gathered in
        lists and written into the arrays once per step (numpy's per-element writes cost more than the lists)."""
        obs, elapsed, limit, envs = self._obs, self._elapsed, self.max_episode_steps, self.envs
        n = self.num_envs
        rewards, terms, truncs, costs, unsafes = [0.0] * n, [False] * n, [False] * n, [0.0] * n, [False] * n
        # next-step autoreset: a copy whose episode ended last step only resets now (reward 0); the copies are
        # independent, so resetting them after stepping the others changes nothing
        resets = {i: None for i in np.flatnonzero(self._autoreset).tolist()} if self._any_ended else {}
        stepping = [i for i in self._rows if i not in resets] if resets else self._rows
        if self._copies is not None:
            self._copies.step(stepping, actions, obs, rewards, terms, costs, unsafes)
        else:
            for i in stepping:
                obs[i], rewards[i], terms[i], costs[i], unsafes[i] = envs[i].step_core(actions[i])
        for i in stepping:
            elapsed[i] += 1
            if limit is not None and elapsed[i] >= limit:
                truncs[i] = True
        for i in resets:
            obs[i], resets[i] = envs[i].reset()
            elapsed[i] = 0
        self._rewards[:], self._terminations[:], self._truncations[:] = rewards, terms, truncs
        for k, values in (("cost", costs), ("unsafe", unsafes)):
            if k in self._masks:
                self._info[k][:] = values
                self._masks[k][:] = True
        for i, info in resets.items():  # a copy just reset reports its reset info (a key it lacks: 0, mask False)
            self._record_info(i, info)
        np.logical_or(self._terminations, self._truncations, out=self._autoreset)
        self._any_ended = any(terms) or any(truncs)
        return obs.copy(), self._rewards.copy(), self._terminations.copy(), self._truncations.copy(), self._infos()

    def render(self):
        return tuple(env.render() for env in self.envs)

    def close_extras(self, **kwargs):
        for env in self.envs:
            env.close()

    def call(self, name: str, *args, **kwargs) -> tuple:
        """`getattr(copy, name)(*args, **kwargs)` (or the attribute's value) for every copy."""
        out = []
        for env in self.envs:
            attr = getattr(env, name)
            out.append(attr(*args, **kwargs) if callable(attr) else attr)
        return tuple(out)

    def get_attr(self, name: str) -> tuple:
        return tuple(getattr(env, name) for env in self.envs)

    # -- info arrays ----------------------------------------------------------------------------------------
    def _record_info(self, i: int, info: dict) -> None:
        arrays = self._info
        for k, m in self._masks.items():
            if k in info:
                if k not in arrays:
                    v = np.asarray(info[k])
                    arrays[k] = np.zeros((self.num_envs,) + v.shape, v.dtype)
                arrays[k][i] = info[k]
                m[i] = True
            elif m[i]:
                arrays[k][i] = 0
                m[i] = False

    def _infos(self) -> dict:
        out = {}
        for k, m in self._masks.items():
            if k in self._info:
                out[k], out["_" + k] = self._info[k].copy(), m.copy()
        return out


def make_vector(env_id: str, num_envs: int, vectorization_mode: str = "lean", **kwargs) -> gym.vector.VectorEnv:
    """A vector env of `num_envs` copies of `env_id`: "lean" (default) a `LeanVectorEnv` (kwargs: info_keys,
    max_episode_steps, and the env's own); "sync" / "async" Gymnasium's (kwargs as `gymnasium.make_vec`)."""
    import sim  # noqa: F401  (registers the ids)

    if vectorization_mode == "lean":
        return LeanVectorEnv(env_id, num_envs, **kwargs)
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization_mode, **kwargs)
