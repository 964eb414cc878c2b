"""Multiplier-only probe: from a FAC checkpoint, take `steps` logit ascent steps on lambda(s) alone (actor and Q_phi
frozen, the run's own buffer and signal clip), once per soft-box weight w (SISConfig.lam_box_weight), and report
where the logit x(s) ends up and lambda on rows where Q_phi(s, pi_det(s)) > 0 vs < -0.01.

  PYTHONPATH=src:. python scripts/sis_lambda_box_probe.py runs/sis_l1_ck100k/checkpoint.pt 3000
"""
import math
import sys

import numpy as np
import torch

torch.set_num_threads(1)
from safe_learners.sis import FACSIS
ck = sys.argv[1]; steps = int(sys.argv[2])
for w in [0.0, 1e-3, 1e-2]:
    torch.manual_seed(0)
    ag = FACSIS.load(ck, run_dir="/tmp/sis-w/lb")
    c = ag.cfg; n = ag.buf.n
    x_hi = math.log(math.expm1(c.lam_max)); x_lo = c.lam_bias_init
    D = {k: torch.as_tensor(v[:n]) for k, v in ag.buf.data.items()}
    for g in ag.opt["lambda"].param_groups: g["lr"] = 7e-4
    for t in range(steps):
        b = ag.buf.sample(ag.rng, 256)
        with torch.no_grad():
            q = ag.qphi(b["obs"], ag.actor.sample(b["obs"])[0]).clamp(min=c.lam_signal_floor)
        x = ag.lam.logit(b["obs"])
        with torch.no_grad():
            free = ~(((x <= x_lo) & (q < 0)) | ((x >= x_hi) & (q > 0)))
        loss = -(x * q * free).mean() + w * ((x - x.detach().clamp(x_lo, x_hi)) ** 2).mean()
        ag._step_lambda(loss)
    with torch.no_grad():
        x = ag.lam.logit(D["obs"]).numpy(); q = ag.qphi(D["obs"], ag.actor.act_det(D["obs"])).numpy()
        dphi = ag.delta_phi(D).numpy()
    lam = np.minimum(np.logaddexp(0, x), 100)
    print(f"w={w}: x q[0,.1,.5,.9,1]", np.round(np.quantile(x, [0, .1, .5, .9, 1]), 1),
          "| rows Q(s,pi_det)>0:", (q > 0).mean().round(3), "median lam", np.median(lam[q > 0]).round(2), "share lam>1", (lam[q > 0] > 1).mean().round(3),
          "| rows Q<-0.01: median lam", np.median(lam[q < -0.01]).round(4), "share lam>1", (lam[q < -0.01] > 1).mean().round(3), flush=True)
