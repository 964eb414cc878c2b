"""How well can Q_phi(s, a) (the paper's one-step Delta_phi predictor, step 4) be fitted near the hazard boundary,
and does the output scale of its network matter?  Offline, on a FAC run's own replay buffer.

  PYTHONPATH=src:. python scripts/sis_qphi_fit.py --run-dir runs/sis_l1/Hazard0.30/sis/seed0 --scales 1 100 --steps 6000

Delta_phi per row is recomputed with the run's final zeta; rows are split 90/10 (train / held-out).  For each
output scale c a fresh Q_phi network (the run's width) is trained with Adam at the run's initial critic rate on
min (c^-1 * net(s, a) - clip(Delta_phi, floor))^2 -- i.e. Q_phi = net / c.  Adam moves a network's output by
about its rate per step whatever the loss scale, so with c = 1 the output jitters by ~1e-3 while the boundary
targets are themselves 1e-3..1e-2; c rescales that jitter in Delta_phi units by 1/c.
Reported on held-out rows near the boundary (true Delta_phi > -0.05) and in-sample on the training rows that
violate eq. 1: RMSE, bias, correlation,
and the sign agreement on "violates eq. 1" (Delta_phi > -1e-4).  The run's own Q_phi is scored on the same rows
(it trained on them, so it is an optimistic reference).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "src"), os.path.join(HERE, "..")]


def score(pred, true, eps=1e-4):
    err = pred - true
    return dict(rows=int(len(true)), rmse=float(np.sqrt((err ** 2).mean())), bias=float(err.mean()),
                corr=float(np.corrcoef(pred, true)[0, 1]) if len(true) > 2 else None,
                viol_true=int((true > -eps).sum()),
                sign_agree=float(((pred > -eps) == (true > -eps)).mean()),
                viol_recall=float((pred[true > -eps] > -eps).mean()) if (true > -eps).any() else None,
                safe_recall=float((pred[true <= -eps] <= -eps).mean()) if (true <= -eps).any() else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 100.0])
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--floors", type=float, nargs="+", default=None,
                    help="target floors to compare (default: the run's qphi_target_floor), each with every scale")
    ap.add_argument("--dd-features", choices=["no", "yes", "both"], default="no",
                    help="also feed the per-obstacle (d, ddot) at s (the index's own inputs) to the fresh Q_phi")
    a = ap.parse_args()
    torch.set_num_threads(1)
    from safe_learners.sis import FACSIS, QNet
    ag = FACSIS.load(os.path.join(a.run_dir, "checkpoint.pt"))
    c = ag.cfg
    n = ag.buf.n
    D = {k: torch.as_tensor(v[:n]) for k, v in ag.buf.data.items()}
    with torch.no_grad():
        dphi = ag.delta_phi(D).float()
    floor = c.qphi_target_floor
    floors = a.floors or [floor]
    rng = np.random.default_rng(a.seed)
    perm = rng.permutation(n)
    te, tr = perm[: n // 10], perm[n // 10:]
    near = te[(dphi[te] > -0.05).numpy()]          # held-out rows near the boundary (same set for every floor)
    viol_tr = tr[(dphi[tr] > -1e-4).numpy()]        # training rows that violate eq. 1 (in-sample fit)
    out = dict(run_dir=a.run_dir, rows=n, zeta=ag.zeta_tuple(), run_floor=floor, near_boundary_test_rows=int(len(near)),
               train_rows_violating=int(len(viol_tr)))
    with torch.no_grad():
        out["run_qphi"] = score(ag.qphi(D["obs"][near], D["act"][near]).numpy(), dphi[near].numpy())
        out["run_qphi_in_sample_violating"] = score(ag.qphi(D["obs"][viol_tr], D["act"][viol_tr]).numpy(),
                                                    dphi[viol_tr].numpy())
    feats = {"no": [False], "yes": [True], "both": [False, True]}[a.dd_features]
    O = {False: D["obs"], True: torch.cat([D["obs"], D["d"], D["ddot"]], -1)}
    for f, s, ddf in [(f, s, x) for f in floors for s in a.scales for x in feats]:
        y = dphi.clamp(min=f)
        key = f"floor_{f:g}_scale_{s:g}" + ("_dd" if ddf else "")
        torch.manual_seed(a.seed)
        net = QNet(O[ddf].shape[1], ag.act_dim, c.hidden)
        opt = torch.optim.Adam(net.parameters(), c.lr_critic[0])
        for _ in range(a.steps):
            i = torch.as_tensor(tr[rng.integers(0, len(tr), c.batch_size)])
            loss = ((net(O[ddf][i], D["act"][i]) / s - y[i]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), c.grad_clip)
            opt.step()
        with torch.no_grad():
            out[key] = dict(held_out_near=score((net(O[ddf][near], D["act"][near]) / s).numpy(), dphi[near].numpy()),
                            in_sample_violating=score((net(O[ddf][viol_tr], D["act"][viol_tr]) / s).numpy(),
                                                      dphi[viol_tr].numpy()))
        print(json.dumps({key: out[key]}), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
