"""CRABS: Co-trained Barrier certificate for Safe RL (Luo & Ma, NeurIPS 2021) - learner.

Reads top to bottom; each piece is named as in the paper and cites the (digest-corrected) equation it implements
(digest: shared/papers/crabs.md). All hyper-parameters are in ``CrabsConfig``.

  B_safe(s)            handcrafted barrier, the authors' code form (digest Sec. 2): 0 at the centre, 1 on the boundary,
                       slope ~99.5 outside. The printed omega(u) = max(0, 100(|u|-1)) breaks R.2 and is NOT used.
  h_phi(s)             = 1 - softplus(f_phi(s) - f_phi(s0)) - B_safe(s)           (certificate, R.1 + R.2 by construction)
  T_hat(s,a)           = {mu_w1(s,a) .. mu_wK(s,a)}, K = 5 Gaussian nets trained by NLL (Eq. 6), MEANS only
  U(s,a,h)             = max_k -h(mu_wk(s,a))                                     (Eq. 1)
  C*(h,pi)             = max_{s in C_h} U(s, pi(s), h)                            (Eq. 2-3)
  grad_phi C*          = grad_phi U(s*) + lambda* grad_phi h(s*),
                         lambda* = |grad_s U(s*)| / |grad_s h(s*)|                  (Eq. 4 as corrected by Lemma 1)
  L_cert               = avg_W[U + lambda* h] + 0.001 Reg(phi; h_hat),
                         Reg = E_s relu(h_hat(s) - h_phi(s))                       (Eq. 5, region-growing regulariser)
  MALA                 p(s) ~ exp(lambda1 U(s, pi(s), h)), proposals outside C_h rejected (App. D, corrected)
  modified SAC         Eq. 10 (Q_hat = min Q if U <= 0 else -C - U), Eq. 11 (TD mask 1[U(s',a') <= 0]), Eq. 12
  adversarial pi step  theta <- theta - lr grad_theta avg U(s*, pi_theta(s*)) over MALA counterexamples
  SAFE_EXPLORE         Alg. 3: 100 proposals tanh(mu + c_i sigma zeta_i), c_i from 1 to 1e-3; first with
                       U <= -margin, else the certified mean policy pi_ref(s) = tanh(mu_ref(s))

Zero-violation details the paper leaves out (digest Sec. 8), all implemented here:
  * margin eps_m: a state is a counterexample when h(s) >= 0 and U(s, pi(s)) > -eps_m;
  * exploration only with the last ACCEPTED triple (h, pi_ref, T_hat), deep-copied and frozen at certification;
  * a certificate is accepted after ``cert_clean_steps`` MALA steps with no counterexample AND a passing gradient
    attack (audit) - otherwise h is reverted to the last accepted one.

Counting: every real environment step (initial-policy verification, warm-up collection, exploration, evaluation) is
counted in its own bucket and in the total; a violation is any step whose state is unsafe.
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import dataclass, asdict, field
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from safe_learners.sac import SAC, SACConfig, TanhGaussianPolicy, TwinQ, ReplayBuffer, mlp


# ----------------------------------------------------------------------------------------------------------------------
# Hyper-parameters
# ----------------------------------------------------------------------------------------------------------------------
@dataclass
class CrabsConfig:
    seed: int = 0
    epochs: int = 20
    # networks (authors' code sizes where they are small; see digest Sec. 4)
    f_hidden: int = 64            # barrier f_phi: 2 x f_hidden, ReLU (paper 2x256; 64 is enough for 2-D states)
    policy_hidden: int = 64       # [code] 2x64
    q_hidden: int = 128           # paper/code 2x256; 128 for CPU speed
    model_hidden: int = 64        # paper 4x400 Swish, code 4x256 SiLU; 3x64 SiLU for CPU speed on 2-D tasks
    model_layers: int = 3
    n_models: int = 5             # K (Eq. 6)
    # initial safe policy (documented procedure, see Crabs.make_initial_policy)
    init_bc_steps: int = 1500
    init_verify_episodes: int = 1
    # warm-up data
    warmup_episodes: int = 5
    warmup_noise: float = 0.2
    # initial C_h shape before Alg. 1 pre-training (our addition, see Crabs.init_certificate_shape):
    #   "ellipsoid": Mahalanobis ellipsoid of the warm-up states, radius init_region_r (Upright, Tilt);
    #   "lyapunov" : sublevel set of a quadratic Lyapunov function of the LEARNED model's closed loop under pi_init,
    #                sized to init_lyap_level x the state box's half-widths (Move: the data ellipsoid is not invariant
    #                in 4-D - 19% of its states are true-simulator counterexamples at eps_m = 0.05, measured)
    init_region_shape: str = "ellipsoid"
    init_region_r: float = 3.0
    init_lyap_level: float = 0.5
    init_lyap_power: float = 4.0
    init_region_steps: int = 1000
    # dynamics (Eq. 6)
    model_lr: float = 1e-3
    model_wd: float = 7.5e-5
    model_batch: int = 256
    model_warmup_steps: int = 3000
    model_steps: int = 1000       # per epoch, per member (all members in one batched call)
    model_grad_clip: float = 10.0
    # certificate (Eq. 1-5, Alg. 1)
    h_lr: float = 3e-4
    h_lr_pretrain: float = 1e-3   # pendulum tasks; Move uses the code's 3e-4 (1e-3 makes its C_h oscillate, measured)
    h_wd: float = 1e-4
    reg_coef: float = 1e-3        # Eq. 5
    margin_pretrain: float = 0.05  # eps_m [code]; Move overrides it to 0.01 (departure, see crabs_tasks.cartpole_task)
    margin: float = 0.01           # eps_m [code]
    n_chains: int = 1000          # paper 1e4; 1e3 vectorised chains on CPU (the audit uses >= 1e4 particles)
    mala_lambda1: float = 30.0    # App. D
    mala_eta0: float = 1e-3    # [code] 0.01; our certified sets are ~1% of the box
    mala_target_acc: float = 0.6
    # per-chain step-size rule eta <- eta (1 + rate (min(1, alpha_MH) - target)) ([code]: on the MH probability, target
    # 0.574, rate 0.01 over >= 2000 warm-up + 20k steps). Our certifications run ~300-1500 steps, where 0.01 leaves the
    # acceptance at 0.08-0.5 (measured), so 0.05.
    mala_adapt_rate: float = 0.05
    cert_warmup_mala: int = 200
    cert_clean_steps: int = 500   # [code] 5000
    # [code] BarrierCertOptimizer.train: after 1000 steps without a counterexample the chains restart uniformly in C_h
    # and an 'observation period' of 5000 clean steps follows; here after cert_reinit_frac x cert_clean_steps
    cert_reinit_frac: float = 0.2
    cert_log_every: int = 500     # a 'cert_progress' log record every this many Alg.-1 steps
    cert_max_steps: int = 3000    # [code] 20000
    pretrain_max_steps: int = 20000
    # audit (gradient attack + true-simulator invariance)
    audit_particles: int = 10_000
    audit_attack_steps: int = 100          # gate attack before acceptance
    audit_full_attack_steps: int = 1000    # audit attack every accepted certificate must pass (0: gate only)
    audit_attack_lr: float = 0.02
    audit_invariance_states: int = 100_000
    audit_invariance_each: bool = True   # ground-truth invariance rate logged for every accepted certificate
    # policy (Eq. 10-12, Alg. 4)
    sac: SACConfig = field(default_factory=SACConfig)
    policy_steps: int = 2000      # per epoch (paper)
    q_warm_steps: int = 1000      # [code] Q-only steps after warm-up (10,001 in Swing)
    penalty_C: float = 1000.0     # Eq. 10 [code]
    adv_lr: float = 3e-4
    adv_wd: float = 1e-4
    # adversarial theta step period in SAC steps, adaptive as in [code]: x2 after a step that found no counterexample,
    # x0.5 after one that found some, clipped to [adv_period_min, adv_period_max] ([code]: [0.1, 10], start 0.5; we do
    # at most one per SAC step, so the floor is 1)
    adv_period_min: float = 1.0
    adv_period_max: float = 10.0
    # temperature: [code] log alpha_0 = 0 with >= 2000 SAC steps per epoch for ~100 epochs, where alpha has decayed
    # to ~1e-2..1e-3 after the first ~10^4 steps. With our ~10x shorter schedules alpha = 1 stays >= 0.4 and the
    # entropy bonus (~0.5/step) swamps the pendulum reward (~0.05/step): the actor then trades return for entropy
    # (measured: eval return -2.25 -> -5.40 in 250 steps at alpha = 1; -> -1.14 in 750 steps at alpha = 0.01).
    # So alpha starts at 0.01 and is still learned by Eq. 12.
    log_alpha0: float = math.log(0.01)
    # exploration (Alg. 3)
    explore_n: int = 100
    eval_episodes: int = 1        # roll-outs of pi_ref per epoch in the real env (counted)


# ----------------------------------------------------------------------------------------------------------------------
# Task description (environment-agnostic)
# ----------------------------------------------------------------------------------------------------------------------
@dataclass
class CrabsTask:
    name: str
    n_obs: int
    n_act: int
    s0: np.ndarray
    dt: float
    constraints: list            # [(state index, lower bound, upper bound)]  -> unsafe set, B_safe
    box_low: np.ndarray          # state box for MALA / audit / certified-region fraction
    box_high: np.ndarray
    make_env: Callable           # () -> env with reset/step and info["unsafe"]
    true_step: Callable          # (obs [B,n], act [B,m]) numpy -> next obs [B,n] (audit only)
    prior_controller: Callable   # obs [B,n] numpy -> act [B,m]: the hand-designed law pi_init is cloned from
    horizon: int = 200


# ----------------------------------------------------------------------------------------------------------------------
# B_safe and the certificate h_phi
# ----------------------------------------------------------------------------------------------------------------------
B_EPS = 0.01


def b_safe(s: torch.Tensor, idx: torch.Tensor, lb: torch.Tensor, ub: torch.Tensor, eps: float = B_EPS) -> torch.Tensor:
    """Code form of B_safe (digest Sec. 2). s [..., n] -> [...]; max over the box constraints."""
    z = s[..., idx]
    u = 2.0 * (z - lb) / (ub - lb) - 1.0
    b_max = -math.log(eps * (2 + eps) / (1 + eps) ** 2)
    uc = u.clamp(-1.0, 1.0)   # keeps the log finite; the outside branch is selected by torch.where
    inside = -torch.log((1 + uc + eps) * (1 - uc + eps) / (1 + eps) ** 2) / b_max
    outside = 1.0 + (u.abs() - 1.0) * 2.0 / (eps * (2 + eps))
    return torch.where(u.abs() <= 1.0, inside, outside).max(-1).values


class Barrier(nn.Module):
    """h_phi(s) = 1 - softplus(f_phi(s) - f_phi(s0)) - B_safe(s). Normaliser (state box) inside."""

    def __init__(self, task: CrabsTask, hidden: int):
        super().__init__()
        self.f = mlp(task.n_obs, 1, hidden, act=nn.ReLU)
        lo, hi = np.asarray(task.box_low, np.float32), np.asarray(task.box_high, np.float32)
        self.register_buffer("center", torch.as_tensor((lo + hi) / 2))
        self.register_buffer("half_w", torch.as_tensor((hi - lo) / 2))
        self.register_buffer("s0", torch.as_tensor(np.asarray(task.s0, np.float32)))
        self.register_buffer("c_idx", torch.as_tensor([c[0] for c in task.constraints], dtype=torch.long))
        self.register_buffer("c_lb", torch.as_tensor([c[1] for c in task.constraints], dtype=torch.float32))
        self.register_buffer("c_ub", torch.as_tensor([c[2] for c in task.constraints], dtype=torch.float32))

    def f_val(self, s):
        return self.f((s - self.center) / self.half_w).squeeze(-1)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return 1.0 - F.softplus(self.f_val(s) - self.f_val(self.s0)) - b_safe(s, self.c_idx, self.c_lb, self.c_ub)


# ----------------------------------------------------------------------------------------------------------------------
# Dynamics ensemble (Eq. 6): K Gaussian nets, all members in one batched matmul
# ----------------------------------------------------------------------------------------------------------------------
class EnsembleLinear(nn.Module):
    def __init__(self, k, n_in, n_out):
        super().__init__()
        self.w = nn.Parameter(torch.randn(k, n_in, n_out) / math.sqrt(n_in))
        self.b = nn.Parameter(torch.zeros(k, 1, n_out))

    def forward(self, x):  # x [K, B, n_in]
        return torch.baddbmm(self.b, x, self.w)


class GaussianEnsemble(nn.Module):
    """N(mu_wk(s,a), diag sigma_wk^2), k = 1..K; predicts the normalised state change; soft log-sigma bounds
    (Chua et al.; [code] bounds [-10, 0.5] + 0.001 (max - min)); input normaliser frozen after warm-up."""

    def __init__(self, n_obs, n_act, k=5, hidden=64, layers=3):
        super().__init__()
        self.k, self.n_obs = k, n_obs
        dims = [n_obs + n_act] + [hidden] * layers
        self.layers = nn.ModuleList(EnsembleLinear(k, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.head = EnsembleLinear(k, hidden, 2 * n_obs)
        self.max_logstd = nn.Parameter(torch.full((k, 1, n_obs), 0.5))
        self.min_logstd = nn.Parameter(torch.full((k, 1, n_obs), -10.0))
        for name, n in (("s_mean", n_obs), ("s_std", n_obs), ("d_mean", n_obs), ("d_std", n_obs)):
            self.register_buffer(name, torch.zeros(n) if "mean" in name else torch.ones(n))

    def set_normaliser(self, s, s2):
        d = s2 - s
        self.s_mean.copy_(s.mean(0)); self.s_std.copy_(s.std(0).clamp_min(1e-3))
        self.d_mean.copy_(d.mean(0)); self.d_std.copy_(d.std(0).clamp_min(1e-4))

    def stats(self, s, a):
        """s [K,B,n] or [B,n] -> normalised (mean, logstd) [K,B,n]."""
        x = torch.cat([(s - self.s_mean) / self.s_std, a], -1)
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.k, -1, -1)
        for layer in self.layers:
            x = F.silu(layer(x))
        out = self.head(x)
        mu, ls = out[..., : self.n_obs], out[..., self.n_obs:]
        ls = self.max_logstd - F.softplus(self.max_logstd - ls)
        ls = self.min_logstd + F.softplus(ls - self.min_logstd)
        return mu, ls

    def means(self, s, a):
        """T_hat(s, a): the K means in raw units, [K, B, n]."""
        mu, _ = self.stats(s, a)
        return s.unsqueeze(0) + mu * self.d_std + self.d_mean

    def nll(self, s, a, s2):
        """Eq. 6 (sign fixed): Gaussian NLL of the normalised state change; s, a, s2 are [K, B, .] (own batch per member)."""
        mu, ls = self.stats(s, a)
        y = (s2 - s - self.d_mean) / self.d_std
        nll = ((mu - y) ** 2 * torch.exp(-2 * ls) + 2 * ls).mean()
        return nll + 0.001 * (self.max_logstd.sum() - self.min_logstd.sum()) / self.k, ((mu - y) ** 2).mean()


def worst_case_U(h: Barrier, model: GaussianEnsemble, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Eq. 1 with T_hat = ensemble means: U(s, a, h) = max_k -h(mu_k(s, a)). s [B,n], a [B,m] -> [B]."""
    nxt = model.means(s, a)                          # [K, B, n]
    return (-h(nxt)).max(0).values


# ----------------------------------------------------------------------------------------------------------------------
# MALA over the state box (App. D, corrected): vectorised chains, per-chain step size tuned to ~0.6 acceptance
# ----------------------------------------------------------------------------------------------------------------------
class Mala:
    def __init__(self, task: CrabsTask, n: int, lambda1: float, eta0: float, target_acc: float, gen: torch.Generator,
                 adapt_rate: float = 0.01):
        self.lo = torch.as_tensor(np.asarray(task.box_low, np.float32))
        self.hi = torch.as_tensor(np.asarray(task.box_high, np.float32))
        self.s0 = torch.as_tensor(np.asarray(task.s0, np.float32))
        self.lambda1, self.target, self.adapt_rate = lambda1, target_acc, adapt_rate
        self.gen = gen
        self.z = self.to_z(self.s0).expand(n, -1).clone()   # chains in unit-box coordinates, start at s0 (in C_h)
        self.eta = torch.full((n,), eta0)
        self.acc_ema = torch.full((n,), target_acc)
        self.move_rate = float("nan")

    def to_s(self, z):
        return (self.lo + self.hi) / 2 + z * (self.hi - self.lo) / 2

    def to_z(self, s):
        return (s - (self.lo + self.hi) / 2) / ((self.hi - self.lo) / 2)

    @property
    def states(self):
        return self.to_s(self.z)

    def _logp_grad(self, z, U_fn, h_fn):
        z = z.detach().requires_grad_(True)
        s = self.to_s(z)
        U = U_fn(s)
        lp = self.lambda1 * U
        g, = torch.autograd.grad(lp.sum(), z)
        with torch.no_grad():
            inside = (h_fn(s) >= 0) & (z.abs() <= 1).all(-1)
        return lp.detach(), g, inside

    def step(self, U_fn, h_fn):
        """One MALA step of every chain: s~ = s + eta grad log p + sqrt(2 eta) xi, Metropolis-Hastings test,
        proposals outside C_h (or the box) rejected; chains that fell outside C_h are projected back."""
        self.project(h_fn)
        lp, g, _ = self._logp_grad(self.z, U_fn, h_fn)
        eta = self.eta.unsqueeze(-1)
        xi = torch.randn(self.z.shape, generator=self.gen)
        zp = self.z + eta * g + torch.sqrt(2 * eta) * xi
        lpp, gp, inside = self._logp_grad(zp, U_fn, h_fn)
        log_q_fwd = -((zp - self.z - eta * g) ** 2).sum(-1) / (4 * eta[:, 0])
        log_q_bwd = -((self.z - zp - eta * gp) ** 2).sum(-1) / (4 * eta[:, 0])
        log_alpha = lpp - lp + log_q_bwd - log_q_fwd
        u = torch.rand(log_alpha.shape, generator=self.gen).clamp_min(1e-12)
        mh = torch.log(u) < log_alpha
        acc = inside & mh
        self.z = torch.where(acc.unsqueeze(-1), zp.detach(), self.z)
        # [code] per-chain rule on the MH acceptance PROBABILITY min(1, alpha): a proposal rejected only for leaving
        # C_h does not shrink eta (adapting on the 0/1 move indicator did, and left the MH acceptance at 0.31-0.52)
        p_mh = log_alpha.clamp(max=0.0).exp()
        self.eta = (self.eta * (1 + self.adapt_rate * (p_mh - self.target))).clamp(1e-6, 0.5)
        self.acc_ema = 0.99 * self.acc_ema + 0.01 * mh.float()
        self.move_rate = float(acc.float().mean())   # accepted AND inside C_h
        return float(mh.float().mean())              # MH acceptance rate ([code]'s 'opt_s/accept')

    def project(self, h_fn, iters: int = 10, lr: float = 0.02):
        """Chains outside C_h: <= 10 normalised gradient-ascent steps on h; any still outside restart from a random
        chain inside C_h (s0 is always inside: h(s0) = 1 - ln 2 - B_safe(s0) > 0)."""
        with torch.no_grad():
            out = h_fn(self.states) < 0
        if not out.any():
            return
        z = self.z[out].clone()
        for _ in range(iters):
            z.requires_grad_(True)
            hv = h_fn(self.to_s(z))
            if (hv >= 0).all():
                break
            g, = torch.autograd.grad(hv.sum(), z)
            z = (z + lr * g / g.norm(dim=-1, keepdim=True).clamp_min(1e-8) * (hv < 0).float().unsqueeze(-1)).detach()
        z = z.detach().clamp(-1, 1)
        self.z[out] = z
        with torch.no_grad():
            out = h_fn(self.states) < 0
            if out.any():
                ins = (~out).nonzero().squeeze(-1)
                if len(ins) == 0:
                    self.z[:] = self.to_z(self.s0)
                else:
                    pick = ins[torch.randint(len(ins), (int(out.sum()),), generator=self.gen)]
                    self.z[out] = self.z[pick]

    def reinit(self, states: torch.Tensor):
        """[code] SLangevinOptimizer.reinit after StateBox.find_box: restart every chain from a state drawn uniformly in
        C_h (chains that only diffuse from s0 miss counterexamples: measured on Move, 1-2% of uniform C_h states were
        model counterexamples while 1000 chains found 0-1 per step). Step sizes restart at their median."""
        idx = torch.randint(len(states), (len(self.z),), generator=self.gen)
        self.z = self.to_z(states[idx]).clamp(-1, 1)
        self.eta = torch.full_like(self.eta, float(self.eta.median()))

    def inject(self, s_bad: torch.Tensor, U_now: torch.Tensor):
        """Replace the chains of lowest U by given states (e.g. counterexamples found by the gradient attack)."""
        m = min(len(s_bad), len(self.z) // 2)
        if m == 0:
            return
        worst = torch.argsort(U_now)[:m]
        self.z[worst] = self.to_z(s_bad[:m]).clamp(-1, 1)

    def state_dict(self):
        return {"z": self.z, "eta": self.eta, "acc_ema": self.acc_ema}

    def load_state_dict(self, st):
        self.z, self.eta, self.acc_ema = st["z"], st["eta"], st["acc_ema"]


# ----------------------------------------------------------------------------------------------------------------------
# Audits of a certificate (issue 4 "Done when"; digest Sec. 8 faithful test 4)
# ----------------------------------------------------------------------------------------------------------------------
def region_box(task: CrabsTask, h: Barrier, gen: torch.Generator, n: int = 10_000, expansion: float = 1.5,
               max_rounds: int = 60):
    """Sampling box for a small C_h ([code] StateBox.find_box): start from s0 +- 1e-3, sample uniformly in the
    current extent of C_h widened 1.5x (clipped to the state box), widen the extent by the samples found in C_h, and
    stop when a round finds none beyond it. Like the code's, this assumes C_h is connected around s0."""
    lo = torch.as_tensor(np.asarray(task.box_low, np.float32)); hi = torch.as_tensor(np.asarray(task.box_high, np.float32))
    s0 = torch.as_tensor(np.asarray(task.s0, np.float32))
    mn, mx = s0 - 1e-3, s0 + 1e-3
    for _ in range(max_rounds):
        c, half = (mn + mx) / 2, (mx - mn) / 2 * expansion
        blo, bhi = torch.maximum(lo, c - half), torch.minimum(hi, c + half)
        s = blo + (bhi - blo) * torch.rand((n, task.n_obs), generator=gen)
        with torch.no_grad():
            ok = h(s) >= 0
        if not ok.any():
            break
        smin, smax = s[ok].min(0).values, s[ok].max(0).values
        if (smin >= mn).all() and (smax <= mx).all():
            break
        mn, mx = torch.minimum(mn, smin), torch.maximum(mx, smax)
    c, half = (mn + mx) / 2, (mx - mn) / 2 * expansion
    return torch.maximum(lo, c - half), torch.minimum(hi, c + half)


def sample_in_region(task: CrabsTask, h: Barrier, n: int, gen: torch.Generator, max_draws: int = 2000,
                     min_rate: float = 1e-3):
    """Uniform states in C_h = {h >= 0} and the certified-region fraction of the state box, by rejection sampling
    from the state box; when the first draw's hit rate is below min_rate (Move: C_h is ~1e-4 of the 4-D box), from
    region_box instead (fraction rescaled by the volume ratio)."""
    lo = torch.as_tensor(np.asarray(task.box_low, np.float32)); hi = torch.as_tensor(np.asarray(task.box_high, np.float32))
    vol_ratio = 1.0
    box_w, switched = hi - lo, False
    got, drawn, kept, i = [], 0, 0, 0
    while i < max_draws:
        s = lo + (hi - lo) * torch.rand((max(n, 10_000), task.n_obs), generator=gen)
        with torch.no_grad():
            ok = h(s) >= 0
        drawn += len(s); kept += int(ok.sum())
        got.append(s[ok])
        if kept >= n:
            break
        if i == 0 and not switched and kept < min_rate * drawn:   # restart in the region box (same budget)
            lo, hi = region_box(task, h, gen)
            vol_ratio, switched = float(torch.prod((hi - lo) / box_w)), True
            got, drawn, kept, i = [], 0, 0, -1
        i += 1
    s = torch.cat(got)[:n]
    return s, kept / drawn * vol_ratio


def gradient_attack(task, h, model, pi_mean, gen, n_particles=10_000, steps=100, lr=0.02, extra=None):
    """Adam ascent on U(s, pi(s), h) - 1000 relu(-h(s)) from >= 1e4 particles in C_h ([code] check_by_grad).
    Every iterate is checked, not only the last: a particle's record is the highest U it reached while inside C_h
    (any such state is a counterexample, and Adam iterates near the boundary of C_h oscillate in and out of it).
    Returns (max recorded U, the particles' recorded states sorted by U desc, their U)."""
    s, _ = sample_in_region(task, h, n_particles, gen)
    if extra is not None:
        s = torch.cat([s, extra])
    lo = torch.as_tensor(np.asarray(task.box_low, np.float32)); hi = torch.as_tensor(np.asarray(task.box_high, np.float32))
    half = (hi - lo) / 2
    z = ((s - (lo + hi) / 2) / half).clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    best_U = torch.full((len(s),), -float("inf"))
    best_s = s.clone()
    for _ in range(steps + 1):
        ss = (lo + hi) / 2 + z * half
        hv = h(ss)
        U = worst_case_U(h, model, ss, pi_mean(ss))
        with torch.no_grad():   # record this iterate (before the step) where it lies in C_h
            better = (hv >= 0) & (U > best_U)
            best_U = torch.where(better, U, best_U)
            best_s[better] = ss[better]
        if _ == steps:
            break
        obj = U - 1000.0 * F.relu(-hv)
        g, = torch.autograd.grad(-obj.sum(), z)   # input gradient only: no weight gradients are formed
        opt.zero_grad(); z.grad = g; opt.step()
        with torch.no_grad():
            z.clamp_(-1, 1)
    order = torch.argsort(best_U, descending=True)
    return float(best_U.max()), best_s[order], best_U[order]


def invariance_rate(task, h, pi_mean, gen, n=100_000):
    """Ground truth: P[h(T_true(s, pi(s))) >= 0 | h(s) >= 0] on n states sampled uniformly in C_h; also the rate at
    which the true next state is safe."""
    s, frac = sample_in_region(task, h, n, gen)
    with torch.no_grad():
        a = pi_mean(s)
        s2 = torch.as_tensor(task.true_step(s.numpy(), a.numpy()))
        h2 = h(s2)
        c = torch.as_tensor([ci[0] for ci in task.constraints])
        lb = torch.as_tensor([ci[1] for ci in task.constraints]); ub = torch.as_tensor([ci[2] for ci in task.constraints])
        safe = ((s2[:, c] >= lb) & (s2[:, c] <= ub)).all(-1)
    return {"n_states": len(s), "invariance_rate": float((h2 >= 0).float().mean()),
            "next_safe_rate": float(safe.float().mean()), "region_fraction": frac}


# ----------------------------------------------------------------------------------------------------------------------
# The learner
# ----------------------------------------------------------------------------------------------------------------------
def _atomic_torch_save(obj, path):
    tmp = f"{path}.tmp.{os.getpid()}"
    torch.save(obj, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Crabs:
    def __init__(self, task: CrabsTask, cfg: CrabsConfig, log_path: str | None = None, ckpt_path: str | None = None,
                 verbose: bool = True):
        self.task, self.cfg = task, cfg
        self.log_path, self.ckpt_path, self.verbose = log_path, ckpt_path, verbose
        torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        n, m = task.n_obs, task.n_act
        lo, hi = np.asarray(task.box_low, np.float32), np.asarray(task.box_high, np.float32)
        c, w = (lo + hi) / 2, (hi - lo) / 2
        self.h = Barrier(task, cfg.f_hidden)
        self.policy = TanhGaussianPolicy(n, m, cfg.policy_hidden, c, w)
        self.q = TwinQ(n, m, cfg.sac.q_hidden, c, w)
        self.model = GaussianEnsemble(n, m, cfg.n_models, cfg.model_hidden, cfg.model_layers)
        cfg.sac.log_alpha0 = cfg.log_alpha0
        self.sac = SAC(self.policy, self.q, cfg.sac)
        self.adv_period = cfg.adv_period_min
        self.opt_model = torch.optim.Adam(self.model.parameters(), lr=cfg.model_lr, weight_decay=cfg.model_wd)
        self.opt_h = torch.optim.Adam(self.h.parameters(), lr=cfg.h_lr, weight_decay=cfg.h_wd)
        self.opt_adv = torch.optim.Adam(self.policy.parameters(), lr=cfg.adv_lr, weight_decay=cfg.adv_wd)
        self.mala = Mala(task, cfg.n_chains, cfg.mala_lambda1, cfg.mala_eta0, cfg.mala_target_acc, self.gen,
                         cfg.mala_adapt_rate)
        self.buf = ReplayBuffer(n, m, 200_000)
        self.env = task.make_env()
        self.accepted = None           # frozen (h, pi_ref, T_hat) triple used for exploration
        self.h_hat = None              # previous accepted certificate for Reg (Eq. 5)
        self.counts = {"init_steps": 0, "init_violations": 0, "warmup_steps": 0, "warmup_violations": 0,
                       "explore_steps": 0, "explore_violations": 0, "eval_steps": 0, "eval_violations": 0,
                       "explore_fallbacks": 0, "explore_left_certified_region": 0}
        self.epoch = 0                 # number of finished epochs
        self.epoch_part = 0            # finished parts of the running epoch (collect+model, policy, cert)
        self.partial: dict = {}        # that epoch's log entries so far
        self.unit_walls: dict = {}     # wall-clock of each unit of work (for the deadline estimate)
        self.stage = "new"
        self.records: list[dict] = []
        self.t_start = time.time()
        self.wall_before = 0.0

    # -- bookkeeping -----------------------------------------------------------------------------------------------
    def log(self, rec: dict):
        rec = {"t": round(self.wall_before + time.time() - self.t_start, 2), **rec}
        self.records.append(rec)
        if self.verbose:
            print(json.dumps(rec), flush=True)
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps(rec) + "\n")

    @property
    def real_steps(self):
        c = self.counts
        return c["init_steps"] + c["warmup_steps"] + c["explore_steps"] + c["eval_steps"]

    @property
    def violations(self):
        c = self.counts
        return c["init_violations"] + c["warmup_violations"] + c["explore_violations"] + c["eval_violations"]

    def _run_episode(self, act_fn, bucket: str, store: bool):
        obs, _ = self.env.reset()
        ret, steps, viol = 0.0, 0, 0
        while True:
            a = act_fn(obs)
            obs2, r, term, trunc, info = self.env.step(a)
            steps += 1
            unsafe = bool(info.get("unsafe", False))
            viol += unsafe
            ret += r
            if store:
                self.buf.add(obs, a, r, obs2, term)
            obs = obs2
            if term or trunc or unsafe or steps >= self.task.horizon:
                break
        self.counts[f"{bucket}_steps"] += steps
        self.counts[f"{bucket}_violations"] += viol
        return ret, steps, viol

    # -- initial safe policy -----------------------------------------------------------------------------------------
    def make_initial_policy(self):
        """Documented procedure (replaces the paper's 'first safe checkpoint of a penalised SAC run'):
        behaviour-clone the task's hand-designed prior controller into tanh(mu_theta(s)) on states drawn uniformly from
        the state box (no environment interaction), then verify it with ``init_verify_episodes`` real roll-outs,
        which are counted in the 'init' bucket. log sigma is trained towards a small exploration scale (sigma=0.3)."""
        lo = torch.as_tensor(np.asarray(self.task.box_low, np.float32)); hi = torch.as_tensor(np.asarray(self.task.box_high, np.float32))
        opt = torch.optim.Adam(self.policy.parameters(), lr=3e-3)
        for _ in range(self.cfg.init_bc_steps):
            s = lo + (hi - lo) * torch.rand((512, self.task.n_obs), generator=self.gen)
            target = torch.as_tensor(self.task.prior_controller(s.numpy()), dtype=torch.float32).clamp(-0.97, 0.97)
            mu, ls = self.policy.dist_params(s)
            loss = ((mu - torch.atanh(target)) ** 2).mean() + ((ls - math.log(0.3)) ** 2).mean()
            opt.zero_grad(); loss.backward(); opt.step()
        self.initial_policy = copy.deepcopy(self.policy).requires_grad_(False)
        rets = []
        for _ in range(self.cfg.init_verify_episodes):
            ret, _, viol = self._run_episode(self.act_certified, "init", store=True)
            rets.append(ret)
        self.init_return = float(np.mean(rets))
        self.log({"stage": "initial_policy", "return": self.init_return, **self.counts})

    def act_certified(self, obs):
        with torch.no_grad():
            pi = self.accepted["policy"] if self.accepted else self.policy
            return pi.mean_action(torch.as_tensor(obs, dtype=torch.float32)[None])[0].numpy()

    def init_certificate_shape(self):
        """OUR ADDITION (not in the paper): before Alg. 1 pre-training, regress f_phi so that the initial C_h is a chosen
        ellipsoid {V(s) <= c}: f(s) - f(s0) ~ ln(e-1) ((V(s) - V(s0)) / (c - V(s0)))^p, so softplus = 1 on {V = c}.
        A randomly initialised f makes C_h cover every velocity in the box, where the model has seen no data; Alg. 1
        then spends its budget shrinking it. V and c come from ``init_region_shape`` (CrabsConfig)."""
        n = self.buf.n
        S = torch.as_tensor(self.buf.s[:n])
        s0 = self.h.s0[None]
        if self.cfg.init_region_shape == "lyapunov":
            (V, c), p = self._lyapunov_shape(), self.cfg.init_lyap_power
        elif self.cfg.init_region_shape == "ellipsoid":
            m, cov = S.mean(0), torch.cov(S.T) + 1e-3 * torch.eye(S.shape[1])
            P = torch.linalg.inv(cov)
            V = lambda x: (((x - m) @ P) * (x - m)).sum(-1)   # squared Mahalanobis distance to the warm-up states
            c, p = max(self.cfg.init_region_r ** 2, float(V(s0)) + 1.0), 1.0
        else:
            raise ValueError(f"init_region_shape must be 'ellipsoid' or 'lyapunov', got {self.cfg.init_region_shape!r}")
        v0 = float(V(s0))
        kappa = math.log(math.e - 1)
        lo = torch.as_tensor(np.asarray(self.task.box_low, np.float32)); hi = torch.as_tensor(np.asarray(self.task.box_high, np.float32))
        opt = torch.optim.Adam(self.h.parameters(), lr=3e-3)
        for _ in range(self.cfg.init_region_steps):
            s = torch.cat([lo + (hi - lo) * torch.rand((512, self.task.n_obs), generator=self.gen),
                           S[torch.randint(n, (256,), generator=self.gen)]])
            target = (kappa * ((V(s) - v0) / (c - v0)).clamp_min(0.0) ** p).clamp(-3.0, 10.0)
            loss = ((self.h.f_val(s) - self.h.f_val(self.h.s0) - target) ** 2).mean()
            opt.zero_grad(); loss.backward(); opt.step()

    def _lyapunov_shape(self):
        """Returns (V, c): V(s) = (s - s0)' P (s - s0) with A' P A - P = -Q: P solves the discrete Lyapunov equation of the learned
        model's closed loop linearised at s0, A = d/ds mean_k mu_k(s, pi_init(s)) (data-driven: only the ensemble and
        pi_init are used), Q = diag(1 / box half-width^2). The level c is the largest with the ellipsoid inside
        init_lyap_level x the box half-widths in every coordinate (max |s_i - s0_i| on {V <= c} is sqrt(c (P^-1)_ii)).
        Sublevel sets of V are invariant for the linearised closed loop, and p > 1 makes f steep near {V = c}, so the
        one-step rise h(s') - h(s) >= eps_m is reachable (with p = 1, (1 - V'/V) must exceed ~13% per step there)."""
        s0 = self.h.s0
        pi = self.policy.mean_action
        with torch.enable_grad():
            A = torch.autograd.functional.jacobian(
                lambda x: self.model.means(x[None], pi(x[None]))[:, 0].mean(0), s0).detach().double().numpy()
        n = len(s0)
        if np.abs(np.linalg.eigvals(A)).max() >= 1.0:
            raise RuntimeError("init_region_shape='lyapunov': the learned closed loop under pi_init is not stable at s0 "
                               f"(|eig| = {np.abs(np.linalg.eigvals(A)).round(3)}); use 'ellipsoid'")
        hw = (np.asarray(self.task.box_high, np.float64) - np.asarray(self.task.box_low, np.float64)) / 2
        Q = np.diag(1.0 / hw ** 2)
        P = np.linalg.solve(np.eye(n * n) - np.kron(A.T, A.T), Q.reshape(-1)).reshape(n, n)
        P = (P + P.T) / 2
        Pi = np.linalg.inv(P)
        c = float(min((self.cfg.init_lyap_level * hw[i]) ** 2 / Pi[i, i] for i in range(n)))
        Pt = torch.as_tensor(P, dtype=torch.float32)
        return (lambda x: (((x - s0) @ Pt) * (x - s0)).sum(-1)), c

    # -- dynamics (Eq. 6) ------------------------------------------------------------------------------------------
    def train_model(self, steps: int):
        K, B, n = self.cfg.n_models, self.cfg.model_batch, self.buf.n
        S, A, S2 = (torch.as_tensor(x[:n]) for x in (self.buf.s, self.buf.a, self.buf.s2))
        for _ in range(steps):
            idx = torch.randint(n, (K, B), generator=self.gen)   # own (bootstrap) batch per member
            loss, mse = self.model.nll(S[idx], A[idx], S2[idx])
            self.opt_model.zero_grad(); loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.model_grad_clip)
            self.opt_model.step()
        return float(loss.detach()), float(mse.detach())

    # -- U helpers ---------------------------------------------------------------------------------------------------
    def U(self, s, a, h=None, model=None):
        return worst_case_U(h or self.h, model or self.model, s, a)

    # -- certificate (Alg. 1 with the corrected Eq. 4 and Eq. 5) -------------------------------------------------------
    def cert_step(self, margin: float, use_reg: bool):
        """One Alg.-1 iteration: a MALA step, then a phi-step on avg_W[U + lambda* h] (+ 0.001 Reg)."""
        pi = self.policy.mean_action
        U_fn = lambda s: self.U(s, pi(s))
        acc = self.mala.step(U_fn, self.h)
        s = self.mala.states.detach()
        with torch.no_grad():
            U_s, h_s = U_fn(s), self.h(s)
        W = (h_s >= 0) & (U_s + margin > 0)
        loss = torch.zeros(())
        n_w = int(W.sum())
        if n_w:
            sw = s[W].clone().requires_grad_(True)
            Uw, hw = U_fn(sw), self.h(sw)
            gU, = torch.autograd.grad(Uw.sum(), sw, retain_graph=True)
            gh, = torch.autograd.grad(hw.sum(), sw, retain_graph=True)
            lam = (gU.norm(dim=-1) / gh.norm(dim=-1).clamp_min(1e-6)).detach()    # Lemma 1
            loss = loss + (Uw + lam * hw).mean()
        if use_reg and self.h_hat is not None:
            with torch.no_grad():
                hh = self.h_hat(s)
            loss = loss + self.cfg.reg_coef * F.relu(hh - self.h(s)).mean()         # Eq. 5
        if loss.requires_grad:
            self.opt_h.zero_grad(); loss.backward(); self.opt_h.step()
        return n_w, acc, float(U_s.max())

    def certify(self, margin: float, max_steps: int, use_reg: bool, lr: float):
        """Train h for the CURRENT policy and model; accept after cert_clean_steps clean steps + a passing gradient
        attack, otherwise revert h to the last accepted certificate. Returns (accepted, info)."""
        cfg = self.cfg
        for g in self.opt_h.param_groups:
            g["lr"] = lr
        pi = self.policy.mean_action
        U_fn = lambda s: self.U(s, pi(s))
        accs, moves = [], []
        for _ in range(cfg.cert_warmup_mala):
            accs.append(self.mala.step(U_fn, self.h)); moves.append(self.mala.move_rate)
        clean, steps, n_cex_total, attack_fail, attack_wall, attack_steps = 0, 0, 0, 0, 0.0, 0
        observing, n_reinit = False, 0
        ok = False
        max_U_attack = float("nan")
        while steps < max_steps:
            n_w, acc, _ = self.cert_step(margin, use_reg)
            accs.append(acc); moves.append(self.mala.move_rate)
            steps += 1
            n_cex_total += n_w
            clean = 0 if n_w else clean + 1
            if steps % cfg.cert_log_every == 0:   # progress of long certifications (Move pre-training)
                self.log({"stage": "cert_progress", "cert_steps": steps, "cert_counterexamples": n_cex_total,
                          "chain_restarts": n_reinit, "attack_failures": attack_fail,
                          "mala_acceptance": float(np.mean(accs[-cfg.cert_log_every:])),
                          "region_fraction": sample_in_region(self.task, self.h, 2000, self.gen, max_draws=1)[1]})
            if not observing and clean >= max(1, int(cfg.cert_reinit_frac * cfg.cert_clean_steps)):
                # [code] 'observation period': restart the chains uniformly in C_h, then count clean steps afresh
                self.mala.reinit(sample_in_region(self.task, self.h, len(self.mala.z), self.gen)[0])
                observing, clean, n_reinit = True, 0, n_reinit + 1
                continue
            if n_w:
                observing = False
            if observing and clean >= cfg.cert_clean_steps:
                t_a = time.time()
                # gate: a short gradient attack; only a certificate that survives it gets the full audit attack
                max_U_attack, s_sorted, U_sorted = gradient_attack(
                    self.task, self.h, self.model, pi, self.gen, cfg.audit_particles, cfg.audit_attack_steps,
                    cfg.audit_attack_lr, extra=self.mala.states.detach())
                attack_steps = cfg.audit_attack_steps
                if max_U_attack <= 0.0 and cfg.audit_full_attack_steps > cfg.audit_attack_steps:
                    max_U_attack, s_sorted, U_sorted = gradient_attack(
                        self.task, self.h, self.model, pi, self.gen, cfg.audit_particles, cfg.audit_full_attack_steps,
                        cfg.audit_attack_lr, extra=self.mala.states.detach())
                    attack_steps = cfg.audit_full_attack_steps
                attack_wall += time.time() - t_a
                if max_U_attack <= 0.0:
                    ok = True
                    break
                attack_fail += 1
                bad = s_sorted[U_sorted > -margin]
                with torch.no_grad():
                    self.mala.inject(bad, U_fn(self.mala.states))
                clean, observing = 0, False
        with torch.no_grad():
            _, frac = sample_in_region(self.task, self.h, 20_000, self.gen, max_draws=1)
        info = {"cert_steps": steps, "cert_counterexamples": n_cex_total, "attack_failures": attack_fail,
                "chain_restarts": n_reinit,
                "attack_max_U": max_U_attack, "attack_wall_s": attack_wall, "mala_acceptance": float(np.mean(accs)) if accs else float("nan"),
                "mala_move_rate": float(np.mean(moves)) if moves else float("nan"),
                "region_fraction_trained": frac}
        if ok:
            self.accept()
            # audit of this accepted certificate (issue 4): the acceptance attack above used audit_particles (>= 1e4)
            # particles x audit_attack_steps Adam steps; add the ground-truth invariance rate on >= 1e5 states in C_h
            if cfg.audit_invariance_each:
                t0 = time.time()
                inv = invariance_rate(self.task, self.accepted["h"], self.accepted["policy"].mean_action, self.gen,
                                      cfg.audit_invariance_states)
                info["audit"] = {"attack_particles": len(s_sorted) - len(self.mala.z), "attack_steps": attack_steps,
                                 "attack_max_U": max_U_attack, "attack_pass": max_U_attack <= 0.0, **inv,
                                 "wall_s": time.time() - t0}
        elif self.accepted is not None:
            self.h.load_state_dict(self.accepted["h"].state_dict())   # revert on failed certification
            self.opt_h = torch.optim.Adam(self.h.parameters(), lr=cfg.h_lr, weight_decay=cfg.h_wd)
        return ok, info

    def accept(self):
        """Freeze the (h, pi_ref, T_hat) triple that was certified together; exploration uses only this triple."""
        freeze = lambda m: copy.deepcopy(m).requires_grad_(False).eval()
        self.accepted = {"h": freeze(self.h), "policy": freeze(self.policy), "model": freeze(self.model)}
        self.h_hat = self.accepted["h"]

    # -- safe exploration (Alg. 3) -----------------------------------------------------------------------------------
    def safe_explore_action(self, obs):
        acc = self.accepted
        s = torch.as_tensor(obs, dtype=torch.float32)[None]
        with torch.no_grad():
            a_ref = acc["policy"].mean_action(s)[0]
            if acc["h"](s)[0] < 0:     # outside the certified region: no guarantee; use pi_ref and record it
                self.counts["explore_left_certified_region"] += 1
                return a_ref.numpy()
            mu, ls = acc["policy"].dist_params(s)
            n = self.cfg.explore_n
            scale = torch.logspace(0, -3, n).unsqueeze(-1)          # [code] noise decays from 1 to 1e-3
            zeta = torch.randn((n, self.task.n_act), generator=self.gen)
            a = torch.tanh(mu + scale * zeta * ls.exp())
            U = worst_case_U(acc["h"], acc["model"], s.expand(n, -1), a)
            ok = (U <= -self.cfg.margin).nonzero()
            if len(ok):
                return a[ok[0, 0]].numpy()
            self.counts["explore_fallbacks"] += 1
            return a_ref.numpy()

    # -- policy (Alg. 4: modified SAC Eq. 10-12 + adversarial step) ----------------------------------------------------
    def policy_step(self, i: int):
        cfg, sac = self.cfg, self.sac
        s, a, r, s2, d = self.buf.sample(cfg.sac.batch, self.rng)
        # Eq. 11: TD loss masked by 1[U(s', a') <= 0], a' ~ pi_expl(s')
        with torch.no_grad():
            a2, _ = self.policy.sample(s2, self.gen)
            mask = (self.U(s2, a2) <= 0).float()
        lq = sac.critic_loss(s, a, r, s2, d, mask)
        sac.opt_q.zero_grad(); lq.backward(); sac.opt_q.step()
        # Eq. 10: Q_hat = min(Q1, Q2) if U(s,a) <= 0 else -C - U(s,a)
        an, logp = self.policy.sample(s, self.gen)
        q1, q2 = self.q(s, an)
        Ua = self.U(s, an)
        q_hat = torch.where(Ua <= 0, torch.min(q1, q2), -cfg.penalty_C - Ua)
        lpi = (sac.log_alpha.exp().detach() * logp - q_hat).mean()
        sac.opt_pi.zero_grad(); lpi.backward(); sac.opt_pi.step()
        # Eq. 12
        la = -(sac.log_alpha.exp() * (logp.detach() + sac.target_entropy)).mean()
        sac.opt_alpha.zero_grad(); la.backward(); sac.opt_alpha.step()
        # adversarial policy step: MALA step, then theta-step on mean U over violating candidates
        n_adv = 0
        if i == 0:
            self.adv_due = 0.0
        if i >= self.adv_due:
            U_fn = lambda x: self.U(x, self.policy.mean_action(x))
            self.mala.step(U_fn, self.h)
            st = self.mala.states.detach()
            Us = U_fn(st)
            with torch.no_grad():
                bad = (self.h(st) >= 0) & (Us + cfg.margin > 0)
            n_adv = int(bad.sum())
            if n_adv:
                self.opt_adv.zero_grad(); Us[bad].mean().backward(); self.opt_adv.step()
            self.adv_period = min(max(self.adv_period * (0.5 if n_adv else 2.0), cfg.adv_period_min), cfg.adv_period_max)
            self.adv_due = i + self.adv_period
        sac.polyak()
        return float(lq.detach()), n_adv

    def q_warm(self, steps):
        for _ in range(steps):
            s, a, r, s2, d = self.buf.sample(self.cfg.sac.batch, self.rng)
            with torch.no_grad():
                a2, _ = self.policy.sample(s2, self.gen)
                mask = (self.U(s2, a2) <= 0).float()
            lq = self.sac.critic_loss(s, a, r, s2, d, mask)
            self.sac.opt_q.zero_grad(); lq.backward(); self.sac.opt_q.step(); self.sac.polyak()

    # -- setup and epochs --------------------------------------------------------------------------------------------
    def setup_warm(self):
        """Stage 1 of setup: pi_init (counted 'init' roll-outs), warm-up data (counted), model warm-up, C_h shape."""
        cfg = self.cfg
        t0 = time.time()
        self.make_initial_policy()
        # warm-up data: noise-perturbed pi_init roll-outs (counted in the 'warmup' bucket)
        pol = copy.deepcopy(self.policy)
        for _ in range(cfg.warmup_episodes):
            def act(o):
                with torch.no_grad():
                    a = pol.mean_action(torch.as_tensor(o, dtype=torch.float32)[None])[0].numpy()
                return np.clip(a + cfg.warmup_noise * self.rng.standard_normal(a.shape), -1, 1).astype(np.float32)
            self._run_episode(act, "warmup", store=True)
        n = self.buf.n
        self.model.set_normaliser(torch.as_tensor(self.buf.s[:n]), torch.as_tensor(self.buf.s2[:n]))
        t1 = time.time()
        nll, mse = self.train_model(cfg.model_warmup_steps)
        t2 = time.time()
        self.init_certificate_shape()
        self.stage = "warm"
        self.log({"stage": "setup_warm", "model_nll": nll, "model_mse": mse, **self.counts,
                  "phase_s": {"init_and_warmup": t1 - t0, "model": t2 - t1, "h_shape": time.time() - t2}})

    def setup_pretrain(self):
        """Stage 2 of setup: pre-train h for pi_init (Alg. 1 without Reg, margin 0.05; code's pretrain_h), Q warm-up."""
        cfg = self.cfg
        t0 = time.time()
        ok, info = self.certify(cfg.margin_pretrain, cfg.pretrain_max_steps, use_reg=False, lr=cfg.h_lr_pretrain)
        if not ok:
            raise RuntimeError(f"pre-training the certificate for pi_init failed: {info}")
        t1 = time.time()
        self.q_warm(cfg.q_warm_steps)
        self.stage = "epochs"
        self.log({"stage": "setup_pretrain", **info, **self.counts,
                  "phase_s": {"cert": t1 - t0, "q_warm": time.time() - t1}})

    def setup(self):
        self.setup_warm()
        self.setup_pretrain()

    # one epoch = three checkpointed parts, so a time-limited run always makes progress
    def epoch_collect_model(self):
        cfg = self.cfg
        t0 = time.time()
        # 1 COLLECT one episode with SAFE_EXPLORE under the last accepted triple
        ret, steps, viol = self._run_episode(self.safe_explore_action, "explore", store=True)
        # evaluation roll-out(s) of the certified mean policy (real env, counted)
        eval_rets = [self._run_episode(self.act_certified, "eval", store=True)[0] for _ in range(cfg.eval_episodes)]
        t1 = time.time()
        # 2 MODEL
        nll, mse = self.train_model(cfg.model_steps)
        self.partial = {"explore_return": ret, "explore_episode_violations": viol,
                        "eval_return": float(np.mean(eval_rets)) if eval_rets else None, "model_nll": nll,
                        "phase_s": {"collect": t1 - t0, "model": time.time() - t1}}
        self.epoch_part = 1

    def epoch_policy(self):
        # 4 POLICY (the authors' code runs the policy phase before certification)
        t0 = time.time()
        n_adv = 0
        for i in range(self.cfg.policy_steps):
            _, k = self.policy_step(i)
            n_adv += k
        self.partial["adv_counterexamples"] = n_adv
        self.partial["phase_s"]["policy"] = time.time() - t0
        self.epoch_part = 2

    def epoch_cert(self):
        cfg = self.cfg
        t3 = time.time()
        # 3 CERT for the new policy and model; accept or revert
        ok, info = self.certify(cfg.margin, cfg.cert_max_steps, use_reg=True, lr=cfg.h_lr)
        t4 = time.time()
        if not ok:
            # the policy that failed certification is reset to the last certified one
            self.policy.load_state_dict(self.accepted["policy"].state_dict())
        with torch.no_grad():
            _, frac = sample_in_region(self.task, self.accepted["h"], 20_000, self.gen, max_draws=1)
        self.epoch += 1
        self.epoch_part = 0
        part, self.partial = self.partial, {}
        phase = {**part.pop("phase_s"), "cert": t4 - t3, "region": time.time() - t4}
        self.log({"epoch": self.epoch, "real_steps": self.real_steps, "violations": self.violations, **part,
                  "certified_region_fraction": frac, "certificate": "accepted" if ok else "reverted",
                  "alpha": float(self.sac.log_alpha.detach().exp()), "adv_period": self.adv_period, **info,
                  "epoch_wall_s": sum(phase.values()), **self.counts, "phase_s": phase})

    def run_epoch(self):
        self.epoch_collect_model(); self.epoch_policy(); self.epoch_cert()

    def train(self, deadline: float | None = None):
        """Run (or resume) setup and the epochs, checkpointing atomically after every stage/epoch. With ``deadline``
        (a time.time() value), stop cleanly after a checkpoint when the next unit of work is not expected to finish
        before it (estimate: the last logged duration of that unit); returns None when stopped early."""
        if self.ckpt_path and os.path.exists(self.ckpt_path):
            self.load(self.ckpt_path)
            self.log({"stage": "resumed", "epoch": self.epoch})

        def unit(kind, fn):
            """Run one unit of work and checkpoint; False (nothing run) if its last duration would overrun."""
            last = self.unit_walls.get(kind, [0.0])[-1]
            if deadline is not None and time.time() + last > deadline:
                return False
            t0 = time.time()
            fn()
            self.unit_walls.setdefault(kind, []).append(time.time() - t0)
            self.save()
            return True

        for stage, kind, fn in (("new", "setup_warm", self.setup_warm), ("warm", "setup_pretrain", self.setup_pretrain)):
            if self.stage == stage and not unit(kind, fn):
                return None
        parts = [("epoch_collect_model", self.epoch_collect_model), ("epoch_policy", self.epoch_policy),
                 ("epoch_cert", self.epoch_cert)]
        while self.epoch < self.cfg.epochs:
            if not unit(*parts[self.epoch_part]):
                return None
        if self.stage == "epochs":
            # return of the FINAL accepted pi_ref from s0, same env, horizon and counting as pi_init's 'init' roll-out
            self.final_return = float(np.mean([self._run_episode(self.act_certified, "eval", store=False)[0]
                                               for _ in range(self.cfg.init_verify_episodes)]))
            self.stage = "done"
            self.log({"stage": "final_eval", "return": self.final_return, **self.counts})
            self.save()
        return self.summary()

    def summary(self):
        eps = [r for r in self.records if "epoch" in r and "real_steps" in r]
        return {"algorithm": "CRABS", "task": self.task.name, "seed": self.cfg.seed, "epochs": self.epoch,
                "real_steps": self.real_steps, "violations": self.violations, **self.counts,
                "init_return": getattr(self, "init_return", None),
                "final_return": getattr(self, "final_return", None),
                "final_eval_return": eps[-1]["eval_return"] if eps else None,
                "final_explore_return": eps[-1]["explore_return"] if eps else None,
                "certified_region_fraction": eps[-1]["certified_region_fraction"] if eps else None,
                "accepted": sum(r["certificate"] == "accepted" for r in eps),
                "reverted": sum(r["certificate"] == "reverted" for r in eps),
                "wall_s": self.wall_before + time.time() - self.t_start}

    # -- audit of the accepted certificate -------------------------------------------------------------------------
    def audit(self, n_particles=None, attack_steps=None, n_states=None):
        cfg, acc = self.cfg, self.accepted
        pi = acc["policy"].mean_action
        max_U, s_att, _ = gradient_attack(self.task, acc["h"], acc["model"], pi, self.gen,
                                          n_particles or cfg.audit_particles, attack_steps or 1000, cfg.audit_attack_lr)
        inv = invariance_rate(self.task, acc["h"], pi, self.gen, n_states or cfg.audit_invariance_states)
        return {"attack_particles": len(s_att), "attack_steps": attack_steps or 1000, "attack_max_U": max_U,
                "attack_pass": max_U <= 0.0, **inv}

    # -- checkpoint / resume (atomic) --------------------------------------------------------------------------------
    def save(self, path=None):
        path = path or self.ckpt_path
        if not path:
            return
        st = {"cfg": asdict(self.cfg), "epoch": self.epoch, "stage": self.stage, "counts": self.counts,
              "records": self.records, "init_return": getattr(self, "init_return", None),
              "final_return": getattr(self, "final_return", None),
              "initial_policy": self.initial_policy.state_dict() if hasattr(self, "initial_policy") else None,
              "wall": self.wall_before + time.time() - self.t_start,
              "h": self.h.state_dict(), "policy": self.policy.state_dict(), "q": self.q.state_dict(),
              "q_targ": self.sac.q_targ.state_dict(), "log_alpha": self.sac.log_alpha.detach().clone(),
              "model": self.model.state_dict(),
              "opt": {k: o.state_dict() for k, o in (("pi", self.sac.opt_pi), ("q", self.sac.opt_q),
                      ("alpha", self.sac.opt_alpha), ("model", self.opt_model), ("h", self.opt_h), ("adv", self.opt_adv))},
              "accepted": None if self.accepted is None else {k: v.state_dict() for k, v in self.accepted.items()},
              "mala": self.mala.state_dict(), "buf": self.buf.state_dict(), "adv_period": self.adv_period,
              "epoch_part": self.epoch_part, "partial": self.partial, "unit_walls": self.unit_walls,
              "rng": {"torch": torch.get_rng_state(), "gen": self.gen.get_state(), "np": self.rng.bit_generator.state}}
        _atomic_torch_save(st, path)

    def load(self, path):
        st = torch.load(path, weights_only=False)
        self.epoch, self.stage, self.counts, self.records = st["epoch"], st["stage"], st["counts"], st["records"]
        self.init_return, self.wall_before, self.t_start = st["init_return"], st["wall"], time.time()
        self.final_return = st.get("final_return")
        if st.get("initial_policy") is not None:
            self.initial_policy = copy.deepcopy(self.policy).requires_grad_(False)
            self.initial_policy.load_state_dict(st["initial_policy"])
        self.h.load_state_dict(st["h"]); self.policy.load_state_dict(st["policy"]); self.q.load_state_dict(st["q"])
        self.sac.q_targ.load_state_dict(st["q_targ"]); self.model.load_state_dict(st["model"])
        with torch.no_grad():
            self.sac.log_alpha.copy_(st["log_alpha"])
        for k, o in (("pi", self.sac.opt_pi), ("q", self.sac.opt_q), ("alpha", self.sac.opt_alpha),
                     ("model", self.opt_model), ("h", self.opt_h), ("adv", self.opt_adv)):
            o.load_state_dict(st["opt"][k])
        if st["accepted"] is not None:
            self.accept()   # allocate frozen copies, then load the accepted weights
            for k in ("h", "policy", "model"):
                self.accepted[k].load_state_dict(st["accepted"][k])
            self.h_hat = self.accepted["h"]
        self.mala.load_state_dict(st["mala"]); self.buf.load_state_dict(st["buf"])
        self.adv_period = st.get("adv_period", self.cfg.adv_period_min)
        self.epoch_part, self.partial = st.get("epoch_part", 0), st.get("partial", {})
        self.unit_walls = st.get("unit_walls", {})
        torch.set_rng_state(st["rng"]["torch"]); self.gen.set_state(st["rng"]["gen"])
        self.rng.bit_generator.state = st["rng"]["np"]


# ----------------------------------------------------------------------------------------------------------------------
# Export for the shield's barrier filter (digest Sec. 7)
# ----------------------------------------------------------------------------------------------------------------------
class _BarrierGraph(nn.Module):
    """obs [B, n] -> h [B, 1]; f, f(s0) (as a constant) and B_safe baked in, normaliser inside."""

    def __init__(self, h: Barrier):
        super().__init__()
        self.h = copy.deepcopy(h)
        with torch.no_grad():
            self.register_buffer("f_s0", self.h.f_val(self.h.s0).reshape(()))

    def forward(self, obs):
        h = self.h
        return (1.0 - F.softplus(h.f_val(obs) - self.f_s0) - b_safe(obs, h.c_idx, h.c_lb, h.c_ub)).unsqueeze(-1)


class _DynamicsGraph(nn.Module):
    """obs [B, n], act [B, m] -> next_obs [B, K, n]: the K ensemble MEANS in raw units, normaliser inside."""

    def __init__(self, model: GaussianEnsemble):
        super().__init__()
        self.model = copy.deepcopy(model)

    def forward(self, obs, act):
        return self.model.means(obs, act).transpose(0, 1)


class _PolicyGraph(nn.Module):
    def __init__(self, policy: TanhGaussianPolicy):
        super().__init__()
        self.policy = copy.deepcopy(policy)

    def forward(self, obs):
        return self.policy.mean_action(obs)


def export_crabs_bundle(learner: Crabs, dest, obs_names=("theta", "theta_dot"), obs_units=("rad", "rad/s"),
                        act_names=("torque",), act_units=("1 (torque/2 N m)",), overwrite=True):
    """Export the last ACCEPTED (h, T_hat, pi_ref) triple as a 'barrier' bundle for the shield."""
    from safe_learners.export import GraphExport, export_bundle
    from safe_shield.bundle import VectorSpec
    task, acc = learner.task, learner.accepted
    obs = VectorSpec.make(list(obs_names), list(obs_units), list(map(float, task.box_low)),
                          list(map(float, task.box_high)))
    act = VectorSpec.make(list(act_names), list(act_units), [-1.0] * task.n_act, [1.0] * task.n_act)
    return export_bundle(
        dest, kind="barrier", name=f"crabs_{task.name}_seed{learner.cfg.seed}", observation=obs, action=act,
        graphs={"barrier": GraphExport(_BarrierGraph(acc["h"]), ("obs",), ("h",)),
                "dynamics": GraphExport(_DynamicsGraph(acc["model"]), ("obs", "act"), ("next_obs",)),
                "backup_policy": GraphExport(_PolicyGraph(acc["policy"]), ("obs",), ("act",))},
        filter={"type": "barrier", "margin": learner.cfg.margin, "num_candidates": 32, "dt": task.dt},
        fallback={"kind": "backup_policy"},
        provenance={"algorithm": "CRABS", "env": task.name, "seed": learner.cfg.seed, "dt": task.dt,
                    "training_steps": learner.real_steps, "violations": learner.violations,
                    "epochs": learner.epoch, "counts": dict(learner.counts)},
        overwrite=overwrite)
