import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")  # before any mujoco import; see sim.render.ensure_gl_backend

try:
    import torch

    torch.set_num_threads(1)  # the CI machine has 2 shared cores
except ImportError:  # pragma: no cover
    pass

import sim  # noqa: F401  (registers the environments)


def _rollout(env, actions, seed=0, options=None):
    """Observations, rewards and infos of a fixed action sequence (stops at the end of the episode)."""
    obs, info = env.reset(seed=seed, options=options)
    observations, rewards, infos = [obs], [], [info]
    for a in actions:
        obs, r, terminated, truncated, info = env.step(a)
        observations.append(obs)
        rewards.append(r)
        infos.append(info)
        if terminated or truncated:
            break
    return np.array(observations), np.array(rewards), infos


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def rollout():
    """rollout(env, actions, seed=0, options=None) -> (observations, rewards, infos)."""
    return _rollout
