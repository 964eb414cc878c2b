"""Least conservative VALID index for the MuJoCo point robot behind the shield, on a (n, k) grid with sigma = 0.

The SIS loss J = E[[Delta_phi]_+] (eq. 4) is zero on the whole valid region, so gradient descent on it stops
at the first valid zeta on its path (scripts/sis_point_shield.py) and says nothing about conservativeness.
Here validity is the same test (no visited state without a grid action satisfying eq. 1 with the shield's
eta_D, exact one-step model), and among the valid candidates we take the one whose constraint is active
(phi >= 0 for some hazard) on the fewest visited states -- the states where the shield may intervene.
This selection rule is ours, not the paper's; it is reported beside the eq.-4 result.  The closed loop uses
the same seeds (1000..) as sis_point_shield.py, whose result.json holds the handcrafted bundle's run.

  PYTHONPATH=src:. python scripts/sis_point_select.py --out runs/sis_point_select
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from safe_learners.handcrafted_index import DEFAULT_INDEX, build_point_bundle
from safe_learners.sis_experiment import write_json_atomic
from safe_learners.sis_index import phi_max_np
from safe_learners.sis_point import PointModel, closed_loop, collect_states
from safe_learners.validity import action_grid, infeasible_fraction


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/sis_point_select")
    ap.add_argument("--collect-episodes", type=int, default=40)
    ap.add_argument("--eval-episodes", type=int, default=100)
    ap.add_argument("--handcrafted", default="models/point_hazards_ssa")
    ap.add_argument("--n-grid", type=float, nargs="+", default=[1.0, 1.25, 1.5, 1.75, 2.0])
    ap.add_argument("--k-grid", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    from safe_shield.bundle import load_bundle
    from safe_shield.shield import Shield
    from sim.point_robot import PointHazardsEnv, PointRobotParams
    params = PointRobotParams()
    eta = load_bundle(a.handcrafted).manifest["filter"]["eta"]
    d_min = params.hazard_radius + DEFAULT_INDEX["margin"]
    env = PointHazardsEnv(params)
    S_raw, _ = collect_states(env, a.collect_episodes, seed=0)
    S_sh, _ = collect_states(env, a.collect_episodes, seed=0, shield=Shield.from_bundle(a.handcrafted))
    M, A = PointModel(params, d_min), action_grid(11)
    X = np.concatenate([S_raw, S_sh])
    X = X[M.d_ddot(X)[0].min(1) > params.hazard_radius]
    d, dd = M.d_ddot(X)
    cands = []
    for n in a.n_grid:
        for k in a.k_grid:
            z = (0.0, n, k)
            cands.append(dict(zeta=z, infeasible=infeasible_fraction(X, M, z, d_min, A, eta),
                              active=float((phi_max_np(d, dd, z, d_min) >= 0).mean())))
    valid = [c for c in cands if c["infeasible"] == 0.0]
    if not valid:
        raise SystemExit("no valid candidate on the grid")
    best = min(valid, key=lambda c: c["active"])
    os.makedirs(a.out, exist_ok=True)
    bpath = os.path.join(a.out, "bundle")
    z = best["zeta"]
    build_point_bundle(bpath, params=params, sigma=z[0], n=z[1], k=z[2], margin=DEFAULT_INDEX["margin"], eta=eta,
                       name="point_hazards_sis_select",
                       provenance={"algorithm": "valid (eq. 1, exact model) and least active on a (n, k) grid",
                                   "env": "SafeShield/PointHazards-v0", "seed": 0, "training_steps": int(len(X))},
                       overwrite=True)
    hand = (DEFAULT_INDEX["sigma"], DEFAULT_INDEX["n"], DEFAULT_INDEX["k"])
    res = dict(selected=best, eta=eta, d_min=d_min, states=len(X), candidates=cands,
               handcrafted=dict(zeta=hand, infeasible=infeasible_fraction(X, M, hand, d_min, A, eta),
                                active=float((phi_max_np(d, dd, hand, d_min) >= 0).mean())),
               closed_loop=dict(selected=closed_loop(bpath, a.eval_episodes, seed=1000)),
               wall_s=time.time() - t0)
    write_json_atomic(os.path.join(a.out, "result.json"), res)
    print(json.dumps({k: v for k, v in res.items() if k != "candidates"}, indent=1))


if __name__ == "__main__":
    main()
