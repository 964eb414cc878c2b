"""Resumable sweep of SIS-paper runs (Issue 5): envs x methods x seeds, each run a separate process with one
torch thread; rerunning with the same --out resumes unfinished runs and skips finished ones.

  PYTHONPATH=src:. python scripts/sis_sweep.py --envs Hazard0.15 Hazard0.30 Pillar0.15 Pillar0.25 \
      --methods sis phi0 phih ppo_lag --seeds 0 1 2 --out runs/sis_sweep --jobs 16 --time-limit 600 --steps 100000

--time-limit SECONDS: every worker checkpoints and exits before the limit (training stops at the next env step,
evaluation between episodes); no new run starts in the last --min-slot seconds.  Without it, runs go to the end.
--summary-only: just rewrite DIR/summary.{md,json} from what is on disk.
--from SRC --more N: continue each finished FAC run SRC/<env>/<method>/seed<k> for N more env steps with
--fac-overrides, into --out (safe_learners.sis_experiment.finetune_one; SRC is only read).
Per run (DIR/<env>/<method>/seed<k>/, see safe_learners.sis_experiment): checkpoint.pt, progress.json,
train.json, eval.jsonl, result.json, worker.log.  DIR/summary.md is the per method x env x seed table.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "src"), os.path.join(HERE, "..")]

from safe_learners.sis_experiment import (METHODS, SHORT_ENVS, finetune_one, read_json, run_one,  # noqa: E402
                                          short_env, write_json_atomic)

SAVE_MARGIN_S = 45       # a worker stops this long before the sweep's limit: checkpoint (buffer) + exit


def run_dir(out, env, method, seed):
    return os.path.join(out, short_env(env), method, f"seed{seed}")


def _fmt(x, f="{:.2f}"):
    return "–" if x is None else f.format(x)


def summarise(out, envs, methods, seeds):
    """DIR/summary.json (all records) and DIR/summary.md (the table), from result/progress files on disk."""
    rows = []
    for env in envs:
        for m in methods:
            for s in seeds:
                rd = run_dir(out, env, m, s)
                res = read_json(os.path.join(rd, "result.json"))
                if res is not None:
                    rows.append(dict(status="done", **res))
                    continue
                prog = read_json(os.path.join(rd, "progress.json")) or {}
                ev = os.path.join(rd, "eval.jsonl")
                n_eval = sum(1 for _ in open(ev)) if os.path.exists(ev) else 0
                rows.append(dict(status=prog.get("status", "not started") + (f", eval {n_eval}" if n_eval else ""),
                                 env=short_env(env), method=m, seed=s, train=prog.get("counters"),
                                 zeta=prog.get("zeta")))
    write_json_atomic(os.path.join(out, "summary.json"), rows)
    head = ("| env | method | seed | status | train steps | train cost steps | train eq.-1 viol. | train wall s "
            "| eval ep. | eval cost / ep. | eval episodes with cost | eval eq.-1 viol. / ep. (own index) "
            "| eval eq.-1 viol. / ep. (φh) | eval return / ep. | ζ (σ, n, k) |\n" + "|---" * 15 + "|\n")
    lines = []
    for r in rows:
        t, e = r.get("train") or {}, r.get("eval") or {}
        z = r.get("zeta")
        lines.append("| " + " | ".join([
            r["env"], r["method"], str(r["seed"]), r["status"], str(t.get("env_steps", "–")),
            str(t.get("cost_steps", "–")), str(t.get("eq1_violations", "–")), _fmt(t.get("wall_s"), "{:.0f}"),
            str(e.get("episodes", "–")), _fmt(e.get("ep_cost"), "{:.3f}"), str(e.get("cost_episodes", "–")),
            _fmt(e.get("ep_eq1_viol_own")), _fmt(e.get("ep_eq1_viol_phih")), _fmt(e.get("ep_return")),
            "–" if z is None else "(" + ", ".join(f"{v:.3f}" for v in z) + ")"]) + " |")
    tmp = os.path.join(out, f"summary.md.tmp.{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(head + "\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(out, "summary.md"))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envs", nargs="+", default=list(SHORT_ENVS))
    ap.add_argument("--methods", nargs="+", default=["sis", "phi0", "phih", "ppo_lag"], choices=METHODS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--min-slot", type=float, default=90.0, help="do not start a run with less time left")
    ap.add_argument("--steps", type=int, default=100_000, help="env steps per run (PPO-L: whole 2048-step epochs)")
    ap.add_argument("--eval-episodes", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=256, help="FAC hidden width (Table 4: 256); PPO-L keeps 2x64")
    ap.add_argument("--sis-start", type=int, default=None, help="env step at which ζ starts moving (default steps/5)")
    ap.add_argument("--checkpoint-every", type=int, default=10_000)
    ap.add_argument("--fac-overrides", type=json.loads, default=None,
                    help="JSON of SISConfig fields replacing/extending sis_experiment.SAFETY_GYM_FAC (FAC methods)")
    ap.add_argument("--from", dest="from_dir", default=None, help="continue the finished FAC runs of this sweep DIR")
    ap.add_argument("--more", type=int, default=None, help="with --from: env steps added to each run")
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)      # internal: JSON spec of one run
    a = ap.parse_args()

    if a.worker:
        w = json.loads(a.worker)
        if w.get("from_dir"):
            st = finetune_one(run_dir(w["from_dir"], w["env"], w["method"], w["seed"]), w["run_dir"], more=w["more"],
                              fac_overrides=w.get("fac_overrides") or {}, eval_episodes=w["eval_episodes"],
                              deadline=w["deadline"])
            print(f"[worker] {w['run_dir']}: {st}", flush=True)
            return
        st = run_one(w["env"], w["method"], w["seed"], w["run_dir"], steps=w["steps"],
                     eval_episodes=w["eval_episodes"], deadline=w["deadline"], hidden=w["hidden"],
                     sis_start=w["sis_start"], checkpoint_every=w["checkpoint_every"],
                     fac_overrides=w.get("fac_overrides"))
        print(f"[worker] {w['run_dir']}: {st}", flush=True)
        return
    if a.jobs < 1 or a.steps < 1 or a.eval_episodes < 1:
        ap.error("--jobs, --steps and --eval-episodes must be >= 1")
    if (a.from_dir is None) != (a.more is None) or (a.more is not None and a.more < 1):
        ap.error("--from and --more go together, with --more >= 1")
    if a.from_dir is not None and "ppo_lag" in a.methods:
        ap.error("--from continues FAC runs: leave ppo_lag out of --methods")
    os.makedirs(a.out, exist_ok=True)
    if a.summary_only:
        summarise(a.out, a.envs, a.methods, a.seeds)
        print(open(os.path.join(a.out, "summary.md")).read())
        return
    t0 = time.time()
    deadline = None if a.time_limit is None else t0 + a.time_limit - SAVE_MARGIN_S
    todo = [(e, m, s) for s in a.seeds for e in a.envs for m in a.methods
            if not os.path.exists(os.path.join(run_dir(a.out, e, m, s), "result.json"))]
    print(f"[sweep] {len(todo)} unfinished runs, {a.jobs} jobs, limit {a.time_limit}", flush=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(HERE, "..", "src"), os.path.join(HERE, ".."),
                                         env.get("PYTHONPATH", "")])
    running = {}
    while todo or running:
        while todo and len(running) < a.jobs:
            if a.time_limit is not None and time.time() > t0 + a.time_limit - max(a.min_slot, SAVE_MARGIN_S + 15):
                print(f"[sweep] time limit near: {len(todo)} runs not started this call", flush=True)
                todo = []
                break
            e, m, s = todo.pop(0)
            rd = run_dir(a.out, e, m, s)
            os.makedirs(rd, exist_ok=True)
            spec = dict(env=e, method=m, seed=s, run_dir=rd, steps=a.steps, eval_episodes=a.eval_episodes,
                        deadline=deadline, hidden=a.hidden, sis_start=a.sis_start,
                        checkpoint_every=a.checkpoint_every, fac_overrides=a.fac_overrides,
                        from_dir=a.from_dir, more=a.more)
            log = open(os.path.join(rd, "worker.log"), "a")
            running[subprocess.Popen([sys.executable, os.path.abspath(__file__), "--out", a.out, "--worker",
                                      json.dumps(spec)], stdout=log, stderr=subprocess.STDOUT, env=env)] = (rd, log)
        time.sleep(1.0)
        for p in [p for p in running if p.poll() is not None]:
            rd, log = running.pop(p)
            log.close()
            try:
                tail = open(os.path.join(rd, "worker.log")).read().strip().splitlines()[-1]
            except (OSError, IndexError):
                tail = "(no worker output)"
            print(f"[sweep] rc={p.returncode} {rd}: {tail}", flush=True)
    rows = summarise(a.out, a.envs, a.methods, a.seeds)
    n_done = sum(r["status"] == "done" for r in rows)
    print(f"[sweep] {n_done}/{len(rows)} runs finished; wall {time.time() - t0:.0f} s; table: "
          f"{os.path.join(a.out, 'summary.md')}", flush=True)


if __name__ == "__main__":
    main()
