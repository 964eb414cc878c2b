"""The shield node over real DDS: each scenario in scenarios.py as one isolated process."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

# Scenario names without importing scenarios.py (it imports rclpy, which lives in .venv-ros).
_tree = ast.parse((Path(__file__).parent / "scenarios.py").read_text())
SCENARIOS = sorted(f.name for f in _tree.body if isinstance(f, ast.FunctionDef)
                   and any(getattr(d, "id", None) == "scenario" for d in f.decorator_list))


def test_every_scenario_is_collected():
    assert len(SCENARIOS) >= 15, SCENARIOS


def _faulty_bundles(tmp):
    from faulty_bundles import nan_index_bundle, ort_error_bundle
    nan_index_bundle(tmp / "nan_bundle")
    ort_error_bundle(tmp / "ort_error_bundle")


# Scenarios whose inputs are built here (.venv has torch and the exporter; .venv-ros does not).
PREPARE = {"model_error_falls_back": _faulty_bundles}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario(name, in_netns, tmp_path):
    if name in PREPARE:
        PREPARE[name](tmp_path)
    r = in_netns("tests/ros/scenarios.py", name, str(tmp_path))
    assert r.returncode == 0 and f'"scenario": "{name}", "ok": true' in r.stdout, \
        f"{name} failed:\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}"


@pytest.mark.parametrize("mode", ["commands", "everything"])
def test_wire_compatible_with_cyclonedds(mode, in_netns, tmp_path):
    """A Cyclone DDS (not rclpy) client drives the node with ROS wire names: the command path
    with the node's default Fast DDS settings; state in, ~/state and /diagnostics out too with
    config/fastdds_interop.xml (see blackbox_cyclonedds.py for why)."""
    r = in_netns("tests/ros/blackbox_cyclonedds.py", mode, str(tmp_path))
    assert r.returncode == 0 and '"ok": true' in r.stdout, f"{r.stdout[-6000:]}\n{r.stderr[-2000:]}"
