"""Run CRABS on a pendulum task for one seed (+ the penalised SAC baseline with the same real-step budget), audit
the last accepted certificate, export the barrier bundle. Resumes from <out>/ckpt.pt after an interruption.
For several tasks x seeds in parallel, resumable in time-limited chunks, use scripts/crabs_sweep.py.

  PYTHONPATH=$PWD/src:$PWD python scripts/crabs_run.py --task upright --seed 0 --preset medium --out runs/crabs_upright_s0
"""
import argparse
import json
import os
import time

import torch

torch.set_num_threads(1)

from safe_learners.crabs import Crabs, CrabsConfig, export_crabs_bundle
from safe_learners.crabs_presets import PRESETS
from safe_learners.crabs_tasks import make_task
from safe_learners.sac import SACConfig, run_sac_baseline

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="upright", choices=["upright", "tilt", "move", "swing"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="medium", choices=list(PRESETS))
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-sac", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    task = make_task(a.task)
    kw = {**PRESETS[a.preset], **task.config_overrides}
    if a.epochs is not None:
        kw["epochs"] = a.epochs
    learner = Crabs(task, CrabsConfig(seed=a.seed, **kw), log_path=os.path.join(a.out, "log.jsonl"),
                    ckpt_path=os.path.join(a.out, "ckpt.pt"))
    summary = learner.train()
    t0 = time.time()
    summary["audit"] = learner.audit(n_particles=10_000, attack_steps=1000, n_states=100_000)
    summary["audit"]["wall_s"] = time.time() - t0
    export_crabs_bundle(learner, os.path.join(a.out, "bundle"), **task.bundle_names)
    summary["preset"], summary["cmd_preset"] = a.preset, kw
    if not a.no_sac:
        summary["sac_baseline"] = run_sac_baseline(
            task.make_env, learner.initial_policy, task.n_obs, task.n_act, total_steps=summary["real_steps"],
            penalty=task.violation_penalty, seed=a.seed, learning_starts=min(1000, summary["real_steps"] // 2),
            cfg=SACConfig(log_alpha0=learner.cfg.log_alpha0),
            horizon=task.horizon)
    with open(os.path.join(a.out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1, default=float)
    print(json.dumps(summary, default=float))
