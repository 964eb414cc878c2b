"""SIS index for the MuJoCo point robot -> shield bundle -> closed loop with the demo's aggressive controller.

  PYTHONPATH=src:. python scripts/sis_point_shield.py --out runs/sis_point_corner

1. visited states: the aggressive controller raw and behind the handcrafted-index shield (seeds 0..E-1);
2. validity check (grid of 11x11 actions, eq. 1 with eps 1e-4) of phi0/phih/phiF/phiSIS_paper/handcrafted;
3. SIS outer loop (eq. 4 hinge) with the model-based oracle inner loop (synthesize_with_oracle), with the
   shield's eta_D; then --rounds - 1 more rounds that add the states visited behind the learned index's own
   shield and continue from the last zeta (the index changes where the robot goes);
4. export (build_point_bundle: the lead's SafetyIndexModule + ORT-vs-torch check, atomic write);
5. closed loop, seeds 1000.. (disjoint from 1.): violations and interventions, learned vs handcrafted bundle.

Why --init corner (default): J(zeta) = E[[Delta_phi]_+] is exactly 0 on the whole valid region, so the hinge
only moves zeta while some visited state is infeasible and stops at the first valid zeta it meets.  From phi_h
(already valid here) nothing moves and the index stays as conservative as phi_h (35,141 interventions in the
previous run).  Starting from the least conservative corner of the zeta box (sigma and k at their lower bounds,
n = 2: the tightest {phi > 0} region the box allows) the same loss stops at the validity boundary, i.e. the
least conservative valid index along its path.  --init phih reproduces the earlier run.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from safe_learners.handcrafted_index import DEFAULT_INDEX, build_point_bundle
from safe_learners.sis import synthesize_with_oracle
from safe_learners.sis_index import TABLE2, ZETA_HIGH, ZETA_LOW
from safe_learners.sis_point import PointModel, closed_loop, collect_states
from safe_learners.validity import action_grid, infeasible_fraction


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/sis_point")
    ap.add_argument("--collect-episodes", type=int, default=40)
    ap.add_argument("--eval-episodes", type=int, default=100)
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--handcrafted", default="models/point_hazards_ssa")
    ap.add_argument("--init", choices=["corner", "phih"], default="corner")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--eta", type=float, default=None, help="eta_D (default: the handcrafted bundle's)")
    ap.add_argument("--zeta", type=float, nargs=3, metavar=("SIGMA", "N", "K"), default=None,
                    help="skip synthesis: export and test this index (e.g. one FAC-SIS learned on Safety Gym)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    from sim.point_robot import PointHazardsEnv, PointRobotParams
    from safe_shield.bundle import load_bundle
    from safe_shield.shield import Shield
    params = PointRobotParams()
    eta = load_bundle(a.handcrafted).manifest["filter"]["eta"] if a.eta is None else a.eta
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
    zeta0 = TABLE2["phih"] if a.init == "phih" else (ZETA_LOW[0], ZETA_HIGH[1], ZETA_LOW[2])
    os.makedirs(a.out, exist_ok=True)
    bpath = os.path.join(a.out, "bundle_sis")
    zeta, trace, rounds = zeta0, [], []
    if a.zeta is not None:
        zeta0 = zeta = tuple(a.zeta)
        if not all(lo <= v <= hi for v, lo, hi in zip(zeta, ZETA_LOW, ZETA_HIGH)):
            raise SystemExit(f"--zeta {zeta} is outside the synthesis box {ZETA_LOW}..{ZETA_HIGH}")
        build_point_bundle(bpath, params=params, sigma=zeta[0], n=zeta[1], k=zeta[2],
                           margin=DEFAULT_INDEX["margin"], eta=eta, name="point_hazards_sis",
                           provenance={"algorithm": "given index (--zeta)", "env": "SafeShield/PointHazards-v0",
                                       "seed": 0, "training_steps": 0, "zeta_init": zeta0},
                           overwrite=True)
    for r in range(0 if a.zeta is not None else a.rounds):
        if r > 0:   # states visited behind the shield of the index learned so far
            S_own, v_own = collect_states(env, a.collect_episodes, seed=0, shield=Shield.from_bundle(bpath))
            S_own = S_own[M.d_ddot(S_own)[0].min(1) > params.hazard_radius]
            rounds[-1].update(own_shield_states=len(S_own), own_shield_violations=v_own,
                              own_shield_infeasible=infeasible_fraction(S_own, M, zeta, d_min, A, eta))
            X = np.concatenate([X, S_own])
        zeta, tr = synthesize_with_oracle(X, M, zeta, iters=a.iters, lr=1e-2, actions=A, eta_d=eta, log_every=50)
        trace += tr
        rounds.append(dict(round=r, zeta=zeta, states=len(X)))
        build_point_bundle(bpath, params=params, sigma=zeta[0], n=zeta[1], k=zeta[2],
                           margin=DEFAULT_INDEX["margin"], eta=eta, name="point_hazards_sis",
                           provenance={"algorithm": "SIS outer loop (eq. 4) with model-based oracle inner loop",
                                       "env": "SafeShield/PointHazards-v0", "seed": 0,
                                       "training_steps": int(len(X)), "zeta_init": zeta0},
                           overwrite=True)
    indices["learned"] = zeta
    validity = {k: {"visited": infeasible_fraction(X, M, z, d_min, A, eta),
                    "uniform": infeasible_fraction(U, M, z, d_min, A, eta)} for k, z in indices.items()}
    cl_learned = closed_loop(bpath, a.eval_episodes, seed=1000)
    cl_hand = closed_loop(a.handcrafted, a.eval_episodes, seed=1000)
    res = dict(zeta_learned=zeta, zeta_init=zeta0, eta=eta, rounds=rounds, d_min=d_min, visited_states=len(X), uniform_states=len(U),
               collect_violations=dict(raw=v_raw, handcrafted_shield=v_sh), validity=validity, trace=trace,
               closed_loop=dict(learned=cl_learned, handcrafted=cl_hand), wall_s=time.time() - t0)
    with open(os.path.join(a.out, "result.json.tmp"), "w") as f:
        json.dump(res, f, indent=1)
    os.replace(os.path.join(a.out, "result.json.tmp"), os.path.join(a.out, "result.json"))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
