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


def test_region_fraction_of_a_tiny_4d_region_uses_the_region_box_and_stays_unbiased():
    """C_h of Move is ~1e-4 of its 4-D box: rejection sampling from the whole box cannot reach 1e4 particles, so the
    sampler switches to the code's StateBox (1.5x the extent of C_h); the fraction is rescaled by the volume ratio."""
    from safe_learners.crabs import sample_in_region
    from safe_learners.crabs_tasks import cartpole_task
    task = cartpole_task("move")
    c = torch.as_tensor(task.s0) + 0.03 * torch.as_tensor(task.box_high)   # s0 inside, as for any h
    half = torch.as_tensor((task.box_high - task.box_low) / 2)
    r = 0.1
    h = lambda s: r ** 2 - (((s - c) / half) ** 2).sum(-1)          # ball of radius r in unit-box coordinates
    exact = math.pi ** 2 / 2 * r ** 4 / 2 ** 4                       # 4-ball volume / box volume
    s, frac = sample_in_region(task, h, 20_000, torch.Generator().manual_seed(0))
    assert exact < 1e-3 and len(s) == 20_000 and bool((h(s) >= 0).all())
    assert frac == pytest.approx(exact, rel=0.05)
    assert float(((s - c) / half).norm(dim=-1).max()) > 0.95 * r  # it reaches the region's edge


def test_move_lyapunov_initial_region_is_nearly_invariant_in_the_true_simulator():
    """Move (4-D): the initial C_h shape decides whether pre-training can certify pi_init. The Lyapunov sublevel set
    of the learned closed loop is (almost) invariant for the real MuJoCo dynamics; the warm-up-data ellipsoid is not."""
    from safe_learners.crabs import invariance_rate
    from safe_learners.crabs_tasks import cartpole_task
    task = cartpole_task("move")
    small = dict(warmup_episodes=2, model_warmup_steps=600, init_bc_steps=800, init_region_steps=1500)
    rates = {}
    for shape in ("lyapunov", "ellipsoid"):
        learner = Crabs(task, CrabsConfig(seed=0, **{**QUICK, **task.config_overrides, **small,
                                                     "init_region_shape": shape}), verbose=False)
        learner.setup_warm()
        assert learner.real_steps == learner.counts["init_steps"] + learner.counts["warmup_steps"] == 3000
        inv = invariance_rate(task, learner.h, learner.policy.mean_action, torch.Generator().manual_seed(0), 5000)
        assert inv["region_fraction"] > 0 and inv["next_safe_rate"] == 1.0
        rates[shape] = inv["invariance_rate"]
    assert rates["lyapunov"] >= 0.95 and rates["ellipsoid"] < rates["lyapunov"] - 0.05, rates   # measured 0.98 vs 0.79
