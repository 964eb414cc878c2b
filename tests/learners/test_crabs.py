"""CRABS learner: unit checks from the digest (Sec. 8) and the CI quick mode (Pendulum Upright, one epoch) with
export to a barrier bundle and a closed-loop shield test."""
import math

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

from safe_learners.crabs import (Barrier, Crabs, CrabsConfig, GaussianEnsemble, b_safe, export_crabs_bundle,
                                 worst_case_U)
from safe_learners.crabs_presets import preset
from safe_learners.crabs_tasks import pendulum_task

QUICK = preset("quick")


def test_h_s0_is_one_minus_ln2_minus_bsafe_and_negative_on_unsafe_grid():
    task = pendulum_task("upright")
    h = Barrier(task, 32)
    s0 = torch.as_tensor(task.s0)[None]
    b0 = float(b_safe(s0, h.c_idx, h.c_lb, h.c_ub)[0])
    assert abs(float(h(s0)[0].detach()) - (1 - math.log(2) - b0)) < 1e-6
    th = torch.cat([torch.linspace(-3.1, -1.5001, 200), torch.linspace(1.5001, 3.1, 200)])
    grid = torch.stack(torch.meshgrid(th, torch.linspace(-8, 8, 50), indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        for _ in range(3):   # any f: R.2 holds by construction
            for p in h.parameters():
                p.normal_(0, 3)
            assert (h(grid) < 0).all()


def test_bsafe_code_form_values():
    idx, lb, ub = torch.tensor([0]), torch.tensor([-1.5]), torch.tensor([1.5])
    B = lambda th: float(b_safe(torch.tensor([[th, 0.0]]), idx, lb, ub)[0])
    assert abs(B(0.0)) < 1e-6 and abs(B(1.5) - 1) < 1e-5 and abs(B(-1.5) - 1) < 1e-5
    assert B(1.5 + 1e-3) > 1.0 and abs((B(1.51) - 1) / (0.01 / 1.5) - 2 / (0.01 * 2.01)) < 1e-2


def test_tilt_limit_is_equilibrium_at_full_torque():
    assert abs(15 * math.sin(-0.41151684) + 3 * 2.0) < 1e-6


def test_worst_case_U_is_max_over_member_means():
    task = pendulum_task("upright")
    h, model = Barrier(task, 16), GaussianEnsemble(2, 1, 5, 16, 2)
    s, a = torch.randn(7, 2) * 0.3, torch.rand(7, 1) * 2 - 1
    with torch.no_grad():
        U = worst_case_U(h, model, s, a)
        per = torch.stack([-h(model.means(s, a)[k]) for k in range(5)])
    assert torch.allclose(U, per.max(0).values)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("crabs")
    learner = Crabs(pendulum_task("upright"), CrabsConfig(seed=0, **QUICK), log_path=str(d / "log.jsonl"),
                    ckpt_path=str(d / "ckpt.pt"), verbose=False)
    summary = learner.train()
    return learner, summary, d


def test_quick_mode_zero_violations_nonempty_certified_region(quick_run):
    learner, summary, _ = quick_run
    assert summary["violations"] == 0
    assert summary["real_steps"] == (summary["init_steps"] + summary["warmup_steps"] + summary["explore_steps"]
                                     + summary["eval_steps"]) > 0
    assert summary["certified_region_fraction"] > 0
    audit = learner.audit(n_particles=10_000, attack_steps=30, n_states=20_000)
    assert audit["n_states"] == 20_000 and audit["next_safe_rate"] == 1.0


def test_final_return_is_the_accepted_policy_rolled_out_from_s0_like_pi_init(quick_run):
    """Returns are compared on the same footing: one roll-out from s0, same env and horizon, for pi_init and the
    final accepted pi_ref; both roll-outs are counted real steps."""
    learner, summary, _ = quick_run
    env = learner.task.make_env()

    def rollout(pol):
        obs, _ = env.reset()
        ret = 0.0
        for _ in range(learner.task.horizon):
            with torch.no_grad():
                a = pol.mean_action(torch.as_tensor(obs)[None])[0].numpy()
            obs, r, term, _, _ = env.step(a)
            ret += r
            if term:
                break
        return ret

    assert summary["init_return"] == pytest.approx(rollout(learner.initial_policy), abs=1e-9)
    assert summary["final_return"] == pytest.approx(rollout(learner.accepted["policy"]), abs=1e-9)
    assert -learner.task.horizon * 1.5 ** 2 <= summary["final_return"] <= 0.0


def test_train_stops_before_a_unit_that_cannot_meet_the_deadline(tmp_path):
    import time
    learner = Crabs(pendulum_task("upright"), CrabsConfig(seed=0, **QUICK), ckpt_path=str(tmp_path / "ckpt.pt"),
                    verbose=False)
    assert learner.train(deadline=time.time() - 1.0) is None
    assert learner.real_steps == 0 and not (tmp_path / "ckpt.pt").exists()


def test_resume_from_checkpoint_continues_counts(quick_run):
    learner, summary, d = quick_run
    again = Crabs(pendulum_task("upright"), CrabsConfig(seed=0, **QUICK), ckpt_path=str(d / "ckpt.pt"),
                  verbose=False)
    s2 = again.train()   # already finished: loads and returns without new steps
    assert s2["real_steps"] == summary["real_steps"] and s2["violations"] == summary["violations"]
    with torch.no_grad():
        x = torch.randn(100, 2)
        assert torch.equal(again.accepted["h"](x), learner.accepted["h"](x))


def test_export_and_shield_closed_loop_keeps_pendulum_safe(quick_run):
    from safe_shield.shield import Shield
    from sim.pendulum import PendulumEnv
    learner, _, d = quick_run
    export_crabs_bundle(learner, d / "bundle")
    shield = Shield.from_bundle(d / "bundle")
    rng = np.random.default_rng(1)
    env = PendulumEnv("upright")
    unsafe, decisions = 0, 0
    for ep in range(100):
        obs, _ = env.reset()
        for t in range(200):
            u_cmd = (rng.uniform(-1, 1, 1) if ep % 2 == 0 else np.array([1.0 if (t // 10) % 2 else -1.0]))
            u, dec = shield.decide(obs, u_cmd.astype(np.float32), t * 0.05, t * 0.05)
            obs, _, term, _, info = env.step(u)
            unsafe += info["unsafe"]
            decisions += 1
            if term:
                break
    assert decisions == 100 * 200 and unsafe == 0
