"""The SIS sweep: a run stopped by its deadline resumes from its checkpoint and finishes with exactly the
step budget and evaluation episodes asked for; finished runs are skipped; the summary table covers every run."""
import json
import os
import subprocess
import sys
import time

import pytest

pytest.importorskip("mujoco")
pytest.importorskip("torch")

from safe_learners.sis_experiment import env_id, finetune_one, read_json, run_one, short_env

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_env_names():
    assert env_id("Hazard0.15") == "SafeShield/PointGoal-Hazard0.15-v0"
    assert short_env(env_id("Pillar0.25")) == "Pillar0.25"


def test_run_pauses_at_deadline_then_resumes_and_finishes(tmp_path):
    rd = str(tmp_path / "run")
    kw = dict(steps=3000, eval_episodes=2, hidden=32, checkpoint_every=500, log=lambda s: None)
    # a deadline in the past: nothing is trained, but the run is checkpointed and reported as paused
    assert run_one("Hazard0.30", "phi0", 0, rd, deadline=time.time() - 1, **kw) == "paused"
    assert read_json(os.path.join(rd, "progress.json"))["counters"]["env_steps"] == 0
    assert os.path.exists(os.path.join(rd, "checkpoint.pt")) and not os.path.exists(os.path.join(rd, "result.json"))
    # short deadlines stop training part way; each call continues from the last checkpoint
    seen = []
    while run_one("Hazard0.30", "phi0", 0, rd, deadline=time.time() + 2.0, **kw) == "paused":
        seen.append(read_json(os.path.join(rd, "progress.json"))["counters"]["env_steps"])
        assert len(seen) < 60
    assert seen == sorted(seen) and any(0 < s < 3000 for s in seen)
    res = read_json(os.path.join(rd, "result.json"))
    assert res["train"]["env_steps"] == 3000 and res["eval"]["episodes"] == 2
    assert {"ep_cost", "ep_return", "ep_eq1_viol_own", "ep_eq1_viol_phih"} <= set(res["eval"])
    assert res["zeta"] == [0.0, 1.0, 0.0]                       # FAC-phi0: the index never moves
    # finished: a rerun does nothing, and different options for the same directory are refused
    mtime = os.path.getmtime(os.path.join(rd, "result.json"))
    assert run_one("Hazard0.30", "phi0", 0, rd, **kw) == "done"
    assert os.path.getmtime(os.path.join(rd, "result.json")) == mtime
    other = str(tmp_path / "other")
    assert run_one("Hazard0.30", "phi0", 0, other, deadline=time.time() - 1, **kw) == "paused"
    with pytest.raises(ValueError, match="started with"):
        run_one("Hazard0.30", "phi0", 0, other, deadline=time.time() - 1, **dict(kw, steps=999))
    with pytest.raises(ValueError, match="started with"):       # FAC overrides are part of the run's identity
        run_one("Hazard0.30", "phi0", 0, other, deadline=time.time() - 1, fac_overrides={"lam_max": 10.0}, **kw)


@pytest.mark.parametrize("method", ["sis", "ppo_lag"])
def test_a_copied_run_resumes_in_its_new_folder_and_leaves_the_original_alone(tmp_path, method):
    # a checkpoint records the folder it was written in; a resumed run must write where it is now
    import shutil
    kw = dict(steps=1200, eval_episodes=1, hidden=32, checkpoint_every=400, log=lambda s: None)
    original, copy = str(tmp_path / "original"), str(tmp_path / "copy")
    assert run_one("Hazard0.30", method, 0, original, deadline=time.time() - 1, **kw) == "paused"
    shutil.copytree(original, copy)
    before = {f: os.path.getmtime(os.path.join(original, f)) for f in os.listdir(original)}
    assert run_one("Hazard0.30", method, 0, copy, **kw) == "done"
    assert {f: os.path.getmtime(os.path.join(original, f)) for f in os.listdir(original)} == before
    assert read_json(os.path.join(copy, "result.json"))["train"]["env_steps"] >= 1200  # PPO-L: whole batches
    with open(os.path.join(copy, "log.jsonl")) as f:
        assert f.read().strip()


def test_fac_overrides_reach_the_learner_and_the_spec(tmp_path):
    import torch
    rd = str(tmp_path / "ov")
    kw = dict(steps=1000, eval_episodes=1, hidden=32, checkpoint_every=500, log=lambda s: None)
    assert run_one("Hazard0.30", "sis", 0, rd, deadline=time.time() - 1, fac_overrides={"lam_max": 7.0}, **kw) == "paused"
    spec = read_json(os.path.join(rd, "spec.json"))
    assert spec["fac"]["lam_max"] == 7.0 and spec["fac"]["action_repeat"] == 4     # the rest of SAFETY_GYM_FAC kept
    assert torch.load(os.path.join(rd, "checkpoint.pt"), weights_only=False)["cfg"]["lam_max"] == 7.0


def test_finetune_continues_a_finished_run_in_its_own_folder_with_the_overrides(tmp_path):
    import torch
    kw = dict(eval_episodes=1, hidden=32, checkpoint_every=400, log=lambda s: None)
    src, ft = str(tmp_path / "src"), str(tmp_path / "ft")
    with pytest.raises(ValueError, match="not a finished FAC run"):
        finetune_one(src, ft, more=400, fac_overrides={"lam_floor": 10.0}, eval_episodes=1, log=lambda s: None)
    assert run_one("Hazard0.30", "sis", 0, src, steps=800, **kw) == "done"
    before = {f: os.path.getmtime(os.path.join(src, f)) for f in os.listdir(src)}
    # paused at once, then resumed from its own checkpoint
    ft_kw = dict(more=400, fac_overrides={"lam_floor": 10.0}, eval_episodes=1, log=lambda s: None)
    assert finetune_one(src, ft, deadline=time.time() - 1, **ft_kw) == "paused"
    assert finetune_one(src, ft, **ft_kw) == "done"
    assert {f: os.path.getmtime(os.path.join(src, f)) for f in os.listdir(src)} == before     # source untouched
    res = read_json(os.path.join(ft, "result.json"))
    assert res["train"]["env_steps"] == 1200 and res["steps"] == 1200 and res["eval"]["episodes"] == 1
    assert res["fac"]["lam_floor"] == 10.0 and res["finetune"]["src_steps"] == 800
    cfg = torch.load(os.path.join(ft, "checkpoint.pt"), weights_only=False)["cfg"]
    assert cfg["lam_floor"] == 10.0 and cfg["total_steps"] == 1200
    ft2 = ft + "2"                                              # other overrides for a started folder: refused
    assert finetune_one(src, ft2, deadline=time.time() - 1, **ft_kw) == "paused"
    with pytest.raises(ValueError, match="started with"):
        finetune_one(src, ft2, deadline=time.time() - 1, **dict(ft_kw, fac_overrides={"lam_floor": 3.0}))


def test_sweep_script_runs_processes_skips_finished_and_writes_table(tmp_path):
    out = str(tmp_path / "sweep")
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "sis_sweep.py"), "--envs", "Pillar0.15",
           "--methods", "phih", "ppo_lag", "--seeds", "3", "--out", out, "--jobs", "2", "--steps", "400",
           "--eval-episodes", "1", "--hidden", "32"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "src"), ROOT]))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "2/2 runs finished" in p.stdout
    rows = json.load(open(os.path.join(out, "summary.json")))
    assert {(r["method"], r["status"]) for r in rows} == {("phih", "done"), ("ppo_lag", "done")}
    assert "| Pillar0.15 | ppo_lag | 3 | done |" in open(os.path.join(out, "summary.md")).read()
    p2 = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p2.returncode == 0 and "0 unfinished runs" in p2.stdout
