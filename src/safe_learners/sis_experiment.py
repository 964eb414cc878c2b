"""One resumable SIS-paper experiment run: (Safety-Gym env, method, seed) -> train -> >= 50 evaluation episodes
-> result.json.  Used by scripts/sis_sweep.py, which runs many of these as separate processes.

Methods (Issue 5 / SIS paper Fig. 3): "sis" = FAC-SIS (starts from phi_h, Sec. 5.2), "phi0" / "phih" / "phiF" =
FAC with that fixed index (no step 7), "ppo_lag" = PPO-Lagrangian with cost threshold 0.

Run directory layout (every file written atomically, tmp + os.replace):
  checkpoint.pt   learner state (nets, optimisers, replay buffer, counters, RNG)   -- training resumes from it
  progress.json   counters at the last checkpoint (cheap to read for the sweep's summary)
  train.json      written once training reached its step budget (final counters, zeta)
  eval.jsonl      one evaluation episode per line, appended as each finishes (resumes at the next episode)
  result.json     the run's record; its presence means "finished" (a rerun skips the run)
  .lock           flock'd while a process works on the run (a second sweep on the same DIR skips it)
Stopping: `deadline` (a time.time() value) is checked every env step (training) and between evaluation
episodes; the run then checkpoints and returns "paused".
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time

import numpy as np

from safe_learners.sis_index import PHI_F, TABLE2

FAC_METHODS = {"sis": "phih", "phi0": "phi0", "phih": "phih", "phiF": "phiF"}   # method -> initial/fixed index
METHODS = tuple(FAC_METHODS) + ("ppo_lag",)
SHORT_ENVS = ("Hazard0.15", "Hazard0.30", "Pillar0.15", "Pillar0.25")
EVAL_SEED = 100_000          # evaluation layouts: seeds EVAL_SEED + episode (disjoint from training resets)
# FAC settings for the 0.02-s Safety-Gym tasks on a CPU budget (our departures, measured in RESULTS.md "SIS"):
#  * action_repeat 4: a decision every 0.08 s.  At 0.02 s one action changes the speed by <= 0.012 m/s, so the
#    action gap in Q is below the critic's TD noise; every env step is still counted and checked against eq. 1.
#  * alpha_init 0.01: the goal reward is ~0.02 per env step; at the default alpha = 1 the entropy bonus is ~50x
#    the reward and, at the paper's alpha rate, is still ~0.2 after 30k steps (the policy kept still).
#  * intervals m_pi/m_lam/m_phi = 1/4/8: the paper's 3/12/24 ratios (pi fastest, then lambda, then zeta),
#    with the actor updated on every gradient step.
#  * lr_zeta (3e-4 -> 3e-5): the paper's total zeta travel.  Adam moves a coordinate by about its rate per step,
#    so the rates bound how far zeta can go: Table 4 gives sum beta_zeta = (2e6 / 24) * mean(8e-6 -> 1e-6)
#    ~ 0.375 over the authors' run; here (100k - 20k) env steps / 4 / 8 = 2,500 zeta steps at a mean of ~0.46 x
#    3e-4 ~ 0.35.  The "cpu" preset's 2e-3 let zeta cross the whole box (to the loosest corner) in ~15k steps.
#  * lam_step "logit": projected ascent on the multiplier's logit (sis.FACSIS._lambda_step_logit).
#  * qphi_target_floor -0.05 ([code]: -0.001): Q_phi is the paper's one-step Delta_phi predictor; with the [code]
#    floor every safe action has the same target -0.001, and near hazards the fitted Q_phi was positive for
#    EVERY action of a 7x7 grid while 43 % of them truly satisfied eq. 1 (RESULTS.md "SIS", third stop).
#    -0.05 keeps the spread of the safe side near the boundary; far from hazards Delta_phi = phi(s') ~ -d^n
#    would otherwise set the regression's scale.  The multiplier still ascends on clip(Q_phi, -0.001, inf)
#    (SISConfig.lam_signal_floor): with -0.05 in its signal too, safe states outvoted the rare violating ones
#    and lambda stayed ~0 (run sis_s5).  One seed: evaluation cost 2.04 / ep vs 8.76 with -0.001 (sis_s6, sis_s4).
SAFETY_GYM_FAC = dict(action_repeat=4, alpha_init=0.01, m_pi=1, m_lam=4, m_phi=8, lr_zeta=(3e-4, 3e-5),
                      lam_step="logit", qphi_target_floor=-0.05)


def env_id(name: str) -> str:
    """'Hazard0.30' -> 'SafeShield/PointGoal-Hazard0.30-v0'; full ids pass through."""
    return name if name.startswith("SafeShield/") else f"SafeShield/PointGoal-{name}-v0"


def short_env(name: str) -> str:
    return name.split("-")[1] if name.startswith("SafeShield/") else name


def write_json_atomic(path, obj):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def _read_eval_rows(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:    # a line cut by a kill: that episode is rerun
                    break
    return rows


def _append_eval_row(path, rows, row):
    """Rewrite eval.jsonl atomically with the new row (a killed writer never leaves half a file)."""
    rows = rows + [row]
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, path)
    return rows


@contextlib.contextmanager
def _run_lock(run_dir):
    """Holds the run's flock for the block.  Yields "busy" (another process holds it), "done" (result.json is
    there) or None (go on: this process owns the run)."""
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, ".lock"), "w") as lockf:
        try:
            fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield "busy"
            return
        try:
            yield "done" if os.path.exists(os.path.join(run_dir, "result.json")) else None
        finally:
            fcntl.flock(lockf, fcntl.LOCK_UN)


def _make_learner(method, env_name, seed, run_dir, steps, hidden, sis_start, checkpoint_every, fac=None):
    ck = os.path.join(run_dir, "checkpoint.pt")
    if method == "ppo_lag":
        from safe_learners.ppo_lagrangian import PPOLagConfig, PPOLagrangian
        if os.path.exists(ck):
            return PPOLagrangian.load(ck)
        return PPOLagrangian(PPOLagConfig(env="safety_gym", env_kwargs=dict(env_id=env_id(env_name)), seed=seed,
                                          total_steps=steps, run_dir=run_dir))
    from safe_learners.sis import FACSIS, SISConfig
    if os.path.exists(ck):
        return FACSIS.load(ck)
    cfg = SISConfig(env="safety_gym", env_kwargs=dict(env_id=env_id(env_name)), seed=seed, total_steps=steps,
                    hidden=hidden, sis_start=sis_start, learn_zeta=method == "sis",
                    zeta_init=TABLE2[FAC_METHODS[method]], run_dir=run_dir, checkpoint_every=checkpoint_every,
                    eval_episodes=0, **(SAFETY_GYM_FAC if fac is None else fac))
    return FACSIS(cfg)


def _progress(ag, method, status):
    out = dict(status=status, counters=dict(ag.counters))
    if method != "ppo_lag":
        out["zeta"] = ag.zeta_tuple()
    return out


def _index_set(ag, method):
    """Indices under which eq.-1 violations are counted in evaluation: the method's own ("own"), plus phi_h and
    phi_F as common yardsticks for every method (PPO-Lagrangian has no own index)."""
    idx = {"phih": TABLE2["phih"], "phiF": PHI_F}
    if method != "ppo_lag":
        idx["own"] = ag.zeta_tuple()
    return idx


def run_one(env_name, method, seed, run_dir, *, steps, eval_episodes=50, deadline=None, hidden=256,
            sis_start=None, checkpoint_every=10_000, fac_overrides=None, log=print):
    """Advance one run as far as `deadline` allows.  Returns "done", "paused", "busy" (another process holds it).
    `fac_overrides`: SISConfig fields that replace / extend SAFETY_GYM_FAC for the FAC methods (recorded in
    spec.json as the run's "fac", so a resume with other overrides is refused)."""
    import torch
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    with _run_lock(run_dir) as status:
        if status:
            return status
        torch.set_num_threads(1)
        sis_start = steps // 5 if sis_start is None else sis_start
        fac = dict(SAFETY_GYM_FAC, **(fac_overrides or {}))
        spec = dict(env=short_env(env_name), env_id=env_id(env_name), method=method, seed=seed, steps=steps,
                    eval_episodes=eval_episodes, hidden=hidden, sis_start=sis_start,
                    **({} if method == "ppo_lag" else dict(fac=fac)))
        spec = _claim_spec(run_dir, spec)
        ag = _make_learner(method, env_name, seed, run_dir, steps, hidden, sis_start, checkpoint_every, fac)
        if not _train(ag, method, run_dir, steps, deadline):
            return "paused"
        return _evaluate(ag, method, env_name, run_dir, spec, eval_episodes, deadline, log)


def _claim_spec(run_dir, spec):
    """The run's identity: written on first use; a later call with another spec is refused."""
    spec = json.loads(json.dumps(spec))          # as stored (tuples -> lists), so a resume compares equal
    old = read_json(os.path.join(run_dir, "spec.json"))
    if old is not None and old != spec:
        raise ValueError(f"{run_dir} was started with {old}, not {spec}: use another --out or the same options")
    write_json_atomic(os.path.join(run_dir, "spec.json"), spec)
    return spec


def _train(ag, method, run_dir, steps, deadline):
    """Train to `steps` env steps or the deadline, then checkpoint.  True once the budget is reached."""
    train_path = os.path.join(run_dir, "train.json")
    if os.path.exists(train_path):
        return True
    ag.learn(total_steps=steps, log=lambda s: None, deadline=deadline)
    ag.save(os.path.join(run_dir, "checkpoint.pt"))
    done = ag.counters["env_steps"] >= steps
    write_json_atomic(os.path.join(run_dir, "progress.json"), _progress(ag, method, "trained" if done else "training"))
    if done:
        write_json_atomic(train_path, _progress(ag, method, "trained"))
    return done


def _evaluate(ag, method, env_name, run_dir, spec, eval_episodes, deadline, log):
    """>= eval_episodes deterministic episodes (resumable per episode), then result.json."""
    from safe_learners.sis import ENV_FACTORIES, evaluate_episode
    env = ENV_FACTORIES["safety_gym"](env_id=env_id(env_name))
    eval_path = os.path.join(run_dir, "eval.jsonl")
    rows = _read_eval_rows(eval_path)
    indices = _index_set(ag, method)
    while len(rows) < eval_episodes:
        if deadline is not None and time.time() >= deadline:
            return "paused"
        row = evaluate_episode(env, lambda o: ag.policy_action(o, deterministic=True), EVAL_SEED + len(rows),
                               env.d_min, indices, action_repeat=1 if method == "ppo_lag" else ag.cfg.action_repeat)
        rows = _append_eval_row(eval_path, rows, row)
    train = read_json(os.path.join(run_dir, "train.json"))
    mean = lambda k: float(np.mean([r[k] for r in rows]))          # noqa: E731
    res = dict(spec, train=train["counters"], zeta=train.get("zeta"),
               eval=dict(episodes=len(rows), ep_cost=mean("cost"), ep_cost_steps=mean("cost_steps"),
                         cost_episodes=int(sum(r["cost"] > 0 for r in rows)), ep_return=mean("ret"),
                         **{f"ep_eq1_viol_{k}": mean(f"eq1_viol_{k}") for k in indices},
                         eq1_viol_episodes_own=(int(sum(r["eq1_viol_own"] > 0 for r in rows))
                                                if "own" in indices else None)))
    write_json_atomic(os.path.join(run_dir, "result.json"), res)
    log(json.dumps(res))
    return "done"


def finetune_one(src_dir, run_dir, *, more, fac_overrides, eval_episodes=50, deadline=None, log=print):
    """Continue a finished FAC run (`src_dir`, from run_one) for `more` env steps with SISConfig overrides, in its
    own folder (the source is only read), then evaluate it like run_one.  Resumable like run_one; the spec records
    the source's spec, the overrides and the step count.  The linear rate schedules are spread over the new total,
    so they restart at the value the new total gives for the source's step count (a continuation, not a fresh
    run of that length)."""
    import shutil

    import torch
    from safe_learners.sis import FACSIS
    src_spec = read_json(os.path.join(src_dir, "spec.json"))
    if src_spec is None or not os.path.exists(os.path.join(src_dir, "train.json")):
        raise ValueError(f"{src_dir} is not a finished FAC run (no spec.json / train.json)")
    if src_spec["method"] == "ppo_lag":
        raise ValueError("finetune_one continues FAC runs only")
    with _run_lock(run_dir) as status:
        if status:
            return status
        torch.set_num_threads(1)
        steps = src_spec["steps"] + more
        spec = dict(src_spec, steps=steps, fac=dict(src_spec["fac"], **fac_overrides),
                    finetune=dict(src_dir=os.path.abspath(src_dir), src_steps=src_spec["steps"], more=more,
                                  overrides=fac_overrides), eval_episodes=eval_episodes)
        spec = _claim_spec(run_dir, spec)
        ck = os.path.join(run_dir, "checkpoint.pt")
        if not os.path.exists(ck):
            tmp = f"{ck}.tmp.{os.getpid()}"
            shutil.copyfile(os.path.join(src_dir, "checkpoint.pt"), tmp)
            os.replace(tmp, ck)
        ag = FACSIS.load(ck, total_steps=steps, **fac_overrides)
        if not _train(ag, src_spec["method"], run_dir, steps, deadline):
            return "paused"
        return _evaluate(ag, src_spec["method"], src_spec["env"], run_dir, spec, eval_episodes, deadline, log)
