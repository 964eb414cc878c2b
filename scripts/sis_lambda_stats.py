"""Multiplier and Q_phi on a FAC checkpoint's own buffer: quantiles of the logit x(s) of lambda = softplus(x), and x /
lambda on rows whose transition violated eq. 1 (Delta_phi > 0 under the checkpoint's zeta) and on rows where
Q_phi(s, a ~ pi) > 0; bias of Q_phi(s, a_buffer) on the violating rows.

  PYTHONPATH=src:. python scripts/sis_lambda_stats.py runs/sis_l1_ck100k/checkpoint.pt
"""
import sys

import numpy as np
import torch

torch.set_num_threads(1)
from safe_learners.sis import FACSIS
ag = FACSIS.load(sys.argv[1], run_dir="/tmp/sis-w/lx")
n = ag.buf.n
D = {k: torch.as_tensor(v[:n]) for k, v in ag.buf.data.items()}
with torch.no_grad():
    x = ag.lam.logit(D["obs"]).numpy()
    dphi = ag.delta_phi(D).numpy()
    q = ag.qphi(D["obs"], ag.actor.sample(D["obs"])[0]).numpy()
    qb = ag.qphi(D["obs"], D["act"]).numpy()
print("rows", n, "x quantiles", np.round(np.quantile(x, [0, .01, .1, .5, .9, .99, 1]), 2))
for name, m in [("dphi>0 rows", dphi > 0), ("dphi<=0", dphi <= 0), ("q(s,pi)>0", q > 0)]:
    print(name, m.mean().round(3), "x median", np.round(np.median(x[m]), 2), "lam>1 share", (np.logaddexp(0, x[m]) > 1).mean().round(3))
rec = slice(n - 5000, n)  # most recent 5000 decisions
print("recent: dphi>0 share", (dphi[rec] > 0).mean().round(3), "q(s,pi)>0 share", (q[rec] > 0).mean().round(3),
      "x median on recent dphi>0", np.median(x[rec][dphi[rec] > 0]).round(2))
print("Q_phi(s,a_buf) vs dphi on dphi>0 rows: bias", (qb[dphi > 0] - dphi[dphi > 0]).mean().round(4), "pred>0 share", (qb[dphi > 0] > 0).mean().round(3))
print("Q_phi(s,a_buf) on -0.05<dphi<=0: bias", (qb[(dphi <= 0) & (dphi > -0.05)] - dphi[(dphi <= 0) & (dphi > -0.05)]).mean().round(4))
