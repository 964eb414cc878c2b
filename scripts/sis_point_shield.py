"""SIS index for the MuJoCo point robot -> shield bundle -> closed loop with the demo's aggressive controller.

  PYTHONPATH=src:. python scripts/sis_point_shield.py --out runs/sis_point

1. visited states: the aggressive controller raw and behind the handcrafted-index shield (seeds 0..E-1);
2. validity check (grid of 11x11 actions, eq. 1 with eps 1e-4) of phi0/phih/phiF/phiSIS_paper/handcrafted;
3. SIS outer loop from phi_h with the model-based oracle inner loop (synthesize_with_oracle);
4. export (build_point_bundle: the lead's SafetyIndexModule + ORT-vs-torch check, atomic write);
5. closed loop, seeds 1000.. (disjoint from 1.): violations and interventions, learned vs handcrafted bundle.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from safe_learners.handcrafted_index import DEFAULT_INDEX, build_point_bundle
from safe_learners.sis import synthesize_with_oracle
from safe_learners.sis_index import TABLE2
from safe_learners.sis_point import PointModel, closed_loop, collect_states
from safe_learners.validity import action_grid, infeasible_fraction


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/sis_point")
    ap.add_argument("--collect-episodes", type=int, default=40)
    ap.add_argument("--eval-episodes", type=int, default=100)
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--handcrafted", default="models/point_hazards_ssa")
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    from sim.point_robot import PointHazardsEnv, PointRobotParams
    from safe_shield.shield import Shield
    params = PointRobotParams()
    d_min = params.hazard_radius + DEFAULT_INDEX["margin"]          # same d_min as the handcrafted bundle
    env = PointHazardsEnv(params)
    S_raw, v_raw = collect_states(env, a.collect_episodes, seed=0)
    S_sh, v_sh = collect_states(env, a.collect_episodes, seed=0, shield=Shield.from_bundle(a.handcrafted))
    M, A = PointModel(params, d_min), action_grid(11)
    X = np.concatenate([S_raw, S_sh])
    X = X[M.d_ddot(X)[0].min(1) > params.hazard_radius]              # states outside every hazard
    hand = (DEFAULT_INDEX["sigma"], DEFAULT_INDEX["n"], DEFAULT_INDEX["k"])
    indices = {**TABLE2, "handcrafted_bundle": hand}
    rng = np.random.default_rng(0)
    U = X[rng.integers(0, len(X), 3000)].copy()                      # "uniform": same layouts, random p and v
    U[:, 0:2] = rng.uniform(-params.arena, params.arena, (len(U), 2))
    U[:, 2:4] = rng.uniform(-params.max_force / params.damping, params.max_force / params.damping, (len(U), 2))
    U = U[M.d_ddot(U)[0].min(1) > params.hazard_radius]
    zeta, trace = synthesize_with_oracle(X, M, TABLE2["phih"], iters=a.iters, lr=1e-2, actions=A,
                                         log_every=50)
    indices["learned"] = zeta
    validity = {k: {"visited": infeasible_fraction(X, M, z, d_min, A), "uniform": infeasible_fraction(U, M, z, d_min, A)}
                for k, z in indices.items()}
    os.makedirs(a.out, exist_ok=True)
    bpath = os.path.join(a.out, "bundle_sis")
    build_point_bundle(bpath, params=params, sigma=zeta[0], n=zeta[1], k=zeta[2], margin=DEFAULT_INDEX["margin"],
                       name="point_hazards_sis",
                       provenance={"algorithm": "SIS outer loop (eq. 4) with model-based oracle inner loop",
                                   "env": "SafeShield/PointHazards-v0", "seed": 0,
                                   "training_steps": int(len(S_raw) + len(S_sh)), "zeta_init": TABLE2["phih"]},
                       overwrite=True)
    cl_learned = closed_loop(bpath, a.eval_episodes, seed=1000)
    cl_hand = closed_loop(a.handcrafted, a.eval_episodes, seed=1000)
    res = dict(zeta_learned=zeta, d_min=d_min, visited_states=len(X), uniform_states=len(U),
               collect_violations=dict(raw=v_raw, handcrafted_shield=v_sh), validity=validity, trace=trace,
               closed_loop=dict(learned=cl_learned, handcrafted=cl_hand), wall_s=time.time() - t0)
    with open(os.path.join(a.out, "result.json.tmp"), "w") as f:
        json.dump(res, f, indent=1)
    os.replace(os.path.join(a.out, "result.json.tmp"), os.path.join(a.out, "result.json"))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
