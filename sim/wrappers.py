"""Adapters between our envs and other conventions."""
from __future__ import annotations

import gymnasium as gym


class SafetyGymnasiumAdapter(gym.Wrapper):
    """Safety-Gymnasium / OmniSafe's 6-tuple: step → (obs, reward, cost, terminated, truncated, info),
    with cost = info["cost"]. reset is unchanged ((obs, info))."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, float(info["cost"]), terminated, truncated, info


def make_safe(env_id: str, **kwargs) -> SafetyGymnasiumAdapter:
    """`gymnasium.make(env_id)` wrapped in the 6-tuple adapter (for users coming from OmniSafe)."""
    import sim  # noqa: F401  (registers the ids)

    return SafetyGymnasiumAdapter(gym.make(env_id, **kwargs))
