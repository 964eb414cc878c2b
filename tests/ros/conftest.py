"""ROS tests run the real node over real DDS, in .venv-ros, inside a private network namespace.

Fixtures make sure .venv-ros exists (scripts/ros_env.sh, pinned wheels) and that a namespace with
only loopback can be made. If not, every ROS test is SKIPPED LOUDLY - never run unisolated.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NETNS = REPO / "tests" / "ros" / "netns.sh"
_domains = itertools.count(1)


def _banner(msg: str) -> str:
    line = "!" * 78
    return f"\n{line}\nROS TESTS SKIPPED: {msg}\n{line}"


@pytest.fixture(scope="session")
def ros_python() -> str:
    """Path of .venv-ros/bin/python, after an (idempotent) install of the pinned wheels."""
    if sys.platform != "linux":
        pytest.skip(_banner("needs Linux network namespaces"))
    probe = subprocess.run([str(NETNS), "1", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        msg = _banner(f"cannot make a loopback-only network namespace (unshare -n): "
                      f"{probe.stderr.strip()[:200]}")
        print(msg, file=sys.stderr)
        warnings.warn(msg)
        pytest.skip(msg)
    # SAFE_SHIELD_ROS_DISTRO=jazzy runs the same tests on Jazzy's rclpy (.venv-ros-jazzy).
    distro = os.environ.get("SAFE_SHIELD_ROS_DISTRO", "kilted")
    r = subprocess.run([str(REPO / "scripts" / "ros_env.sh"), distro], capture_output=True,
                       text=True, cwd=REPO)
    if r.returncode != 0:
        pytest.fail(f"could not install .venv-ros:\n{r.stderr[-3000:]}")
    return str(REPO / r.stdout.strip().splitlines()[-1] / "bin" / "python")


@pytest.fixture
def in_netns(ros_python, tmp_path):
    """run(script, *args) -> CompletedProcess, in a fresh namespace with its own ROS_DOMAIN_ID."""
    def run(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
        domain = (os.getpid() + next(_domains)) % 200 + 1     # distinct per test process
        return subprocess.run([str(NETNS), str(domain), ros_python, *args], cwd=REPO,
                              capture_output=True, text=True, timeout=timeout)
    return run
