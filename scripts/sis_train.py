"""Train FAC-SIS (or a fixed-index FAC baseline) and evaluate; writes run_dir/{log.jsonl,checkpoint.pt,result.json}.

  PYTHONPATH=src:. python scripts/sis_train.py --method sis --steps 30000 --seed 0 --run-dir runs/sis_uni_s0
  --method phi0|phih|phiF = FAC with that fixed index (no step 7).  --resume continues from run_dir/checkpoint.pt.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from safe_learners.sis import FACSIS, SISConfig
from safe_learners.sis_index import TABLE2
from safe_learners.sis_unicycle import UnicycleModel, obs_to_state
from safe_learners.validity import action_grid, infeasible_fraction


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--method", default="sis", choices=["sis", "phi0", "phih", "phiF"])
    p.add_argument("--steps", type=int, default=30000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--sis-start", type=int, default=5000)
    p.add_argument("--v0", type=float, nargs=2, default=(0.0, 0.0))
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--env", default="unicycle", choices=["unicycle", "safety_gym"])
    p.add_argument("--env-id", default="SafeShield/PointGoal-Hazard0.30-v0")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--resume", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(1)
    ck = os.path.join(a.run_dir, "checkpoint.pt")
    if a.resume and os.path.exists(ck):
        ag = FACSIS.load(ck)
    else:
        z = TABLE2["phih" if a.method == "sis" else a.method]
        cfg = SISConfig(total_steps=a.steps, seed=a.seed, hidden=a.hidden, sis_start=a.sis_start,
                        learn_zeta=a.method == "sis", zeta_init=z, run_dir=a.run_dir,
                        env=a.env, checkpoint_every=5000,
                        env_kwargs=dict(v0_range=tuple(a.v0)) if a.env == "unicycle" else dict(env_id=a.env_id))
        ag = FACSIS(cfg)
    t0 = time.time()
    ag.learn(total_steps=a.steps)
    ag.save(ck)
    rows = ag.evaluate(a.eval_episodes)
    infeasible = None
    if ag.cfg.env == "unicycle":   # validity needs a one-step model; none yet for the Safety-Gym robots
        S = obs_to_state(ag.buf.data["obs"][: ag.buf.n][::5])
        M, A = UnicycleModel(), action_grid(21)
        infeasible = {k: infeasible_fraction(S, M, z, 0.5, A) for k, z in {**TABLE2, "learned": ag.zeta_tuple()}.items()}
    res = dict(method=a.method, seed=a.seed, steps=ag.counters["env_steps"], wall_s=ag.counters["wall_s"],
               train_counters=ag.counters, zeta=ag.zeta_tuple(),
               eval_episodes=len(rows),
               eval_return=float(np.mean([r["ret"] for r in rows])),
               eval_cost=float(np.mean([r["cost"] for r in rows])),
               eval_cost_episodes=int(sum(r["cost"] > 0 for r in rows)),
               eval_eq1_viol_per_ep=float(np.mean([r["eq1_viol"] for r in rows])),
               infeasible_visited=infeasible,
               script_wall_s=time.time() - t0)
    with open(os.path.join(a.run_dir, "result.json.tmp"), "w") as f:
        json.dump(res, f, indent=1)
    os.replace(os.path.join(a.run_dir, "result.json.tmp"), os.path.join(a.run_dir, "result.json"))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
