"""Real bundles with real runtime model faults, for the node's model-error watchdog.

Both are exported by the project's exporter (torch -> ONNX -> verified against ONNX Runtime on
random inputs -> atomically written), so they load, verify and configure like any good bundle;
the fault only shows for particular states the node can receive:

- ``nan_index_bundle``: the shipped point-robot safety index exported without its ε guard in
  d = sqrt(|p - o|² + ε). With the robot exactly on a hazard centre, d = 0 and ONNX Runtime returns
  φ = NaN (0·inf). Random export checks never hit d = 0 exactly, which is how such a defect ships.
- ``ort_error_bundle``: a safety critic whose Gather index comes from the state; for x0 ≥ 3 the
  index is out of bounds and ONNX Runtime raises during the run (the node needs
  ``shield.check_state_range: false`` for such a state to reach the graph).

Built in the pytest process (torch lives in .venv, not in .venv-ros).
"""

from __future__ import annotations

from pathlib import Path

from bundle_fixtures import DEMO_BUNDLE, GatherCritic, make_critic_bundle
from safe_learners.export import GraphExport, export_bundle
from safe_learners.handcrafted_index import BrakePolicy, point_robot_index
from safe_shield.bundle import VectorSpec, load_bundle

NAN_STATE_XY = (0.0, 0.0)     # hazard0's centre in config/shield_node.yaml
ORT_ERROR_X0 = 7.0            # Gather index 7 into a table of 3


def nan_index_bundle(dest: Path) -> Path:
    from sim.point_robot import PointRobotParams

    shipped = load_bundle(DEMO_BUNDLE, open_graphs=False)
    form = shipped.manifest["filter"]["index"]
    params = PointRobotParams()
    index = point_robot_index(params, sigma=form["sigma"], n=form["n"], k=form["k"],
                              margin=form["d_min"] - form["hazard_radius"])
    index.eps = 0.0                                   # the defect: no guard against d = 0
    n_obs = shipped.observation.size
    export_bundle(dest, kind="safety_index", name="point_hazards_ssa_no_eps",
                  observation=shipped.observation, action=shipped.action,
                  graphs={"index": GraphExport(index, ("obs",), ("phi", "grad")),
                          "backup_policy": GraphExport(BrakePolicy(n_obs, (2, 3)), ("obs",), ("act",))},
                  filter=shipped.manifest["filter"], fallback=shipped.manifest["fallback"],
                  provenance={"algorithm": "handcrafted safety index without its eps guard (test)",
                              "env": "SafeShield/PointHazards-v0", "seed": None,
                              "training_steps": 0})
    return dest


def ort_error_bundle(dest: Path) -> Path:
    # The export check samples x0 in [0, 2.9], where the Gather is in bounds.
    obs = VectorSpec.make(["x0", "x1"], ["m", "m"], [0.0, -5.0], [2.9, 5.0])
    return make_critic_bundle(dest, GatherCritic(), obs=obs)
