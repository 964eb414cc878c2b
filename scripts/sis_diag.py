"""Short diagnostic FAC run on PointGoal-Hazard0.30 (seed 0, 2x64, fixed phi_h, zeta not learned): prints the
per-epoch training log and a 5-episode deterministic evaluation.  Used for the "why did the policy not move"
diagnosis in RESULTS.md (SIS).  Overrides are SISConfig fields as JSON, e.g.

  PYTHONPATH=src:. python scripts/sis_diag.py E 30000 '{"action_repeat": 4, "alpha_init": 0.1}'
"""
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "src"), os.path.join(HERE, "..")]

from safe_learners.sis import FACSIS, SISConfig  # noqa: E402

KEYS = ("env_steps", "ep_return", "ep_cost", "alpha", "lam_mean", "dphi_pos", "wall_s", "ep_eq1_viol")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    name, steps = sys.argv[1], int(sys.argv[2])
    over = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    torch.set_num_threads(1)
    cfg = SISConfig(env="safety_gym", env_kwargs=dict(env_id="SafeShield/PointGoal-Hazard0.30-v0"), hidden=64,
                    total_steps=steps, epoch_steps=over.pop("epoch_steps", 2500), checkpoint_every=0,
                    run_dir=os.path.join("runs", "sis_diag", name), zeta_init=(0.3, 2.0, 1.0), learn_zeta=False,
                    **over)
    ag = FACSIS(cfg)
    t = time.time()
    ag.learn(log=lambda s: print(name, {k: (round(v, 3) if isinstance(v, float) else v)
                                        for k, v in json.loads(s).items() if k in KEYS}, flush=True))
    ev = ag.evaluate(episodes=5, seed=100000)
    print(name, "EVAL det return", np.mean([e["ret"] for e in ev]), "cost", np.mean([e["cost"] for e in ev]),
          "wall", time.time() - t, flush=True)


if __name__ == "__main__":
    main()
