"""Shared fixtures: the shipped demo bundle and small bundles with known, analytic answers."""

from __future__ import annotations

import os

# MuJoCo picks its GL backend at import; headless machines need EGL (sim.render documents it).
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

import shutil
from pathlib import Path

import numpy as np
import pytest

from bundle_fixtures import DEMO_BUNDLE, make_barrier_bundle, make_critic_bundle


@pytest.fixture
def demo_bundle(tmp_path) -> Path:
    """A private copy of the shipped bundle, safe to tamper with."""
    dest = tmp_path / "point_hazards_ssa"
    shutil.copytree(DEMO_BUNDLE, dest)
    return dest


@pytest.fixture
def barrier_bundle(tmp_path) -> Path:
    return make_barrier_bundle(tmp_path / "barrier")


@pytest.fixture
def critic_bundle(tmp_path) -> Path:
    return make_critic_bundle(tmp_path / "critic")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
