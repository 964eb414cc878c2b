"""Validity check (SIS Fig. 5 / Table 3 analysis) on the Safety-Gym-style point robot: fraction of states where
no action of an 11x11 grid satisfies eq. 1 (Delta_phi <= -1e-4), for the run's own index and phi0/phih/phiF/
the paper's phiSIS, over the states its trained deterministic policy visits and over a random policy's states.
A third source drives at full force toward the nearest obstacle (a stress distribution of fast approaches).
The one-step model is the simulator itself (safe_learners.sis_nav_model.NavSimModel: restore, step, read).

  PYTHONPATH=src:. python scripts/sis_validity_nav.py --run-dir runs/sis_local_fac/Hazard0.30/sis/seed0
Writes RUN_DIR/validity.json.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "src"), os.path.join(HERE, "..")]

from safe_learners.sis_experiment import read_json, write_json_atomic  # noqa: E402
from safe_learners.sis_index import TABLE2  # noqa: E402
from safe_learners.sis_nav_model import NavSimModel, visited_states  # noqa: E402
from safe_learners.validity import action_grid, infeasible_fraction  # noqa: E402


def approach_policy(obs, info):
    """Stress source: steer toward the nearest obstacle (ground truth from info, not observation indices) and
    drive at full force (fast approaches, where an index without enough k*ddot runs out of braking room)."""
    rel = info["obstacle_pos"] - info["robot_pos"]
    i = int(np.argmin(np.hypot(*rel.T)))
    bearing = np.arctan2(rel[i, 1], rel[i, 0]) - info["robot_heading"]
    bearing = (bearing + np.pi) % (2 * np.pi) - np.pi
    return np.array([1.0, np.clip(3.0 * bearing, -1.0, 1.0)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", required=True, help="a sis_sweep run directory with checkpoint.pt")
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--every", type=int, default=10, help="keep every k-th visited state")
    ap.add_argument("--grid", type=int, default=11)
    a = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    t0 = time.time()
    spec = read_json(os.path.join(a.run_dir, "spec.json"))
    if spec is None or spec["method"] == "ppo_lag":
        raise SystemExit(f"{a.run_dir}: need a FAC run directory (spec.json with method sis/phi0/phih/phiF)")
    from safe_learners.sis import FACSIS
    ag = FACSIS.load(os.path.join(a.run_dir, "checkpoint.pt"))
    model = NavSimModel(spec["env_id"])
    rng = np.random.default_rng(0)
    sources = {
        "visited_trained_policy": visited_states(spec["env_id"], lambda o, i: ag.policy_action(o, deterministic=True),
                                                 a.episodes, model, every=a.every),
        "visited_random_policy": visited_states(spec["env_id"], lambda o, i: rng.uniform(-1, 1, 2), a.episodes, model,
                                                every=a.every),
        "visited_approach_policy": visited_states(spec["env_id"], approach_policy, a.episodes, model, every=a.every),
    }
    # states inside an obstacle's unsafe set are excluded (eq. 1 is about keeping out, not getting out)
    r = ag.d_min
    sources = {k: S[model.d_ddot(S)[0].min(1) > r] for k, S in sources.items()}
    A = action_grid(a.grid)
    indices = {"own": ag.zeta_tuple(), **TABLE2}
    out = {name: {src: infeasible_fraction(S, model, z, ag.d_min, A) for src, S in sources.items()}
           for name, z in indices.items()}
    res = dict(run=spec, d_min=ag.d_min, zeta_own=ag.zeta_tuple(), states={k: len(S) for k, S in sources.items()},
               action_grid=a.grid, infeasible=out, wall_s=time.time() - t0)
    write_json_atomic(os.path.join(a.run_dir, "validity.json"), res)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
