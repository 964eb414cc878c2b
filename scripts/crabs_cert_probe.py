"""Probe Alg.-1 certificate pre-training on one task: every N/10 steps print the certified-region fraction, the share of
uniform C_h states that are model / true-simulator counterexamples (U > -eps_m, resp. h(T_true(s, pi(s))) < eps_m),
the max U on them, the chains' counterexamples per step and the MALA acceptance. The diagnosis tool behind the Move
figures in RESULTS.md "CRABS".

  PYTHONPATH=src:. python -m scripts.crabs_cert_probe --task move --steps 2000 --margin 0.05 \
      --set init_region_shape=lyapunov init_lyap_level=0.5 init_region_steps=3000 h_lr_pretrain=3e-4

The warm-up stage (pi_init, warm-up data, model, initial C_h) of the `quick` preset is cached in --warm; --set
overrides CrabsConfig fields (init_* fields re-fit the initial shape on the cached model).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

torch.set_num_threads(1)

from safe_learners.crabs import Barrier, Crabs, CrabsConfig, sample_in_region, worst_case_U
from safe_learners.crabs_presets import preset
from safe_learners.crabs_tasks import make_task


def parse_overrides(items):
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        if k not in CrabsConfig.__dataclass_fields__:
            raise SystemExit(f"unknown CrabsConfig field {k!r}")
        default = CrabsConfig.__dataclass_fields__[k].default
        out[k] = v if isinstance(default, str) else type(default)(v)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="move")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--margin", type=float, default=0.05)
    ap.add_argument("--warm", default="runs/cert_probe_warm.pt")
    ap.add_argument("--set", nargs="*", default=[])
    a = ap.parse_args()
    task = make_task(a.task)
    over = parse_overrides(a.set)
    learner = Crabs(task, CrabsConfig(seed=0, **preset("quick", **over)), verbose=False)
    if os.path.exists(a.warm):
        learner.load(a.warm)
        for k, v in over.items():
            setattr(learner.cfg, k, v)
        if any(k.startswith("init_") for k in over):
            learner.h = Barrier(task, learner.cfg.f_hidden)
            learner.init_certificate_shape()
    else:
        os.makedirs(os.path.dirname(a.warm) or ".", exist_ok=True)
        learner.setup_warm()
        learner.save(a.warm)
    cfg = learner.cfg
    learner.opt_h = torch.optim.Adam(learner.h.parameters(), lr=cfg.h_lr_pretrain, weight_decay=cfg.h_wd)
    pi = learner.policy.mean_action
    U_fn = lambda s: learner.U(s, pi(s))
    gen = torch.Generator().manual_seed(1)

    def probe():
        s, frac = sample_in_region(task, learner.h, 5000, gen, max_draws=200)
        with torch.no_grad():
            act = pi(s)
            U = worst_case_U(learner.h, learner.model, s, act)
            h_true = learner.h(torch.as_tensor(task.true_step(s.numpy(), act.numpy())))
        return frac, float((U > -a.margin).float().mean()), float((h_true < a.margin).float().mean()), float(U.max())

    t0 = time.time()
    for _ in range(cfg.cert_warmup_mala):
        learner.mala.step(U_fn, learner.h)
    accs, n_ws, streak, best = [], [], 0, 0
    for i in range(a.steps + 1):
        if i % max(1, a.steps // 10) == 0:
            frac, model_cex, true_cex, max_U = probe()
            print(f"step {i:5d} t={time.time() - t0:6.1f}s region={frac:.5f} model_cex={model_cex:.3f} "
                  f"true_cex={true_cex:.3f} maxU={max_U:+.3f} chain_cex/step={np.mean(n_ws) if n_ws else 0:.1f} "
                  f"acc={np.mean(accs) if accs else 0:.2f} best_clean_streak={best}", flush=True)
            accs, n_ws = [], []
        n_w, acc, _ = learner.cert_step(a.margin, use_reg=False)
        streak = 0 if n_w else streak + 1
        best = max(best, streak)
        accs.append(acc); n_ws.append(n_w)


if __name__ == "__main__":
    main()
