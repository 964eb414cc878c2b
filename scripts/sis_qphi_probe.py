"""Probe a trained FAC run's Q_phi and actor at chosen evaluation states (RESULTS.md "SIS", third stop).

For each (episode, env step) it replays the deterministic evaluation episode to that step and compares, over a
7x7 grid of held actions: the TRUE Delta_phi over one decision (the simulator stepped action_repeat times,
sis_nav_model.NavSimModel) with the fitted Q_phi(s, a); and the actor's objective -Q_w + lambda(s) Q_phi with
the action the deterministic policy takes.

  PYTHONPATH=src:. python scripts/sis_qphi_probe.py --run-dir runs/sis_s4/Hazard0.30/sis/seed0 --at 13:328 10:940
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "src"), os.path.join(HERE, "..")]

from safe_learners.sis_experiment import EVAL_SEED, read_json  # noqa: E402
from safe_learners.sis_index import delta_phi_np  # noqa: E402
from safe_learners.sis_nav_model import NavSimModel  # noqa: E402
from safe_learners.validity import action_grid  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--at", nargs="+", required=True, help="EPISODE:ENV_STEP (a multiple of the action repeat)")
    a = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    from safe_learners.sis import ENV_FACTORIES, FACSIS, obstacle_terms
    spec = read_json(os.path.join(a.run_dir, "spec.json"))
    ag = FACSIS.load(os.path.join(a.run_dir, "checkpoint.pt"))
    z, dm, rep = ag.zeta_tuple(), ag.d_min, ag.cfg.action_repeat
    env, model = ENV_FACTORIES["safety_gym"](env_id=spec["env_id"]), NavSimModel(spec["env_id"])
    A = action_grid(7)
    At = torch.as_tensor(A, dtype=torch.float32)
    for ep, t_at in (tuple(int(x) for x in s.split(":")) for s in a.at):
        obs, info = env.reset(seed=EVAL_SEED + ep)
        for t in range(t_at):
            if t % rep == 0:
                act = ag.policy_action(obs, deterministic=True)
            obs, _, term, trunc, info = env.step(act)
            if term or trunc:
                raise SystemExit(f"episode {ep} ended before step {t_at}")
        row, (d, dd) = model.record(env.env), obstacle_terms(info)
        true = []
        for u in A:                                   # Delta_phi over one decision: the action held `rep` steps
            model._restore(row)
            for _ in range(rep):
                model.env.sim.step(u * model.env._ctrl_scale)
            true.append(delta_phi_np(d, dd, *model._d_ddot_of_env(model.env), z, dm))
        true = np.array(true)
        o = torch.as_tensor(obs, dtype=torch.float32)[None]
        with torch.no_grad():
            O = o.repeat(len(A), 1)
            qphi = ag.qphi(O, At).numpy()
            qw = torch.min(ag.q1(O, At), ag.q2(O, At)).numpy()
            lam = float(ag.lam(o).clamp(0, ag.cfg.lam_max))
            pi = torch.tanh(ag.actor(o)[0])
        obj = -qw + lam * qphi
        print(json.dumps(dict(
            episode=ep, step=t_at, lam=round(lam, 2), policy_action=[round(float(x), 2) for x in pi[0]],
            true_safe_fraction=round(float(np.mean(true <= -1e-4)), 2), true_min=round(float(true.min()), 4),
            qphi_min=round(float(qphi.min()), 4), qphi_max=round(float(qphi.max()), 4),
            corr_qphi_true=round(float(np.corrcoef(qphi, true)[0, 1]), 2),
            objective_argmin=[round(float(x), 2) for x in A[obj.argmin()]],
            true_dphi_at_objective_argmin=round(float(true[obj.argmin()]), 4))))


if __name__ == "__main__":
    main()
