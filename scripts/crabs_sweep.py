"""Resumable CRABS sweep: independent (task, seed) runs as separate processes, one torch thread each.

  PYTHONPATH=src:. python3 -m scripts.crabs_sweep --tasks upright tilt --seeds 0 1 2 --out runs/crabs_sweep \
      --jobs 6 --time-limit 540 --with-sac

Layout of --out:  <task>_s<seed>/{ckpt.pt, log.jsonl, worker.log, result.json, bundle/},  summary.md, summary.json.
Every run checkpoints atomically after each setup stage and each epoch. A rerun with the same --out skips runs whose
result.json exists and resumes the others from their checkpoint. With --time-limit, workers stop cleanly after a
checkpoint when their next unit of work (estimated by its last duration) would not end before the limit; a worker
still running 60 s after the limit is terminated (its last checkpoint stays valid: checkpoints are written atomically).
Exit status: 0 all runs finished, 3 some runs unfinished (rerun to continue), 1 some run failed (see worker.log).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

PAUSED = 3
TASKS = ("upright", "tilt", "move", "swing")


def _atomic_write(path: str, text: str):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------------------------------
# worker: one (task, seed) run
# ----------------------------------------------------------------------------------------------------------------------
def worker(a) -> int:
    import torch
    torch.set_num_threads(1)
    from safe_learners.crabs import Crabs, CrabsConfig, export_crabs_bundle
    from safe_learners.crabs_presets import preset
    from safe_learners.crabs_tasks import make_task
    from safe_learners.sac import SACConfig, run_sac_baseline

    task = make_task(a.task)
    kw = preset(a.preset, **{**task.config_overrides, **({"epochs": a.epochs} if a.epochs is not None else {})})
    learner = Crabs(task, CrabsConfig(seed=a.seed, **kw), log_path=os.path.join(a.run_dir, "log.jsonl"),
                    ckpt_path=os.path.join(a.run_dir, "ckpt.pt"))
    summary = learner.train(deadline=a.deadline)
    if summary is None:
        return PAUSED
    # final audit of the last accepted certificate, export, optional SAC baseline; redone as a whole after a pause
    if a.deadline is not None and time.time() > a.deadline:
        return PAUSED
    t0 = time.time()
    summary["final_audit"] = learner.audit(n_particles=10_000, attack_steps=1000, n_states=100_000)
    summary["final_audit"]["wall_s"] = time.time() - t0
    summary["certificates"] = [
        {"epoch": r.get("epoch", 0), "stage": r.get("stage", "epoch"), "accepted": r.get("certificate", "accepted") == "accepted",
         "cert_steps": r.get("cert_steps"), "attack_failures": r.get("attack_failures"),
         **({"audit": r["audit"]} if "audit" in r else {})}
        for r in learner.records if "cert_steps" in r]
    export_crabs_bundle(learner, os.path.join(a.run_dir, "bundle"), **task.bundle_names)
    summary["preset"], summary["config_overrides"] = a.preset, kw
    summary["phase_s"] = [r.get("phase_s") for r in learner.records if "phase_s" in r]
    if a.with_sac:
        if a.deadline is not None and time.time() > a.deadline:
            return PAUSED
        summary["sac_baseline"] = run_sac_baseline(
            task.make_env, learner.initial_policy, task.n_obs, task.n_act, total_steps=summary["real_steps"],
            penalty=task.violation_penalty, seed=a.seed, learning_starts=min(1000, summary["real_steps"] // 2),
            cfg=SACConfig(log_alpha0=learner.cfg.log_alpha0),
            horizon=task.horizon)
    _atomic_write(os.path.join(a.run_dir, "result.json"), json.dumps(summary, indent=1, default=float))
    return 0


# ----------------------------------------------------------------------------------------------------------------------
# parent: schedule workers, write the summary
# ----------------------------------------------------------------------------------------------------------------------
def run_dir(out, task, seed):
    return os.path.join(out, f"{task}_s{seed}")


def status_of(d):
    if os.path.exists(os.path.join(d, "result.json")):
        return "finished"
    if os.path.exists(os.path.join(d, "failed")):
        return "failed"
    return "started" if os.path.exists(os.path.join(d, "ckpt.pt")) else "new"


def progress(d):
    """Last epoch record of an unfinished run (from its log)."""
    last = None
    try:
        with open(os.path.join(d, "log.jsonl")) as fh:
            for line in fh:
                r = json.loads(line)
                if "epoch" in r and "real_steps" in r:
                    last = r
    except (OSError, ValueError):
        pass
    return last


def write_summary(out, runs):
    rows, js = [], []
    hdr = ("| task | seed | status | epochs | real steps (init/warm-up/explore/eval) | violations (init/warm-up/explore/"
           "eval) | return π_init → final π_ref | certified region | certs accepted/reverted | final audit: attack max U,"
           " invariance rate | wall-clock s | SAC: violations / steps |")
    rows += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for task, seed in runs:
        d = run_dir(out, task, seed)
        st = status_of(d)
        if st == "finished":
            with open(os.path.join(d, "result.json")) as fh:
                r = json.load(fh)
            js.append({"task": task, "seed": seed, "status": st, **r})
            fa, sac = r["final_audit"], r.get("sac_baseline")
            rows.append(
                f"| {task} | {seed} | finished | {r['epochs']} | {r['real_steps']} ({r['init_steps']}/{r['warmup_steps']}/"
                f"{r['explore_steps']}/{r['eval_steps']}) | **{r['violations']}** ({r['init_violations']}/"
                f"{r['warmup_violations']}/{r['explore_violations']}/{r['eval_violations']}) | "
                f"{r['init_return']:.2f} → {r['final_return']:.2f} | {100 * r['certified_region_fraction']:.2f} % | "
                f"{r['accepted']}/{r['reverted']} | {fa['attack_max_U']:.3f}, {fa['invariance_rate']:.4f} | "
                f"{r['wall_s']:.0f} | " + (f"{sac['violations']} / {sac['real_steps']} |" if sac else "– |"))
        else:
            p = progress(d)
            js.append({"task": task, "seed": seed, "status": st, "last_epoch": p})
            ep = f"{p['epoch']} (running)" if p else "setup"
            rows.append(f"| {task} | {seed} | {st} | {ep} | {p['real_steps'] if p else '–'} | "
                        f"{p['violations'] if p else '–'} | – | – | – | – | {p['t'] if p else '–'} | – |")
    _atomic_write(os.path.join(out, "summary.md"), "\n".join(rows) + "\n")
    _atomic_write(os.path.join(out, "summary.json"), json.dumps(js, indent=1, default=float))
    return js


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=["upright", "tilt"], choices=TASKS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", help="sweep folder (required)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=None, help="seconds for this invocation (stops after a checkpoint)")
    ap.add_argument("--with-sac", action="store_true", help="also run the penalised SAC baseline with the same real steps")
    ap.add_argument("--preset", default="sweep")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--retry-failed", action="store_true")
    # worker mode (internal)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--task", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--run-dir", help=argparse.SUPPRESS)
    ap.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return worker(a)
    if not a.out:
        ap.error("--out is required")
    if a.jobs < 1:
        ap.error("--jobs must be >= 1")
    from safe_learners.crabs_presets import preset
    preset(a.preset)   # validates the name before any process starts
    t_start = time.time()
    deadline = None if a.time_limit is None else t_start + a.time_limit
    os.makedirs(a.out, exist_ok=True)
    runs = [(t, s) for t in a.tasks for s in a.seeds]
    todo = []
    for t, s in runs:
        d = run_dir(a.out, t, s)
        os.makedirs(d, exist_ok=True)
        st = status_of(d)
        if st == "failed" and a.retry_failed:
            os.remove(os.path.join(d, "failed")); st = status_of(d)
        print(f"[sweep] {t} seed {s}: {st}", flush=True)
        if st in ("new", "started"):
            todo.append((t, s))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(root, "src"), root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    running: dict = {}
    any_failed = False
    try:
        while todo or running:
            while todo and len(running) < a.jobs and (deadline is None or time.time() < deadline - 5):
                t, s = todo.pop(0)
                d = run_dir(a.out, t, s)
                cmd = [sys.executable, "-m", "scripts.crabs_sweep", "--worker", "--task", t, "--seed", str(s),
                       "--run-dir", d, "--preset", a.preset] + (["--with-sac"] if a.with_sac else []) + \
                      (["--epochs", str(a.epochs)] if a.epochs is not None else []) + \
                      (["--deadline", repr(deadline)] if deadline is not None else [])
                log = open(os.path.join(d, "worker.log"), "a")
                running[(t, s)] = (subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT), log)
                print(f"[sweep] start {t} seed {s} (pid {running[(t, s)][0].pid})", flush=True)
            if not running and todo:   # no time left to start the rest
                break
            time.sleep(1.0)
            for key, (p, log) in list(running.items()):
                rc = p.poll()
                if rc is None and deadline is not None and time.time() > deadline + 60:
                    p.terminate()   # backstop only; the worker normally stops itself after a checkpoint
                    try:
                        rc = p.wait(30)
                    except subprocess.TimeoutExpired:
                        p.kill(); rc = p.wait()
                    rc = PAUSED
                if rc is None:
                    continue
                log.close()
                del running[key]
                d = run_dir(a.out, *key)
                if rc == 0:
                    print(f"[sweep] finished {key[0]} seed {key[1]}", flush=True)
                elif rc == PAUSED:
                    print(f"[sweep] paused {key[0]} seed {key[1]} (time limit; rerun to resume)", flush=True)
                else:
                    any_failed = True
                    _atomic_write(os.path.join(d, "failed"), f"exit status {rc}; see worker.log\n")
                    print(f"[sweep] FAILED {key[0]} seed {key[1]} (exit {rc}); see {d}/worker.log", flush=True)
    finally:
        for p, log in running.values():   # interrupted parent: stop children (checkpoints stay valid)
            p.terminate()
        js = write_summary(a.out, runs)
    print(open(os.path.join(a.out, "summary.md")).read(), flush=True)
    if any_failed or any(r["status"] == "failed" for r in js):
        return 1
    return 0 if all(r["status"] == "finished" for r in js) else PAUSED


if __name__ == "__main__":
    sys.exit(main())
