"""FAC-SIS: feasible actor-critic (SAC-based) + safety-index synthesis (Ma et al., L4DC 2022).

One file, top to bottom (CleanRL style); equations of the paper / digest (shared/papers/sis.md) next to the lines.

    inner loop (FAC):   min_pi max_lambda  E_s[ -v^pi(s) + lambda(s) * Delta_phi(s) ]        (eq. 3/6)
    outer loop (SIS):   min_zeta J(zeta) = E_s[ [Delta_phi(s)]_+ ]                              (eq. 4)
    Delta_phi(s) = phi(s') - max{phi(s) - eta_D, 0},  phi = max_i sigma + d_min^n - d_i^n - k*ddot_i  (eq. 1, 11)

Choices where the digest lists ambiguities (sec. 8):
  * phi form: paper form sigma + d_min^n (not the learner's (sigma+d_min)^n); d_min from the env.
  * zeta loss: eq. 4 hinge mean([Delta_phi]_+) as in [code] (cfg.zeta_loss="hinge"); eq. 13's lambda-weighted
    form is available as cfg.zeta_loss="lambda".
  * Q_phi target: clip(Delta_phi, qphi_target_floor, inf), floor -0.001 [code] (Safety Gym: -0.05, see
    sis_experiment.SAFETY_GYM_FAC); the multiplier's ascent signal is clipped at lam_signal_floor = -0.001
    whatever the fit's floor.  Delta_phi recomputed with the CURRENT zeta from the stored per-obstacle
    (d, ddot) at t and t+1 on every batch.
  * multiplier update uses a ~ pi_theta(s) (paper App. B.1; [code] uses the buffer action, which drove lambda to
    lam_max everywhere on Safety Gym, RESULTS.md); threshold d = 0 [code]; lambda = softplus(.) with output
    bias -10 [code], clipped to [0, lam_max] in its own loss and stop-gradient in the policy loss.
  * multiplier step on the LOGIT x of lambda = softplus(x) (cfg.lam_step="logit", default): G = Q_phi * grad x,
    projected to x in [-10, softplus^-1(lam_max)], instead of App. B.1's Q_phi * grad lambda, whose factor
    sigmoid(x) left lambda(s) ~ 0 at the states before every hazard entry (FACSIS._lambda_step_logit;
    cfg.lam_step="paper" keeps B.1).
  * optional soft projection of that logit onto the same box (cfg.lam_box_weight > 0; default 0 = off): a network
    x(s) leaves the box by generalisation (x from -46 to +201 measured at 100k steps), so lambda reacts late where
    the policy starts to violate; the penalty is zero inside the box (same fixed points there).  Our departure.
  * optional floor on the multiplier in the POLICY step only (cfg.lam_floor > 0; default 0 = the paper): the
    policy is charged max(lambda(s), lam_floor) * Q_phi(s, a).  The multiplier network still learns lambda(s) as
    above, but it generalises from the many safe states and reads ~0 on the approach to a hazard, so without a
    floor nothing stops the policy from crossing phi = 0 there.  With the floored Q_phi target the floor acts only
    where an action can raise phi.  On Safety Gym it is applied in a second phase, after the policy has learned
    the task (scripts/sis_sweep.py --from --more; RESULTS.md "SIS", sixth stop).  Our departure.
  * optional back-off margin on the multiplier's constraint (cfg.lam_margin = eps > 0; default 0 = the paper):
    lambda(s) ascends on Q_phi(s, pi(s)) + eps, i.e. enforces phi(s') <= -eps outside the unsafe set, so it
    rises in the band the policy crosses on its way in rather than only after it has violated
    (FACSIS._lambda_signal).  The state-wise alternative to lam_floor.  Measured on Safety Gym: lambda(s) rises
    (batch mean 0.1-3 instead of ~0) but not to the ~30 the floor shows is needed, even over 150k steps
    (RESULTS.md "SIS", eighth stop).  Our departure.
  * optional pessimistic Q_phi (cfg.qphi_expectile = tau > 0.5; default 0.5 = the paper's squared error): Q_phi
    fits the tau-expectile of Delta_phi given (s, a), so rare dangerous transitions are not averaged away with
    look-alike benign ones.  Why: the policy, minimising lambda * Q_phi, finds the actions where Q_phi
    under-predicts (measured -0.042..-0.013 where the realised Delta_phi was +0.003..+0.040 before hazard
    entries).  At tau = 0.9 alone the error shrank (-0.008..-0.003) but the remaining entries did not go away
    (RESULTS.md "SIS", eighth stop); with the ensemble (qphi_ensemble = 5) they did (ninth stop).  Our departure.
  * optional ensemble Q_phi charged at its maximum (cfg.qphi_ensemble = K > 1; default 1 = the paper): K Q_phi
    networks, each fitted to the same Delta_phi targets from its own initialisation, and the policy step and the
    multiplier read max_k Q_phi^k(s, a) (pessimism over models, not over outcomes as qphi_expectile).  Why: the
    policy minimising lambda * Q_phi moves to the actions where one fitted Q_phi under-predicts; members can
    disagree off the data, where one member's hole is charged at another's value.  A continuation that changes K
    starts Q_phi afresh and regresses it on the buffer first (qphi_prefit_steps; FACSIS.load).  QEnsemble.  Measured on
    Safety Gym (phase 2, RESULTS.md "SIS", ninth stop): K = 5 alone still left Hazard0.30 seed 2 at 1 of 50
    episodes with cost (all members under-predict there alike); with qphi_expectile = 0.9 it is the phase-2
    recipe that took FAC-SIS to zero on the 12 point-task runs, at a lower return.  Our departure.
  * optional boundary replay for Q_phi (cfg.qphi_boundary_frac = f > 0; default 0 = the paper's uniform batch):
    Q_phi's step also fits f * batch_size rows drawn from the buffer rows whose phi(s) >= -qphi_boundary_band
    under the current zeta (re-selected every 1000 steps).  Why: there Q_phi decides whether the policy crosses
    phi = 0, yet they are a few % of the buffer, and the fitted Q_phi read -0.015 along a 0.43 m/s approach whose
    realised Delta_phi was +0.017..+0.033.  Measured: on the buffer's eq.-1-violating rows Q_phi's mean went from
    -0.006 to +0.002 (targets +0.014), but Hazard0.30 seed 2 had 2 of 50 episodes with cost (1 without); not used
    (RESULTS.md "SIS", ninth stop).  Our departure.
  * eta_D = 0, lam_max = 100 [code]; "<" implemented as <= -eps when COUNTING violations.
  * learning rates: cfg.preset="paper" is Table 4; preset "cpu" (default) scales the slow multiplier and SIS
    rates up because the paper's 5e-6 lambda rate over its 2e6 iterations cannot move lambda off
    softplus(-10) within a CPU budget of ~1e5 steps. The ORDER beta_zeta << beta_lambda << beta_pi
    (Assumption 1) and the intervals m_pi/m_lam/m_phi = 3/12/24 are kept (Safety Gym: 1/4/8, same ratios,
    safe_learners.sis_experiment.SAFETY_GYM_FAC).
  * action_repeat (default 1): one decision held for k env steps; the buffer row's Delta_phi spans the decision,
    while cost and eq.-1 violations are still counted on every env step.  Our departure for the 0.02-s Safety-Gym
    tasks (k = 4 there); alpha_init (unstated in the paper; 0.01 there) -- both measured in RESULTS.md "SIS".
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from safe_learners.sis_index import PHI_H, ZETA_HIGH, ZETA_LOW, delta_phi_np, delta_phi_torch, phi_max_np

EPS_VIOL = 1e-4


@dataclass
class SISConfig:
    env: str = "unicycle"              # "unicycle" (App. E.2) or a key registered in ENV_FACTORIES
    env_kwargs: dict = field(default_factory=dict)
    seed: int = 0
    total_steps: int = 100_000         # env steps (one gradient step per env step after learning_starts)
    learning_starts: int = 2_000       # uniform-random actions before that
    buffer_size: int = 500_000         # Table 4
    batch_size: int = 256              # Table 4
    hidden: int = 256                  # Table 4: 2 x 256 ELU
    gamma: float = 0.99
    tau: float = 0.005
    preset: str = "cpu"                # "paper" (Table 4 rates) or "cpu" (see module doc)
    lr_actor: tuple = (3e-5, 1e-6)     # linear annealing start -> end (Table 4)
    lr_critic: tuple = (8e-5, 1e-6)
    lr_lambda: tuple = (5e-6, 5e-6)
    lr_alpha: tuple = (8e-5, 8e-6)
    lr_zeta: tuple = (8e-6, 1e-6)
    m_pi: int = 3                      # policy update interval
    m_lam: int = 12                    # multiplier ascent interval
    m_phi: int = 24                    # SIS interval
    lam_max: float = 100.0
    lam_bias_init: float = -10.0
    lam_step: str = "logit"            # "logit" (projected ascent on x, lambda = softplus(x); see
    #                                    _lambda_step_logit) | "paper" (G = Q_phi * grad lambda, App. B.1)
    eta_d: float = 0.0
    qphi_target_floor: float = -0.001  # [code]: Q_phi target clip(Delta_phi, -0.001, inf)
    lam_signal_floor: float = -0.001   # the multiplier's ascent signal is clip(Q_phi, this, inf) ([code]'s floor)
    lam_floor: float = 0.0             # policy step only: max(lambda(s), lam_floor) weighs Q_phi (see _policy_step)
    lam_margin: float = 0.0            # multiplier enforces Q_phi(s, pi(s)) <= -lam_margin (see _lambda_signal)
    qphi_expectile: float = 0.5        # Q_phi fits this expectile of Delta_phi given (s, a); 0.5 = the paper's MSE
    qphi_ensemble: int = 1             # K > 1: K Q_phi members, policy and multiplier read their max (QEnsemble)
    qphi_prefit_steps: int = 20_000    # a Q_phi started afresh by load() is regressed this long on the buffer first
    qphi_boundary_frac: float = 0.0    # > 0: Q_phi also fits this fraction of a batch from near-boundary rows
    qphi_boundary_band: float = 0.1    # ... the rows with phi(s) >= -band under the current zeta
    lam_box_weight: float = 0.0        # > 0: soft projection of the logit x(s) onto [lam_bias_init,
    #                                    softplus^-1(lam_max)] (see _lambda_step_logit); 0 = mask only
    grad_clip: float = 10.0
    grad_clip_lambda: float = 3.0
    grad_clip_zeta: float = 1.0        # Prop. 9 clipped step
    learn_zeta: bool = True            # False = the FAC baselines with a fixed index
    zeta_init: tuple = PHI_H           # (sigma, n, k); Sec. 5.2: SIS starts from phi_h
    zeta_loss: str = "hinge"           # "hinge" (eq. 4, [code]) | "lambda" (eq. 13)
    sis_start: int = 10_000            # [code] starts SIS after 1e5 of 2e6 steps; scaled to our budget
    log_std_bounds: tuple = (-5.0, 1.0)
    action_repeat: int = 1             # env steps per decision (our departure for dt = 0.02 s tasks, see doc)
    action_scale: float = 1.0          # env action = clip(scale * tanh-action, -1, 1); [code] uses 10 on Safety Gym
    alpha_init: float = 1.0            # initial entropy temperature (not stated in the paper)
    epoch_steps: int = 5_000           # per-epoch log
    eval_episodes: int = 5
    checkpoint_every: int = 25_000
    run_dir: str = "runs/sis"
    threads: int = 1

    def __post_init__(self):
        if self.preset == "cpu":           # replaces only rates left at their Table-4 defaults
            table4 = SISConfig.__dataclass_fields__
            for name, lr in (("lr_actor", (3e-4, 3e-5)), ("lr_critic", (8e-4, 3e-5)), ("lr_alpha", (3e-4, 3e-5)),
                             ("lr_lambda", (1e-3, 1e-4)),    # slower than the policy via m_lam = 4 * m_pi
                             ("lr_zeta", (2e-3, 2e-4))):     # slowest: m_phi = 2 * m_lam, Prop.-9 clipped step
                if tuple(getattr(self, name)) == table4[name].default:
                    setattr(self, name, lr)
        self.zeta_init = tuple(float(z) for z in self.zeta_init)
        self.lr_actor, self.lr_critic, self.lr_lambda, self.lr_alpha, self.lr_zeta = (
            tuple(x) for x in (self.lr_actor, self.lr_critic, self.lr_lambda, self.lr_alpha, self.lr_zeta))


# ----------------------------------------------------------------------------------------------- envs
def _make_unicycle(**kw):
    from safe_learners.sis_unicycle import UnicycleHazardEnv
    return UnicycleHazardEnv(**kw)


class SafetyGymAdapter:
    """Thin adapter for sim.safety_gym (SafeShield/{Point,Car}Goal-{Hazard,Pillar}{size}-v0): maps the env's
    ground-truth info["obstacle_d"/"obstacle_ddot"] to the "d"/"ddot" FAC-SIS stores, and sets d_min:
    hazard radius for hazards, radius + 0.4 keep-out - 0.3 for pillars ([code], digest sec. 5)."""

    def __init__(self, env_id, **kw):
        import gymnasium as gym

        import sim  # noqa: F401  (registers the environments)
        self.env = gym.make(env_id, **{"geometry_info": True, **kw})  # d, ḋ in every info
        u = self.env.unwrapped
        self.observation_space, self.action_space = self.env.observation_space, self.env.action_space
        self.n_obstacles = int(u.num_obstacles)
        self.d_min = float(u.obstacle_radius) + (0.1 if u.obstacle == "pillar" else 0.0)

    @staticmethod
    def _map(info):
        info = dict(info)
        info["d"], info["ddot"] = info["obstacle_d"], info["obstacle_ddot"]
        return info

    def reset(self, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, self._map(info)

    def step(self, a):
        obs, r, term, trunc, info = self.env.step(a)
        return obs, r, term, trunc, self._map(info)


def _make_safety_gym(env_id="SafeShield/PointGoal-Hazard0.30-v0", **kw):
    return SafetyGymAdapter(env_id, **kw)


ENV_FACTORIES = {"unicycle": _make_unicycle, "safety_gym": _make_safety_gym}


def obstacle_terms(info):
    """Per-obstacle (d, ddot) arrays from an env info dict (keys "d", "ddot")."""
    return np.asarray(info["d"], dtype=np.float32).reshape(-1), np.asarray(info["ddot"], dtype=np.float32).reshape(-1)


def evaluate_episode(env, policy, seed, d_min, indices, eta_d=0.0, action_repeat=1):
    """One evaluation episode of `policy` (obs -> action): return, episodic cost, cost steps, and eq.-1 violations
    (Delta_phi > -EPS_VIOL) counted under each index of `indices` {name: (sigma, n, k)}.  Shared by every
    method so PPO-Lagrangian and the FAC variants are scored by the same code."""
    obs, info = env.reset(seed=seed)
    d, dd = obstacle_terms(info)
    ret = cost = 0.0
    csteps = steps = 0
    viol = dict.fromkeys(indices, 0)
    while True:
        if steps % action_repeat == 0:            # a new decision every `action_repeat` env steps
            a = policy(obs)
        obs, r, term, trunc, info = env.step(a)
        d2, dd2 = obstacle_terms(info)
        for name, z in indices.items():
            viol[name] += int(delta_phi_np(d, dd, d2, dd2, z, d_min, eta_d) > -EPS_VIOL)
        c = float(info.get("cost", 0.0))
        cost += c
        csteps += int(c > 0)
        ret += r
        steps += 1
        d, dd = d2, dd2
        if term or trunc:
            break
    row = dict(seed=seed, ret=ret, cost=cost, cost_steps=csteps, steps=steps,
               **{f"eq1_viol_{k}": v for k, v in viol.items()})
    if "own" in viol:
        row["eq1_viol"] = viol["own"]
    return row


# ----------------------------------------------------------------------------------------------- nets
def mlp(i, o, h):
    return nn.Sequential(nn.Linear(i, h), nn.ELU(), nn.Linear(h, h), nn.ELU(), nn.Linear(h, o))


class Actor(nn.Module):
    """tanh-Gaussian policy, log sigma in [-5, 1] [code]; samples in [-1, 1]^dim (the critics' action space).
    The env gets clip(scale * a, -1, 1) ([code]: scale 10 on Safety Gym, so |a| > 0.1 is full force)."""

    def __init__(self, obs_dim, act_dim, hidden, log_std_bounds, action_scale=1.0):
        super().__init__()
        self.net = mlp(obs_dim, 2 * act_dim, hidden)
        self.lo, self.hi = log_std_bounds
        self.scale = float(action_scale)

    def env_action(self, a):
        return a if self.scale == 1.0 else torch.clamp(self.scale * a, -1.0, 1.0)

    def forward(self, obs):
        mu, log_std = self.net(obs).chunk(2, dim=-1)
        return mu, log_std.clamp(self.lo, self.hi)

    def sample(self, obs):
        mu, log_std = self(obs)
        std = log_std.exp()
        x = mu + std * torch.randn_like(mu)                       # reparameterisation a = f_theta(eps; s)
        a = torch.tanh(x)
        logp = (-0.5 * ((x - mu) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - (2 * (math.log(2) - x - F.softplus(-2 * x))).sum(-1)   # tanh change of variables
        return a, logp

    def act_det(self, obs):
        """Deterministic ENV action (used by evaluation and the exported policy)."""
        return self.env_action(torch.tanh(self(obs)[0]))


class QNet(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden):
        super().__init__()
        self.net = mlp(obs_dim + act_dim, 1, hidden)

    def forward(self, o, a):
        return self.net(torch.cat([o, a], -1)).squeeze(-1)


class QEnsemble(nn.Module):
    """K Q_phi(s, a) members (mlp's 2 x hidden ELU shape, nn.Linear's initialisation each) evaluated as one batched
    matmul; forward() is their maximum, the value the policy and the multiplier are charged, members() all K.
    One (K, in, out) weight per layer, so K members cost about one network's Python overhead."""

    def __init__(self, obs_dim, act_dim, hidden, k):
        super().__init__()
        dims = (obs_dim + act_dim, hidden, hidden, 1)
        self.w, self.b = nn.ParameterList(), nn.ParameterList()
        for i, o in zip(dims[:-1], dims[1:]):
            layers = [nn.Linear(i, o) for _ in range(k)]
            self.w.append(nn.Parameter(torch.stack([lin.weight.detach().T for lin in layers])))      # (K, in, out)
            self.b.append(nn.Parameter(torch.stack([lin.bias.detach() for lin in layers])[:, None]))  # (K, 1, out)

    def members(self, o, a):
        x = torch.cat([o, a], -1).unsqueeze(0)                    # (1, B, in), broadcast over the K members
        for j, (w, b) in enumerate(zip(self.w, self.b)):
            x = x @ w + b
            if j < len(self.w) - 1:
                x = F.elu(x)
        return x.squeeze(-1)                                      # (K, B)

    def forward(self, o, a):
        return self.members(o, a).amax(0)


def qphi_members(qphi, o, a):
    """(K, B) predictions of every Q_phi member (K = 1 for the paper's single QNet)."""
    return qphi.members(o, a) if isinstance(qphi, QEnsemble) else qphi(o, a)[None]


class LambdaNet(nn.Module):
    """lambda_xi(s) = softplus(x_xi(s)), x = MLP(s) with output bias initialised to -10 [code]."""

    def __init__(self, obs_dim, hidden, bias_init):
        super().__init__()
        self.net = mlp(obs_dim, 1, hidden)
        nn.init.constant_(self.net[-1].bias, bias_init)

    def logit(self, o):
        return self.net(o).squeeze(-1)

    def forward(self, o):
        return F.softplus(self.logit(o))


# ----------------------------------------------------------------------------------------------- buffer
class Buffer:
    def __init__(self, size, obs_dim, act_dim, m):
        self.size, self.ptr, self.n = size, 0, 0
        self.data = {k: np.zeros((size,) + s, np.float32) for k, s in {
            "obs": (obs_dim,), "act": (act_dim,), "rew": (), "obs2": (obs_dim,), "term": (),
            "d": (m,), "ddot": (m,), "d2": (m,), "ddot2": (m,)}.items()}

    def add(self, **kw):
        for k, v in kw.items():
            self.data[k][self.ptr] = v
        self.ptr = (self.ptr + 1) % self.size
        self.n = min(self.n + 1, self.size)

    def sample(self, rng, b):
        return self.take(rng.integers(0, self.n, b))

    def take(self, idx):
        return {k: torch.as_tensor(v[idx]) for k, v in self.data.items()}

    def state(self):
        return {"ptr": self.ptr, "n": self.n, "data": {k: v[: self.n].copy() for k, v in self.data.items()}}

    def load(self, st):
        self.ptr, self.n = st["ptr"], st["n"]
        for k, v in st["data"].items():
            self.data[k][: self.n] = v


def expectile_loss(pred, target, tau):
    """Asymmetric squared error 2 * |tau - 1(target < pred)| * (target - pred)^2: its minimiser is the tau-expectile
    of the target given the input; tau = 0.5 is exactly the MSE, and takes F.mse_loss's path (the paper's default
    update stays as it was: the asymmetric form costs ~80 us more per call, measured forward + backward, 256-vector)."""
    if tau == 0.5:
        return F.mse_loss(pred, target)
    u = target - pred
    return (2.0 * torch.abs(tau - (u < 0).float()) * u * u).mean()


def _lin(lr, frac):
    return lr[0] + (lr[1] - lr[0]) * min(max(frac, 0.0), 1.0)   # linear annealing (Table 4)


def atomic_torch_save(obj, path):
    tmp = f"{path}.tmp.{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------- agent
class FACSIS:
    def __init__(self, cfg: SISConfig, env=None):
        self.cfg = cfg
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.env = env if env is not None else ENV_FACTORIES[cfg.env](**cfg.env_kwargs)
        self.d_min = float(self.env.d_min)
        self.m = int(self.env.n_obstacles)
        od = self.env.observation_space.shape[0]
        ad = self.env.action_space.shape[0]
        self.obs_dim, self.act_dim = od, ad
        h = cfg.hidden
        self.actor = Actor(od, ad, h, cfg.log_std_bounds, cfg.action_scale)
        self.q1, self.q2 = QNet(od, ad, h), QNet(od, ad, h)
        self.q1_t, self.q2_t = QNet(od, ad, h), QNet(od, ad, h)
        self.q1_t.load_state_dict(self.q1.state_dict())
        self.q2_t.load_state_dict(self.q2.state_dict())
        # Q_phi(s,a): one-step, undiscounted Delta_phi predictor (an ensemble read at its max when qphi_ensemble > 1)
        self.qphi = QNet(od, ad, h) if cfg.qphi_ensemble == 1 else QEnsemble(od, ad, h, cfg.qphi_ensemble)
        self.lam = LambdaNet(od, h, cfg.lam_bias_init)
        self.log_alpha = torch.tensor(math.log(cfg.alpha_init), requires_grad=True)
        self.target_entropy = -float(ad)                  # Table 4: H = -dim(A)
        # zeta = (sigma, n, k), a leaf tensor, box-clipped after each step
        self.zeta = torch.tensor(cfg.zeta_init, dtype=torch.float64, requires_grad=True)
        # fused Adam: one kernel per parameter group instead of a Python loop over tensors (measured in
        # RESULTS.md, SIS "update cost"); the update rule is Adam's, unchanged
        adam = lambda params, lr: torch.optim.Adam(params, lr, fused=True)   # noqa: E731
        self.critic_params = list(self.q1.parameters()) + list(self.q2.parameters()) + list(self.qphi.parameters())
        self.opt = {
            "actor": adam(self.actor.parameters(), cfg.lr_actor[0]),
            "critic": adam(self.critic_params, cfg.lr_critic[0]),
            "lambda": adam(self.lam.parameters(), cfg.lr_lambda[0]),
            "alpha": adam([self.log_alpha], cfg.lr_alpha[0]),
            "zeta": adam([self.zeta], cfg.lr_zeta[0]),
        }
        self._polyak_src = list(self.q1.parameters()) + list(self.q2.parameters())
        self._polyak_tgt = list(self.q1_t.parameters()) + list(self.q2_t.parameters())
        self.buf = Buffer(cfg.buffer_size, od, ad, self.m)
        self.counters = dict(env_steps=0, grad_steps=0, episodes=0, cost_steps=0, eq1_violations=0,
                             cost_episodes=0, wall_s=0.0)
        self.history = []
        self._ep = None
        self._boundary_rows = np.zeros(0, np.int64)      # buffer rows near phi = 0 (qphi_boundary_frac > 0)

    # --------------------------------------------------------------------------------------- helpers
    def zeta_tuple(self):
        return tuple(float(x) for x in self.zeta.detach())

    def delta_phi(self, b, zeta=None):
        """eq. 1 with the given (default: current) zeta, recomputed from the stored (d, ddot) at t and t+1."""
        z = self.zeta if zeta is None else zeta
        return delta_phi_torch(b["d"].double(), b["ddot"].double(), b["d2"].double(), b["ddot2"].double(),
                               z[0], z[1], z[2], self.d_min, self.cfg.eta_d)

    def policy_action(self, obs, deterministic=False):
        """The ENV action: deterministic (tanh of the mean) or sampled, scaled and clipped."""
        with torch.no_grad():
            o = torch.as_tensor(obs, dtype=torch.float32)[None]
            a = self.actor.act_det(o) if deterministic else self.actor.env_action(self.actor.sample(o)[0])
        return a[0].numpy()

    def _explore(self, obs):
        """(policy-space action stored in the buffer, env action)."""
        with torch.no_grad():
            a = self.actor.sample(torch.as_tensor(obs, dtype=torch.float32)[None])[0]
        return a[0].numpy(), self.actor.env_action(a)[0].numpy()

    def _set_lrs(self, frac):
        c = self.cfg
        for name, lr in (("actor", c.lr_actor), ("critic", c.lr_critic), ("lambda", c.lr_lambda),
                         ("alpha", c.lr_alpha), ("zeta", c.lr_zeta)):
            for g in self.opt[name].param_groups:
                g["lr"] = _lin(lr, frac)

    # --------------------------------------------------------------------------------------- one gradient step
    def update(self):
        c = self.cfg
        t = self.counters["grad_steps"] = self.counters["grad_steps"] + 1
        b = self.buf.sample(self.rng, c.batch_size)
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            dphi = self.delta_phi(b).float()                                   # step 2, current zeta
            a2, logp2 = self.actor.sample(b["obs2"])
            q_t = torch.min(self.q1_t(b["obs2"], a2), self.q2_t(b["obs2"], a2)) - alpha * logp2
            y = b["rew"] + c.gamma * (1.0 - b["term"]) * q_t                   # soft Bellman target (clipped double Q)
            y_phi = self._qphi_target(b, dphi)
        # step 3-4: soft-Q step and Q_phi step:  min (Q_psi(s,a) - Delta_phi)^2 (one-step, undiscounted; an upper
        # expectile instead when cfg.qphi_expectile > 0.5)
        q_loss = F.mse_loss(self.q1(b["obs"], b["act"]), y) + F.mse_loss(self.q2(b["obs"], b["act"]), y)
        obs_phi, act_phi = b["obs"], b["act"]
        if c.qphi_boundary_frac > 0:
            bb = self._boundary_batch(t)
            if bb is not None:
                with torch.no_grad():
                    y_b = self._qphi_target(bb)
                obs_phi, act_phi = torch.cat([obs_phi, bb["obs"]]), torch.cat([act_phi, bb["act"]])
                y_phi = torch.cat([y_phi, y_b])
        qphi_loss = self._qphi_loss(obs_phi, act_phi, y_phi)
        self.opt["critic"].zero_grad()
        (q_loss + qphi_loss).backward()
        nn.utils.clip_grad_norm_(self.critic_params, c.grad_clip)
        self.opt["critic"].step()
        out = {"q_loss": q_loss.item(), "qphi_loss": qphi_loss.item(), "dphi_pos": float((dphi > 0).float().mean())}

        if t % c.m_pi == 0:   # step 5
            pi_loss, logp = self._policy_step(b["obs"], alpha)
            alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
            self.opt["alpha"].zero_grad()
            alpha_loss.backward()
            self.opt["alpha"].step()
            with torch.no_grad():                                              # Polyak tau
                torch._foreach_lerp_(self._polyak_tgt, self._polyak_src, c.tau)
            out.update(pi_loss=pi_loss.item(), alpha=float(alpha))

        if t % c.m_lam == 0:  # step 6: ascent on J_lambda(xi) = E[lambda_xi(s) (Q_phi(s,a) - 0)], a ~ pi_theta(s)
            qphi_b = self._lambda_signal(b["obs"])
            if c.lam_step == "logit":
                out.update(self._lambda_step_logit(b["obs"], qphi_b))
            else:
                lam = self.lam(b["obs"]).clamp(0.0, c.lam_max)                 # lambda in [0, lam_max] (Thm 7)
                lam_loss = -(lam * qphi_b).mean()                              # G_xi = Q_phi * grad_xi lambda
                self._step_lambda(lam_loss)
                out.update(lam_mean=float(lam.detach().mean()))

        if c.learn_zeta and t % c.m_phi == 0 and self.counters["env_steps"] >= c.sis_start:
            out.update(self.zeta_step(b))
        return out

    def _qphi_target(self, b, dphi=None):
        """Q_phi's regression target for batch b: [code]'s clip(Delta_phi, qphi_target_floor, inf), Delta_phi under
        the current zeta (pass dphi when the caller has already computed it)."""
        dphi = self.delta_phi(b).float() if dphi is None else dphi
        return dphi.clamp(min=self.cfg.qphi_target_floor)

    def _boundary_batch(self, t):
        """qphi_boundary_frac * batch_size buffer rows with phi(s) >= -qphi_boundary_band (current zeta), or None
        when there are none; the row set is re-selected every 1000 gradient steps (zeta moves slowly)."""
        c = self.cfg
        if t % 1000 == 1 or not len(self._boundary_rows):
            n = self.buf.n
            phi = phi_max_np(self.buf.data["d"][:n], self.buf.data["ddot"][:n], self.zeta_tuple(), self.d_min)
            self._boundary_rows = np.flatnonzero(phi >= -c.qphi_boundary_band)
        if not len(self._boundary_rows):
            return None
        nb = max(1, int(round(c.qphi_boundary_frac * c.batch_size)))
        return self.buf.take(self._boundary_rows[self.rng.integers(0, len(self._boundary_rows), nb)])

    def _qphi_loss(self, obs, act, y_phi):
        """Every Q_phi member regressed on the same targets (sum over members, so each gets the single net's step)."""
        pred = qphi_members(self.qphi, obs, act)
        return pred.shape[0] * expectile_loss(pred, y_phi.expand_as(pred), self.cfg.qphi_expectile)

    def prefit_qphi(self, steps):
        """Regress Q_phi alone on the buffer (eq.-1 targets under the current zeta), with its own Adam so the
        reward critics' optimiser state is untouched.  For a continuation that starts Q_phi afresh: the policy
        step weighs Q_phi by >= lam_floor, and an untrained Q_phi would steer the policy at random.  Returns the
        last batch's loss."""
        c = self.cfg
        opt = torch.optim.Adam(self.qphi.parameters(), c.lr_critic[0])
        loss = None
        for _ in range(steps):
            b = self.buf.sample(self.rng, c.batch_size)
            with torch.no_grad():
                y_phi = self._qphi_target(b)
            loss = self._qphi_loss(b["obs"], b["act"], y_phi)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.qphi.parameters(), c.grad_clip)
            opt.step()
        return None if loss is None else float(loss.detach())

    def _lambda_signal(self, obs):
        """The multiplier's ascent signal per state: clip(Q_phi(s, a) + lam_margin, lam_signal_floor, inf), a ~ pi.

        a ~ pi_theta(s), the CURRENT policy (paper App. B.1): the buffer's old actions keep violating where pi no
        longer does, so lambda would climb to lam_max.  The [code] floor: a safe state lowers lambda by at most
        0.001 per unit, so rare violating states are not outvoted.  lam_margin = eps > 0 (default 0 = the paper)
        tightens the constraint the multiplier enforces to Q_phi(s, pi(s)) <= -eps: lambda(s) then rises in the
        band phi(s') in (-eps, 0] that the policy crosses on its way into a hazard, where with eps = 0 it has
        no signal until the policy already violates (complementary slackness makes lambda = 0 the exact
        multiplier on the safe side, and a fitted Q_phi is off by ~0.02 there, RESULTS.md "SIS").  A
        constraint back-off margin; our departure.  Needs qphi_target_floor < -eps, or Q_phi cannot see the band."""
        c = self.cfg
        with torch.no_grad():
            q = self.qphi(obs, self.actor.sample(obs)[0])
            return (q + c.lam_margin).clamp(min=c.lam_signal_floor)

    def _policy_step(self, obs, alpha):
        """J_pi(theta) = E[alpha log pi - Q_w(s,a) + lambda(s) Q_phi(s,a)], a = f_theta(eps; s)  (App. B.1).

        lambda(s) is stop-gradient ([code]) and, in this step only, at least cfg.lam_floor (our departure, 0 = the
        paper).  Why: the multiplier NETWORK generalises from the many safe states, where its ascent signal is
        negative, so it sits at ~0 on the approach to a hazard (measured: lambda(s) = 0.000 at every decision of
        PointGoal-Hazard0.15 evaluation episodes while the policy drove phi from -0.1 across 0 with Q_phi > 0, and
        a safe action existed; RESULTS.md "SIS", sixth stop).  Because Q_phi's target is floored
        (qphi_target_floor), Q_phi is flat in the action away from the boundary, so the floor acts only where an
        action can raise phi; lambda(s) above the floor is unchanged."""
        c = self.cfg
        a, logp = self.actor.sample(obs)
        q = torch.min(self.q1(obs, a), self.q2(obs, a))
        with torch.no_grad():
            lam = self.lam(obs).clamp(c.lam_floor, c.lam_max)
        pi_loss = (alpha * logp - q + lam * self.qphi(obs, a)).mean()
        self.opt["actor"].zero_grad()
        pi_loss.backward()
        nn.utils.clip_grad_norm_(self.actor.parameters(), c.grad_clip)
        self.opt["actor"].step()
        return pi_loss, logp

    def _step_lambda(self, loss):
        self.opt["lambda"].zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.lam.parameters(), self.cfg.grad_clip_lambda)
        self.opt["lambda"].step()

    def _lambda_step_logit(self, obs, qphi_b):
        """Projected ascent on the multiplier's logit x(s), lambda = softplus(x): G = Q_phi(s,a) * grad_xi x(s).

        Departure from App. B.1 (G = Q_phi * grad_xi lambda = Q_phi * sigmoid(x) * grad_xi x): the per-state step
        has the same sign (lambda still rises exactly where Q_phi(s, pi(s)) > 0 and falls where < 0, so the
        fixed points -- statewise complementary slackness, Lemma 5 -- are the same), but without the factor
        sigmoid(x), which vanishes once lambda(s) has been pushed to ~0: measured on PointGoal-Hazard0.30
        (scripts/sis_unsafe_diag.py) lambda(s) < 1e-7 at every decision before each hazard entry while
        Q_phi(s, pi(s)) > 0 and a safe action existed.  x is projected onto [lam_bias_init,
        softplus^-1(lam_max)] per state (no push below the initial logit, none above lambda_max, Thm 7).

        With a NETWORK x(s) the per-state mask does not keep x in the box: other states' steps carry it out by
        generalisation (measured on PointGoal-Hazard0.30 at 100k steps, runs/sis_l1: x over the buffer from -46 to
        +201), and a state whose x sits at -40 needs ~30 logit units of ascent before lambda(s) reacts when the
        policy starts to violate there.  cfg.lam_box_weight = w > 0 adds w * mean((x - clip(x, lo, hi))^2), a soft
        projection onto the same box (zero inside it, so the fixed points inside are unchanged); our departure,
        stated in RESULTS.md "SIS", fourth stop."""
        c = self.cfg
        x = self.lam.logit(obs)
        x_hi = math.log(math.expm1(c.lam_max))                                # softplus^-1(lam_max)
        with torch.no_grad():
            free = ~(((x <= c.lam_bias_init) & (qphi_b < 0)) | ((x >= x_hi) & (qphi_b > 0)))
        loss = -(x * qphi_b * free).mean()
        if c.lam_box_weight > 0:
            loss = loss + c.lam_box_weight * ((x - x.detach().clamp(c.lam_bias_init, x_hi)) ** 2).mean()
        self._step_lambda(loss)
        return {"lam_mean": float(F.softplus(x.detach()).clamp(0.0, c.lam_max).mean()),
                "lam_free": float(free.float().mean())}

    def zeta_step(self, b):
        """step 7: zeta <- zeta - beta_zeta * G_zeta, then box-clip (digest: degenerate minimiser)."""
        c = self.cfg
        dphi = self.delta_phi(b)
        if c.zeta_loss == "hinge":
            j = torch.clamp(dphi, min=0.0).mean()                              # eq. 4, J = E[[Delta_phi]_+]
        else:
            with torch.no_grad():
                lam = self.lam(b["obs"]).clamp(0.0, c.lam_max).double()
            j = (lam * dphi).mean()                                            # eq. 13, G = lambda * grad Delta_phi
        self.opt["zeta"].zero_grad()
        j.backward()
        torch.nn.utils.clip_grad_norm_([self.zeta], c.grad_clip_zeta)          # Prop. 9 clipped step
        self.opt["zeta"].step()
        with torch.no_grad():
            self.zeta.copy_(torch.clamp(self.zeta, torch.tensor(ZETA_LOW, dtype=torch.float64),
                                        torch.tensor(ZETA_HIGH, dtype=torch.float64)))
        return {"J_zeta": float(j.detach())}

    # --------------------------------------------------------------------------------------- training loop
    def _new_episode(self):
        obs, info = self.env.reset(seed=int(self.rng.integers(2 ** 31)))
        d, dd = obstacle_terms(info)
        self._ep = dict(obs=obs, d=d, dd=dd, ret=0.0, cost=0.0, viol=0, len=0)

    def learn(self, total_steps=None, log=print, deadline=None):
        """Train up to `total_steps` env steps; stop early once time.time() >= deadline (the caller checkpoints)."""
        c = self.cfg
        total = c.total_steps if total_steps is None else total_steps
        os.makedirs(c.run_dir, exist_ok=True)
        logf = open(os.path.join(c.run_dir, "log.jsonl"), "a")
        if self._ep is None:
            self._new_episode()
        ep_stats, t0, last = [], time.time(), {}
        wall0 = self.counters["wall_s"]
        zeta_np = None
        while self.counters["env_steps"] < total:
            if deadline is not None and time.time() >= deadline:
                break
            n = self.counters["env_steps"]
            ep = self._ep
            if n < c.learning_starts:
                a = self.rng.uniform(-1, 1, self.act_dim).astype(np.float32)
                a_env = np.clip(c.action_scale * a, -1.0, 1.0)
            else:
                a, a_env = self._explore(ep["obs"])
            # one decision = the action held for `action_repeat` env steps (or to the episode's end); every env
            # step is counted, and eq. (1) is checked on every env step with the current zeta (never a reward)
            zeta_np = self.zeta_tuple()
            obs0, d0, dd0, r_sum = ep["obs"], ep["d"], ep["dd"], 0.0
            for _ in range(c.action_repeat):
                obs2, r, term, trunc, info = self.env.step(a_env)
                d2, dd2 = obstacle_terms(info)
                self.counters["env_steps"] += 1
                cost = float(info.get("cost", 0.0))
                viol = bool(delta_phi_np(ep["d"], ep["dd"], d2, dd2, zeta_np, self.d_min, c.eta_d) > -EPS_VIOL)
                self.counters["cost_steps"] += int(cost > 0)
                self.counters["eq1_violations"] += int(viol)
                r_sum += r
                ep.update(obs=obs2, d=d2, dd=dd2, ret=ep["ret"] + r, cost=ep["cost"] + cost,
                          viol=ep["viol"] + int(viol), len=ep["len"] + 1)
                if term or trunc or self.counters["env_steps"] >= total:
                    break
            # the decision's transition: Delta_phi over the held action (eq. 1 on the decision's time step)
            self.buf.add(obs=obs0, act=a, rew=r_sum, obs2=obs2, term=float(term), d=d0, ddot=dd0,
                         d2=d2, ddot2=dd2)
            if term or trunc:
                self.counters["episodes"] += 1
                self.counters["cost_episodes"] += int(ep["cost"] > 0)
                ep_stats.append((ep["ret"], ep["cost"], ep["viol"], ep["len"]))
                self._new_episode()
            if n >= c.learning_starts:
                self._set_lrs(n / total)
                last.update(self.update())
            n_prev, n = n, self.counters["env_steps"]
            crossed = lambda every: every and n // every > n_prev // every    # noqa: E731
            if crossed(c.epoch_steps) or n == total:
                self.counters["wall_s"] = wall0 + time.time() - t0
                rec = dict(env_steps=n, **{k: v for k, v in self.counters.items() if k != "env_steps"},
                           zeta=dict(zip(("sigma", "n", "k"), self.zeta_tuple())),
                           train_episodes=len(ep_stats),
                           ep_return=float(np.mean([e[0] for e in ep_stats])) if ep_stats else None,
                           ep_cost=float(np.mean([e[1] for e in ep_stats])) if ep_stats else None,
                           ep_eq1_viol=float(np.mean([e[2] for e in ep_stats])) if ep_stats else None,
                           **{k: float(v) for k, v in last.items()})
                self.history.append(rec)
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
                log(json.dumps(rec))
                ep_stats = []
            if crossed(c.checkpoint_every):
                self.save(os.path.join(c.run_dir, "checkpoint.pt"))
        self.counters["wall_s"] = wall0 + time.time() - t0
        logf.close()
        return self

    # --------------------------------------------------------------------------------------- eval
    def evaluate(self, episodes=None, seed=10_000, env=None):
        """Deterministic policy; per-episode return, cost, cost steps (violations) and eq.-1 violations."""
        env = env if env is not None else ENV_FACTORIES[self.cfg.env](**self.cfg.env_kwargs)
        pol = lambda o: self.policy_action(o, deterministic=True)   # noqa: E731
        return [evaluate_episode(env, pol, seed + e, self.d_min, {"own": self.zeta_tuple()}, self.cfg.eta_d,
                                 self.cfg.action_repeat)
                for e in range(self.cfg.eval_episodes if episodes is None else episodes)]

    # --------------------------------------------------------------------------------------- checkpoint
    def state_dict(self):
        return {
            "cfg": asdict(self.cfg),
            "nets": {k: getattr(self, k).state_dict() for k in ("actor", "q1", "q2", "q1_t", "q2_t", "qphi", "lam")},
            "log_alpha": self.log_alpha.detach().clone(), "zeta": self.zeta.detach().clone(),
            "opt": {k: o.state_dict() for k, o in self.opt.items()},
            "buffer": self.buf.state(), "counters": dict(self.counters), "history": list(self.history),
            "np_rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
        }

    def save(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_torch_save(self.state_dict(), path)

    @classmethod
    def load(cls, path, env=None, **overrides):
        st = torch.load(path, weights_only=False)
        # the run continues in the folder the checkpoint is in now (it may have been moved or copied since)
        cfgd = dict(st["cfg"], run_dir=os.path.dirname(path) or ".")
        cfgd.update(overrides)
        preset = cfgd.pop("preset")
        cfg = SISConfig(preset="custom", **cfgd)    # keep the stored rates exactly
        cfg.preset = preset
        agent = cls(cfg, env=env)
        # a continuation that changes the Q_phi ensemble's size starts Q_phi afresh, Adam moments included, and
        # pre-fits it on the stored buffer; every other network and optimiser state carries over
        fresh_qphi = int(st["cfg"].get("qphi_ensemble", 1)) != int(cfg.qphi_ensemble)
        for k, v in st["nets"].items():
            if not (fresh_qphi and k == "qphi"):
                getattr(agent, k).load_state_dict(v)
        with torch.no_grad():
            agent.log_alpha.copy_(st["log_alpha"])
            agent.zeta.copy_(st["zeta"])
        for k, o in agent.opt.items():
            if fresh_qphi and k == "critic":
                o.load_state_dict(_with_fresh_param_state(st["opt"][k], agent.critic_params,
                                                          list(agent.qphi.parameters())))
            else:
                o.load_state_dict(st["opt"][k])
        agent.buf.load(st["buffer"])
        agent.counters.update(st["counters"])
        agent.history = list(st["history"])
        agent.rng.bit_generator.state = st["np_rng"]
        torch.set_rng_state(st["torch_rng"])
        if fresh_qphi and agent.buf.n:
            agent.prefit_qphi(cfg.qphi_prefit_steps)
        return agent    # a resumed run starts a fresh episode (the env state is not checkpointed)


def _with_fresh_param_state(opt_state, params, fresh):
    """An Adam state_dict (one param group over `params`) whose entries for the parameters in `fresh` are dropped,
    so Adam starts them at step 0 (the stored moments belong to a Q_phi of another shape).  The group's parameter
    ids are renumbered to the new `params` list, which may be longer or shorter than the stored one."""
    old_ids = opt_state["param_groups"][0]["params"]
    n_keep = sum(not any(p is q for q in fresh) for p in params)   # the reward critics, listed first
    state = {i: opt_state["state"][old_ids[i]] for i in range(n_keep) if old_ids[i] in opt_state["state"]}
    group = dict(opt_state["param_groups"][0], params=list(range(len(params))))
    return {"state": state, "param_groups": [group]}


# ----------------------------------------------------------------------------------------------- outer loop with an oracle
def synthesize_with_oracle(states, model, zeta0=PHI_H, iters=300, lr=1e-2, actions=None, eta_d=0.0,
                           grad_clip=1.0, log_every=0, log=print):
    """The SIS outer loop (eq. 4 hinge, Prop.-9 clipped step, box on zeta) with the inner loop replaced by an
    exhaustive model-based search: at each state the transition is the grid action minimising Delta_phi under
    the CURRENT zeta (an oracle for pi*, which FAC approximates model-free).  Used by the CI quick test and to
    separate "the synthesis works" from "the RL inner loop converged".  Returns (zeta, trace)."""
    from safe_learners.validity import action_grid, infeasible_fraction
    actions = action_grid(11) if actions is None else actions
    d, dd = model.d_ddot(states)
    d2, dd2 = model.next_d_ddot(states, actions)
    d_min = float(model.d_min)
    z = torch.tensor(zeta0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([z], lr)
    lo, hi = torch.tensor(ZETA_LOW, dtype=torch.float64), torch.tensor(ZETA_HIGH, dtype=torch.float64)
    idx = np.arange(len(states))
    trace = []
    for it in range(iters + 1):
        zt = tuple(float(x) for x in z.detach())
        if log_every and it % log_every == 0:
            rec = dict(iter=it, zeta=zt, infeasible=infeasible_fraction(states, model, zt, d_min, actions, eta_d))
            trace.append(rec)
            log(json.dumps(rec))
        if it == iters:
            break
        ch = delta_phi_np(d[:, None, :], dd[:, None, :], d2, dd2, zt, d_min, eta_d).argmin(1)   # oracle pi*
        dphi = delta_phi_torch(torch.as_tensor(d), torch.as_tensor(dd), torch.as_tensor(d2[idx, ch]),
                               torch.as_tensor(dd2[idx, ch]), z[0], z[1], z[2], d_min, eta_d)
        j = torch.clamp(dphi, min=0.0).mean()                                  # eq. 4
        opt.zero_grad()
        j.backward()
        nn.utils.clip_grad_norm_([z], grad_clip)
        opt.step()
        with torch.no_grad():
            z.copy_(torch.clamp(z, lo, hi))
    return tuple(float(x) for x in z.detach()), trace


# ----------------------------------------------------------------------------------------------- export
class _DetPolicy(nn.Module):
    def __init__(self, actor):
        super().__init__()
        self.actor = actor

    def forward(self, obs):
        return self.actor.act_det(obs)


def export_sis_policy_bundle(agent: "FACSIS", dest, obs_names, obs_units, obs_low, obs_high, *, name="fac_sis",
                             overwrite=False):
    """Bundle (kind "policy") with the deterministic policy pi_theta, Q_phi(s, a) (one-step Delta_phi predictor,
    digest sec. 7a model-free filter) and lambda(s) (monitor: near lam_max flags infeasible states); the
    index parameters zeta and d_min go in the manifest.  Uses the lead's export_bundle (ORT-vs-torch check on
    1000 inputs, atomic write).  The point-robot safety-index filter bundle is built by
    handcrafted_index.build_point_bundle (see sis_point / scripts/sis_point_shield.py)."""
    from safe_shield.bundle import VectorSpec

    from safe_learners.export import GraphExport, export_bundle
    observation = VectorSpec.make(obs_names, obs_units, obs_low, obs_high)
    action = VectorSpec.make([f"a{i}" for i in range(agent.act_dim)], ["normalised"] * agent.act_dim,
                             [-1.0] * agent.act_dim, [1.0] * agent.act_dim)
    sigma, n, k = agent.zeta_tuple()
    return export_bundle(
        dest, kind="policy", name=name, observation=observation, action=action,
        graphs={"policy": GraphExport(_DetPolicy(agent.actor), ("obs",), ("act",)),
                "qphi": GraphExport(agent.qphi, ("obs", "act"), ("dphi",)),
                "lambda": GraphExport(agent.lam, ("obs",), ("lam",))},
        filter={"type": "none", "index": {"form": "sigma + d_min^n - d^n - k*d_dot, max over obstacles",
                                          "sigma": sigma, "n": n, "k": k, "d_min": agent.d_min,
                                          "eta": agent.cfg.eta_d, "lam_max": agent.cfg.lam_max}},
        provenance={"algorithm": "FAC-SIS" if agent.cfg.learn_zeta else "FAC (fixed index)",
                    "env": agent.cfg.env, "seed": agent.cfg.seed,
                    "training_steps": int(agent.counters["env_steps"]), "counters": dict(agent.counters)},
        overwrite=overwrite)
