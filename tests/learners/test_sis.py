"""SIS (FAC-SIS) tests: index algebra, gradients, the App. E.2 environment, validity check, synthesis, training loop."""
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from safe_learners.sis_index import (PHI_0, PHI_F, PHI_H, PHI_SIS_PAPER, ZETA_HIGH, ZETA_LOW, delta_phi_np,
                                     delta_phi_torch, phi_max_np, phi_np)
from safe_learners import sis_unicycle as U
from safe_learners.validity import action_grid, infeasible_fraction, infeasible_mask

torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------- index algebra
def test_phi_hand_values():
    # phi_h at d = 1, ddot = -1, d_min = 0.5: 0.3 + 0.25 - 1 + 1 = 0.55
    assert phi_np([1.0], [-1.0], PHI_H, 0.5)[0] == pytest.approx(0.55)
    # phi_0 = d_min - d
    assert phi_np([0.8], [5.0], PHI_0, 0.5)[0] == pytest.approx(-0.3)


def test_delta_phi_cases():
    z = PHI_H
    # phi(s) > 0: need phi(s') < phi(s); here phi(s') - phi(s)
    d, dd, d2, dd2 = [1.0], [-1.0], [0.95], [-0.9]
    expect = phi_np(d2, dd2, z, 0.5)[0] - phi_np(d, dd, z, 0.5)[0]
    assert delta_phi_np(d, dd, d2, dd2, z, 0.5) == pytest.approx(expect)
    # phi(s) <= 0: need phi(s') < 0; Delta_phi = phi(s')
    d, dd, d2, dd2 = [2.0], [0.0], [1.9], [-0.5]
    assert phi_np(d, dd, z, 0.5)[0] < 0
    assert delta_phi_np(d, dd, d2, dd2, z, 0.5) == pytest.approx(phi_np(d2, dd2, z, 0.5)[0])
    # eta_D shifts the required decrease when phi(s) > eta
    d, dd = [1.0], [-1.0]
    assert delta_phi_np(d, dd, d, dd, z, 0.5, eta_d=0.1) == pytest.approx(0.1)


def test_max_over_obstacles():
    d = np.array([[2.0, 0.7]])
    dd = np.array([[-4.0, 0.0]])
    per = phi_np(d, dd, PHI_H, 0.5)
    assert phi_max_np(d, dd, PHI_H, 0.5)[0] == pytest.approx(per.max())
    assert per.argmax() == 0          # the far but fast-approaching obstacle dominates
    t = [torch.tensor(x) for x in (d, dd, d * 0.9, dd)]
    got = delta_phi_torch(*t, *[torch.tensor(v, dtype=torch.float64) for v in PHI_H], 0.5)
    assert got.item() == pytest.approx(float(delta_phi_np(d, dd, d * 0.9, dd, PHI_H, 0.5)[0]))


def test_torch_numpy_agree_random():
    rng = np.random.default_rng(0)
    d, d2 = rng.uniform(0.1, 3, (64, 3)), rng.uniform(0.1, 3, (64, 3))
    dd, dd2 = rng.normal(size=(64, 3)), rng.normal(size=(64, 3))
    for z in (PHI_H, PHI_F, PHI_SIS_PAPER, (0.2, 1.3, 0.6)):
        zt = [torch.tensor(v, dtype=torch.float64) for v in z]
        got = delta_phi_torch(*(torch.tensor(x) for x in (d, dd, d2, dd2)), *zt, 0.5, 0.05).numpy()
        np.testing.assert_allclose(got, delta_phi_np(d, dd, d2, dd2, z, 0.5, 0.05), rtol=1e-10, atol=1e-12)


def test_grad_zeta_matches_finite_differences():
    """grad_zeta J, J = mean([Delta_phi]_+) (eq. 4), autograd vs central differences (the App. E.3 closed form is
    wrong in n: d(d^n)/dn = d^n ln d)."""
    rng = np.random.default_rng(1)
    B, m = 256, 2
    d, d2 = rng.uniform(0.3, 2.5, (B, m)), rng.uniform(0.3, 2.5, (B, m))
    dd, dd2 = rng.normal(size=(B, m)), rng.normal(size=(B, m))
    z0 = np.array([0.2, 1.4, 0.8])

    def J(z):
        return np.maximum(delta_phi_np(d, dd, d2, dd2, tuple(z), 0.5), 0).mean()

    zt = torch.tensor(z0, requires_grad=True)
    j = torch.clamp(delta_phi_torch(*(torch.tensor(x) for x in (d, dd, d2, dd2)), zt[0], zt[1], zt[2], 0.5),
                    min=0).mean()
    j.backward()
    h = 1e-6
    fd = np.array([(J(z0 + h * e) - J(z0 - h * e)) / (2 * h) for e in np.eye(3)])
    assert abs(j.item() - J(z0)) < 1e-12
    np.testing.assert_allclose(zt.grad.numpy(), fd, rtol=1e-4, atol=1e-6)
    assert np.abs(fd).min() > 1e-4    # all three components are exercised


# ------------------------------------------------------------------------------------------- environment
def test_ddot_sign_and_finite_difference():
    s = np.array([0.0, -1.0, 1.0, np.pi / 2])        # moving +y toward a hazard at the origin
    hz = np.zeros(2)
    d, dd = U.d_ddot(s, hz)
    assert dd[0] < 0 and dd[0] == pytest.approx(-1.0)
    h = 1e-5
    s2 = U.rk4_step(s, np.zeros(2), dt=h)
    assert (U.d_ddot(s2, hz)[0][0] - d[0]) / h == pytest.approx(dd[0], rel=1e-4)


def test_rk4_matches_fine_integration():
    s = np.array([0.1, -1.0, 0.7, 1.2])
    u = np.array([2.0, -1.5])
    fine = s.copy()
    for _ in range(1000):
        fine = fine + 1e-4 * U._f(fine, u)
    np.testing.assert_allclose(U.rk4_step(s, u), fine, atol=1e-4)


def test_env_info_and_counts():
    env = U.UnicycleHazardEnv(seed=0)
    obs, info = env.reset(seed=3)
    assert obs.shape == (8,) and info["d"].shape == (1,)
    np.testing.assert_allclose(U.obs_to_state(obs[None])[0], np.r_[env.s, env.hazard], atol=1e-5)
    n = 0
    while True:
        obs, r, term, trunc, info = env.step(np.array([1.0, 0.0]))
        n += 1
        assert info["cost"] == float(info["d"][0] <= U.HAZARD_R)
        if term or trunc:
            break
    assert n == U.EP_LEN


# ------------------------------------------------------------------------------------------- validity check
def test_validity_detects_obvious_cases():
    M = U.UnicycleModel()
    far_slow = np.array([[0.0, -3.0, 0.1, np.pi / 2, 0.0, 0.0]])
    at_edge_fast = np.array([[0.0, -0.55, 3.0, np.pi / 2, 0.0, 0.0]])   # 5 cm from the edge at 3 m/s
    far_fast = np.array([[0.0, -1.5, 4.0, np.pi / 2, 0.0, 0.0]])        # 1 m from the edge at 4 m/s
    assert not infeasible_mask(far_slow, M, PHI_H, 0.5)[0]
    assert infeasible_mask(at_edge_fast, M, PHI_0, 0.5)[0]       # relative degree 2: phi0 reacts too late
    assert not infeasible_mask(far_fast, M, PHI_0, 0.5)[0]
    assert infeasible_mask(far_fast, M, PHI_H, 0.5)[0]           # n = 2: d^2 grows faster than k*ddot can fall


def test_table3_faithful_proxy():
    """Digest sec. 8 test 1 (our proxy: nominal tracker behind a grid-search eq.-1 filter, 100 trajectories,
    distribution 1).  Paper: infeasible phi0 100%, phiF 0%, phiSIS 1%, phi_h 30%.  phi_h's 30% does NOT
    reproduce with the authors' unicycle (a in [-4,4]): at this speed phi_h is feasible; phi_h is only worse
    than phiSIS at higher speed (second half)."""
    r0 = U.filtered_rollouts(PHI_0, n_traj=100, init_dist=1, seed=0)
    rF = U.filtered_rollouts(PHI_F, n_traj=100, init_dist=1, seed=0)
    rS = U.filtered_rollouts(PHI_SIS_PAPER, n_traj=100, init_dist=1, seed=0)
    assert r0["infeasible"] >= 0.95 and r0["phi0_violation"] >= 0.95 and r0["success"] <= 0.05
    assert rF["infeasible"] == 0.0 and rF["success"] == 1.0
    assert rS["infeasible"] <= 0.02 and rS["phi0_violation"] == 0.0
    fast = U.sample_uniform_states(3000, 5, d_range=(0.5, 3.0), v_range=(2.0, 6.0))
    M = U.UnicycleModel()
    f_h = infeasible_fraction(fast, M, PHI_H, 0.5)
    f_s = infeasible_fraction(fast, M, PHI_SIS_PAPER, 0.5)
    assert f_h > 0.01 and f_s < f_h / 3


# ------------------------------------------------------------------------------------------- synthesis (quick mode)
def test_outer_loop_removes_infeasible_states():
    """CI quick mode of the outer loop: from phi_h, on a small fast instance where phi_h has infeasible
    states, the eq.-4 updates must move zeta so the infeasible fraction drops, with n and sigma decreasing
    (the direction of Table 2 / Fig. 8)."""
    from safe_learners.sis import synthesize_with_oracle
    M = U.UnicycleModel()
    S = U.sample_uniform_states(1000, 3, d_range=(0.5, 3.0), v_range=(1.0, 4.0))
    A = action_grid(11)
    f0 = infeasible_fraction(S, M, PHI_H, 0.5, A)
    z, _ = synthesize_with_oracle(S, M, PHI_H, iters=200, lr=1e-2, actions=A)
    f1 = infeasible_fraction(S, M, z, 0.5, A)
    assert f0 >= 0.005
    assert f1 <= 0.5 * f0
    assert z[1] < PHI_H[1] - 0.1 and z[0] < PHI_H[0]
    assert all(lo - 1e-12 <= v <= hi + 1e-12 for v, lo, hi in zip(z, ZETA_LOW, ZETA_HIGH))


def _quick_cfg(tmp_path, **kw):
    from safe_learners.sis import SISConfig
    base = dict(total_steps=1500, learning_starts=300, hidden=32, batch_size=64, epoch_steps=500, sis_start=500,
                run_dir=str(tmp_path), checkpoint_every=0, env_kwargs=dict(v0_range=(1.5, 3.0)), seed=0)
    base.update(kw)
    return SISConfig(**base)


def test_fac_sis_quick_run_counts_logs_and_moves_zeta(tmp_path):
    from safe_learners.sis import FACSIS
    ag = FACSIS(_quick_cfg(tmp_path)).learn(log=lambda s: None)
    c = ag.counters
    assert c["env_steps"] == 1500 and c["grad_steps"] == 1200
    assert c["episodes"] == 1500 // U.EP_LEN
    assert c["cost_steps"] == int((ag.buf.data["d2"][: ag.buf.n, 0] <= U.HAZARD_R).sum())
    recs = [json.loads(x) for x in open(tmp_path / "log.jsonl")]
    assert [r["env_steps"] for r in recs] == [500, 1000, 1500]
    z = ag.zeta_tuple()
    assert z != PHI_H and all(lo - 1e-12 <= v <= hi + 1e-12 for v, lo, hi in zip(z, ZETA_LOW, ZETA_HIGH))
    # multipliers rise from softplus(-10) where Q_phi predicts violations
    assert recs[-1]["lam_mean"] > max(recs[0]["lam_mean"], float(np.log1p(np.exp(-10.0))))
    rows = ag.evaluate(2)
    assert len(rows) == 2 and all(r["steps"] == U.EP_LEN for r in rows)


def test_fixed_index_baseline_keeps_zeta(tmp_path):
    from safe_learners.sis import FACSIS
    ag = FACSIS(_quick_cfg(tmp_path, total_steps=800, learn_zeta=False, zeta_init=PHI_0)).learn(log=lambda s: None)
    assert ag.zeta_tuple() == PHI_0


def test_checkpoint_resume_roundtrip(tmp_path):
    from safe_learners.sis import FACSIS
    ag = FACSIS(_quick_cfg(tmp_path, total_steps=800)).learn(log=lambda s: None)
    p = tmp_path / "ck.pt"
    ag.save(str(p))
    assert not [f for f in os.listdir(tmp_path) if ".tmp." in f]
    ag2 = FACSIS.load(str(p))
    assert ag2.counters == ag.counters and ag2.zeta_tuple() == ag.zeta_tuple()
    assert ag2.cfg.lr_zeta == ag.cfg.lr_zeta
    for k in ("actor", "qphi", "lam"):
        for a, b in zip(getattr(ag, k).parameters(), getattr(ag2, k).parameters()):
            assert torch.equal(a, b)
    np.testing.assert_array_equal(ag2.buf.data["obs"][: ag2.buf.n], ag.buf.data["obs"][: ag.buf.n])
    ag2.learn(total_steps=1000, log=lambda s: None)
    assert ag2.counters["env_steps"] == 1000 and ag2.counters["grad_steps"] == 700


def test_policy_bundle_export_roundtrip(tmp_path):
    from safe_learners.sis import FACSIS, export_sis_policy_bundle
    from safe_shield.bundle import load_bundle
    ag = FACSIS(_quick_cfg(tmp_path, total_steps=400, learning_starts=300)).learn(log=lambda s: None)
    names = ["x", "y", "v", "cos_th", "sin_th", "hx_rel", "hy_rel", "goal_dy"]
    b = export_sis_policy_bundle(ag, tmp_path / "bundle", names, ["-"] * 8, [-6.0] * 8, [6.0] * 8)
    lb = load_bundle(tmp_path / "bundle")
    assert lb.kind == "policy" and {"policy", "qphi", "lambda"} <= set(lb.graphs)
    assert lb.filter["index"]["sigma"] == pytest.approx(ag.zeta_tuple()[0])
    assert max(b.provenance["export_check"]["max_abs_error"].values()) <= 1e-4


def test_fac_sis_runs_on_safety_gym_point_hazard(tmp_path):
    """Adapter smoke test on the sim suite's PointGoal-Hazard0.30 (per-obstacle d, ddot from info)."""
    pytest.importorskip("mujoco")
    from safe_learners.sis import FACSIS, SISConfig
    cfg = SISConfig(env="safety_gym", env_kwargs=dict(env_id="SafeShield/PointGoal-Hazard0.30-v0"), total_steps=400,
                    learning_starts=200, hidden=32, batch_size=32, epoch_steps=200, sis_start=200,
                    run_dir=str(tmp_path), checkpoint_every=0)
    ag = FACSIS(cfg).learn(log=lambda s: None)
    assert ag.m == 4 and ag.d_min == pytest.approx(0.30)
    assert ag.counters["env_steps"] == 400
    d = ag.buf.data["d"][: ag.buf.n]
    assert d.shape == (400, 4) and (d > 0).all()


def test_action_repeat_counts_every_env_step_and_stores_decisions(tmp_path):
    """With action_repeat k, one buffer row spans k env steps: its reward is their sum and its (d, ddot) pair
    spans the whole decision (Delta_phi over the held action), while counters and eq.-1 checks are per env step."""
    from safe_learners.sis import FACSIS, evaluate_episode
    ag = FACSIS(_quick_cfg(tmp_path, total_steps=1200, learning_starts=400, action_repeat=4,
                           action_scale=10.0)).learn(log=lambda s: None)
    c = ag.counters
    assert c["env_steps"] == 1200 and ag.buf.n == 300 and c["grad_steps"] == 200
    assert c["episodes"] == 1200 // U.EP_LEN
    recs = [json.loads(x) for x in open(tmp_path / "log.jsonl")]
    assert [r["env_steps"] for r in recs] == [500, 1000, 1200]
    # held action: the policy is asked once per k env steps; the env gets clip(scale * a) in [-1, 1]
    calls = []

    def pol(o):
        calls.append(o)
        return ag.policy_action(o, deterministic=True)
    env = ag.env
    row = evaluate_episode(env, pol, 7, ag.d_min, {"own": ag.zeta_tuple()}, action_repeat=4)
    assert row["steps"] == U.EP_LEN and len(calls) == -(-U.EP_LEN // 4)
    a = ag.policy_action(calls[0], deterministic=True)
    assert np.all(np.abs(a) <= 1.0)


def test_multiplier_logit_step_revives_a_dead_multiplier_within_its_bounds(tmp_path):
    """lambda = softplus(x): App. B.1's step Q_phi * grad lambda carries the factor sigmoid(x), which vanishes once
    lambda(s) ~ 0 (Adam cannot revive it); the logit step raises lambda wherever Q_phi(s, pi(s)) > 0, never pushes
    x below its initial logit where Q_phi < 0, and never pushes lambda above lam_max."""
    from safe_learners.sis import FACSIS
    def run(lam_step, bias, q, steps=20):
        ag = FACSIS(_quick_cfg(tmp_path, lam_step=lam_step))
        obs = torch.randn(64, ag.obs_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ag.lam.net[-1].weight.zero_()
            ag.lam.net[-1].bias.fill_(bias)
        for _ in range(steps):
            if lam_step == "logit":
                ag._lambda_step_logit(obs, torch.full((64,), q))
            else:
                ag._step_lambda(-(ag.lam(obs) * q).mean())
        return ag.lam.logit(obs).detach()

    assert (run("paper", -30.0, 0.01) + 30.0).abs().max() < 1e-6          # dead: the paper's step cannot move it
    assert (run("logit", -30.0, 0.01) + 30.0).mean() > 0.1                 # the logit step revives it
    assert torch.equal(run("logit", -10.0, -0.01), torch.full((64,), -10.0))   # no push below the initial logit
    assert torch.equal(run("logit", 150.0, 0.01), torch.full((64,), 150.0))    # lambda = lam_max: no push above


def test_multiplier_soft_box_pulls_an_escaped_logit_back_and_leaves_the_box_alone(tmp_path):
    """lam_box_weight > 0: a logit x(s) carried below the box [lam_bias_init, softplus^-1(lam_max)] (by other
    states' steps) is pulled back toward the box even where Q_phi < 0 (the mask alone leaves it there); inside
    the box the penalty is zero, so the step is the plain logit step."""
    from safe_learners.sis import FACSIS
    def run(w, bias, q, steps=20):
        ag = FACSIS(_quick_cfg(tmp_path, lam_step="logit", lam_box_weight=w))
        obs = torch.randn(64, ag.obs_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ag.lam.net[-1].weight.zero_()
            ag.lam.net[-1].bias.fill_(bias)
        torch.manual_seed(1)
        for _ in range(steps):
            ag._lambda_step_logit(obs, torch.full((64,), q))
        return ag.lam.logit(obs).detach()

    assert torch.equal(run(0.0, -40.0, -0.01), torch.full((64,), -40.0))    # mask only: stays escaped
    assert (run(1e-3, -40.0, -0.01) + 40.0).mean() > 0.1                    # soft box: pulled up toward -10
    assert torch.allclose(run(1e-3, 0.0, 0.01), run(0.0, 0.0, 0.01))        # inside the box: the same step


def test_multiplier_floor_steers_the_policy_where_the_multiplier_network_is_dead(tmp_path):
    """lam_floor > 0: with lambda(s) ~ 0 everywhere (a dead multiplier network) the policy step still lowers
    Q_phi(s, pi(s)), i.e. moves away from actions predicted to raise phi; with the paper's step (floor 0) the
    Q_phi term has no weight and the policy ignores it.  A multiplier above the floor is used as is."""
    from safe_learners.sis import FACSIS
    def mean_qphi_after(floor, steps=200):
        torch.manual_seed(0)
        ag = FACSIS(_quick_cfg(tmp_path, lam_floor=floor))
        obs = torch.randn(128, ag.obs_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ag.lam.net[-1].weight.zero_()
            ag.lam.net[-1].bias.fill_(-30.0)                 # lambda(s) = softplus(-30) ~ 1e-13
            for q in (ag.q1, ag.q2):                          # a reward critic flat in the action
                q.net[-1].weight.zero_()
        qphi_before = ag.qphi(obs, torch.tanh(ag.actor(obs)[0])).mean().item()
        for _ in range(steps):
            ag._policy_step(obs, torch.tensor(1e-4))
        return qphi_before, ag.qphi(obs, torch.tanh(ag.actor(obs)[0])).mean().item()

    before, paper = mean_qphi_after(0.0)
    _, floored = mean_qphi_after(10.0)
    assert before - floored > 0.01                             # the floor drives Q_phi(s, pi(s)) down ...
    assert before - floored > 5 * abs(paper - before)          # ... the paper's step, lambda ~ 0, hardly moves it


def test_multiplier_margin_raises_lambda_in_the_band_short_of_the_boundary(tmp_path):
    """lam_margin = eps: where the policy's action is predicted to end just short of the boundary
    (-eps < Q_phi(s, pi(s)) < 0) the multiplier rises; with the paper's constraint (eps = 0) the same states are
    safe, lambda(s) falls back to its floor, and states predicted well inside the safe set stay there either way."""
    from safe_learners.sis import FACSIS

    def lam_after(margin, qphi_value, steps=100):
        torch.manual_seed(0)
        ag = FACSIS(_quick_cfg(tmp_path, lam_margin=margin, lam_bias_init=-2.0, lr_lambda=(1e-2, 1e-2)))
        o = torch.randn(64, ag.obs_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():                                  # a Q_phi that predicts phi(s') = qphi_value
            ag.qphi.net[-1].weight.zero_()
            ag.qphi.net[-1].bias.fill_(qphi_value)
        before = ag.lam(o).mean().item()
        for _ in range(steps):
            ag._lambda_step_logit(o, ag._lambda_signal(o))
        return before, ag.lam(o).mean().item()

    before, band_paper = lam_after(0.0, -0.01)
    _, band_margin = lam_after(0.02, -0.01)
    _, deep_margin = lam_after(0.02, -0.05)
    assert band_margin > 3 * before                            # the band now carries the constraint
    assert band_paper <= before + 1e-6                         # eps = 0: those states count as satisfied
    assert deep_margin <= before + 1e-6                        # well inside: no multiplier, as in the paper


def test_expectile_loss_is_the_mse_at_one_half_and_pessimistic_above():
    """qphi_expectile: tau = 0.5 is the paper's squared error; at tau = 0.9 the best constant prediction for
    targets that look alike (four benign 0s, one dangerous 1) is their 0.9-expectile 0.9 / (0.9 + 4 * 0.1),
    well above their mean 0.2, so a Q_phi fitted this way does not average a rare violation away."""
    import torch.nn.functional as F
    from safe_learners.sis import expectile_loss
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(100, generator=g), torch.randn(100, generator=g)
    torch.testing.assert_close(expectile_loss(pred, target, 0.5), F.mse_loss(pred, target))
    y = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0])
    grid = torch.linspace(0, 1, 10001)
    best = lambda tau: grid[torch.stack([expectile_loss(e.expand(5), y, tau) for e in grid]).argmin()].item()  # noqa: E731
    assert best(0.5) == pytest.approx(0.2, abs=1e-3)
    assert best(0.9) == pytest.approx(0.9 / 1.3, abs=1e-3)


def test_q_phi_ensemble_is_charged_at_its_most_pessimistic_member():
    from safe_learners.sis import QEnsemble, qphi_members
    ens = QEnsemble(5, 2, 16, k=4)
    g = torch.Generator().manual_seed(0)
    obs, act = torch.randn(32, 5, generator=g), torch.rand(32, 2, generator=g) * 2 - 1
    with torch.no_grad():
        members = qphi_members(ens, obs, act)
        one = torch.nn.functional.elu(torch.cat([obs, act], -1) @ ens.w[0][2] + ens.b[0][2])
        one = torch.nn.functional.elu(one @ ens.w[1][2] + ens.b[1][2]) @ ens.w[2][2] + ens.b[2][2]
    assert members.shape == (4, 32)
    torch.testing.assert_close(members[2], one.squeeze(-1))          # member 2 is an ordinary 2 x 16 ELU net
    torch.testing.assert_close(ens(obs, act), members.max(0).values)
    assert (members.std(0) > 1e-3).all()                               # independent initialisations


def test_continuation_with_a_q_phi_ensemble_prefits_it_and_exports_its_maximum(tmp_path):
    """qphi_ensemble = K on a continuation: Q_phi restarts as K members, regressed on the buffer before training goes
    on; the actor, critics and multiplier carry over, and the bundle's Q_phi graph is the members' maximum."""
    import torch.nn.functional as F
    from safe_learners.sis import FACSIS, QEnsemble, export_sis_policy_bundle
    ag = FACSIS(_quick_cfg(tmp_path, total_steps=800)).learn(log=lambda s: None)
    ag.save(str(tmp_path / "ck.pt"))
    fresh = FACSIS.load(str(tmp_path / "ck.pt"), qphi_ensemble=3, qphi_prefit_steps=0)
    assert isinstance(fresh.qphi, QEnsemble) and fresh.qphi.w[0].shape[0] == 3
    for k in ("actor", "q1", "lam"):
        for a, b in zip(getattr(ag, k).parameters(), getattr(fresh, k).parameters()):
            assert torch.equal(a, b)
    b = fresh.buf.sample(np.random.default_rng(1), 512)
    y = fresh.delta_phi(b).float().clamp(min=fresh.cfg.qphi_target_floor)

    def fit_error():
        with torch.no_grad():
            return F.mse_loss(fresh.qphi(b["obs"], b["act"]), y).item()
    before = fit_error()
    fresh.prefit_qphi(300)
    assert fit_error() < 0.5 * before
    fresh.learn(total_steps=1000, log=lambda s: None)             # the critic optimiser takes the new shapes
    assert fresh.counters["env_steps"] == 1000
    fresh.save(str(tmp_path / "ck2.pt"))                          # and an ensemble run resumes as it was
    again = FACSIS.load(str(tmp_path / "ck2.pt"))
    for a, b_ in zip(fresh.qphi.parameters(), again.qphi.parameters()):
        assert torch.equal(a, b_)
    names = ["x", "y", "v", "cos_th", "sin_th", "hx_rel", "hy_rel", "goal_dy"]
    bundle = export_sis_policy_bundle(fresh, tmp_path / "bundle", names, ["-"] * 8, [-6.0] * 8, [6.0] * 8)
    assert max(bundle.provenance["export_check"]["max_abs_error"].values()) <= 1e-4


def test_boundary_replay_gives_q_phi_extra_rows_from_the_band_below_phi_zero(tmp_path):
    """qphi_boundary_frac = f: each Q_phi step also fits f * batch rows drawn from the buffer rows with
    phi(s) >= -band under the current zeta, so the states where the policy decides to cross phi = 0 are not a
    few % of Q_phi's data."""
    from safe_learners.sis import FACSIS
    ag = FACSIS(_quick_cfg(tmp_path, total_steps=800, qphi_boundary_frac=0.5, qphi_boundary_band=0.2))
    ag.learn(log=lambda s: None)
    n = ag.buf.n
    phi_all = phi_max_np(ag.buf.data["d"][:n], ag.buf.data["ddot"][:n], ag.zeta_tuple(), ag.d_min)
    bb = ag._boundary_batch(1)                                   # t % 1000 == 1: the row set is re-selected
    np.testing.assert_array_equal(ag._boundary_rows, np.flatnonzero(phi_all >= -0.2))
    assert 0 < len(ag._boundary_rows) < n                        # a band, not the whole buffer
    phi_b = phi_max_np(bb["d"].numpy(), bb["ddot"].numpy(), ag.zeta_tuple(), ag.d_min)
    assert len(phi_b) == 32 and (phi_b >= -0.2).all()
