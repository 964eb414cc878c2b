"""Why does a trained FAC run enter hazards?  Replays evaluation episodes of a sis_sweep run directory with the
deterministic policy and, for the decisions before each hazard entry, prints what the learner saw: phi(s) under
its own index, lambda(s), Q_phi(s, pi(s)) (its one-step Delta_phi prediction), the realised Delta_phi over the
decision, and whether SOME action of an 11x11 grid satisfied eq. 1 at that state (simulator as the model).

  PYTHONPATH=src:. python scripts/sis_unsafe_diag.py --run-dir runs/sis_s3/Hazard0.30/sis/seed0 --episodes 0 4 7
Separates "the index was infeasible there" from "the policy ignored a feasible constraint" (lambda or Q_phi).
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "src"), os.path.join(HERE, "..")]

from safe_learners.sis_experiment import EVAL_SEED, read_json  # noqa: E402
from safe_learners.sis_index import delta_phi_np, phi_max_np  # noqa: E402
from safe_learners.sis_nav_model import NavSimModel  # noqa: E402
from safe_learners.validity import action_grid, min_delta_phi  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--episodes", type=int, nargs="+", default=[0])
    ap.add_argument("--before", type=int, default=8, help="decisions shown before each entry")
    a = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    from safe_learners.sis import FACSIS, ENV_FACTORIES, obstacle_terms
    spec = read_json(os.path.join(a.run_dir, "spec.json"))
    ag = FACSIS.load(os.path.join(a.run_dir, "checkpoint.pt"))
    env = ENV_FACTORIES["safety_gym"](env_id=spec["env_id"])
    model = NavSimModel(spec["env_id"])
    A = action_grid(11)
    z, dm, rep = ag.zeta_tuple(), ag.d_min, ag.cfg.action_repeat
    summary = []
    for e in a.episodes:
        obs, info = env.reset(seed=EVAL_SEED + e)
        d, dd = obstacle_terms(info)
        rows, t, inside_prev = [], 0, False
        while True:
            o = torch.as_tensor(obs, dtype=torch.float32)[None]
            with torch.no_grad():
                a_pol = torch.tanh(ag.actor(o)[0])
                lam = float(ag.lam(o).clamp(0, ag.cfg.lam_max))
                qphi = float(ag.qphi(o, a_pol))
            act = ag.actor.env_action(a_pol)[0].numpy()
            s_row = model.record(env.env)
            feas = float(min_delta_phi(s_row[None], model, z, dm, A)[0][0])     # best one-step Delta_phi
            d0, dd0, entered = d, dd, False
            for _ in range(rep):
                obs, r, term, trunc, info = env.step(act)
                d, dd = obstacle_terms(info)
                t += 1
                inside = bool(d.min() < dm)
                entered |= inside and not inside_prev
                inside_prev = inside
                if term or trunc:
                    break
            rows.append(dict(t=t, d=float(d0.min()), ddot=float(dd0[np.argmin(d0)]), phi=float(phi_max_np(d0, dd0, z, dm)),
                             lam=lam, qphi=qphi, dphi=float(delta_phi_np(d0, dd0, d, dd, z, dm)), best1=feas,
                             entered=entered))
            if term or trunc:
                break
        entries = [i for i, r in enumerate(rows) if r["entered"]]
        print(f"episode {e}: {len(entries)} hazard entries, decisions {len(rows)}")
        for i in entries[:3]:
            for r in rows[max(0, i - a.before): i + 1]:
                print("   " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
            print("   --")
        pre = [rows[j] for i in entries for j in range(max(0, i - a.before), i + 1)]
        summary.append(dict(episode=e, entries=len(entries),
                            pre_entry_decisions=len(pre),
                            pre_entry_infeasible=int(sum(r["best1"] > -1e-4 for r in pre)),
                            pre_entry_phi_pos=int(sum(r["phi"] > 0 for r in pre)),
                            pre_entry_qphi_pos=int(sum(r["qphi"] > 0 for r in pre)),
                            pre_entry_lam_max=max((r["lam"] for r in pre), default=0.0),
                            lam_all_mean=float(np.mean([r["lam"] for r in rows]))))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
