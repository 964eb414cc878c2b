"""Soft Actor-Critic pieces (Haarnoja et al. 2018) shared by the CRABS learner and the SAC baseline.

Reusable parts:
  * ``mlp``                 - small fully connected network
  * ``TanhGaussianPolicy``  - pi(a|s) = tanh(mu(s) + sigma(s) * zeta), zeta ~ N(0, I); log sigma in [-20, 2]
  * ``TwinQ``               - Q_psi1, Q_psi2 with Polyak-averaged targets
  * ``ReplayBuffer``        - numpy ring buffer of real transitions
  * ``SAC``                 - the standard SAC update (critic, actor, temperature alpha with target entropy -dim A)
  * ``run_sac_baseline``    - the baseline of the CRABS paper (Sec. 6): SAC started from pi_init, an unsafe step ends
                              the episode with reward -penalty (penalty 30 for the pendulum tasks), every real step and
                              every violation counted.

Hyper-parameters follow the CRABS authors' code (App. C.2 / digest Sec. 4): Adam 3e-4, batch 256, Polyak 0.005,
log alpha_0 = 0, gamma = 0.99.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, asdict, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(n_in: int, n_out: int, hidden: int, layers: int = 2, act=nn.ReLU) -> nn.Sequential:
    mods: list[nn.Module] = []
    d = n_in
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), act()]
        d = hidden
    mods.append(nn.Linear(d, n_out))
    return nn.Sequential(*mods)


class TanhGaussianPolicy(nn.Module):
    """pi_expl(a|s) = tanh(mu_theta(s) + sigma_theta(s) zeta); the deterministic (certified) policy is tanh(mu_theta(s))."""

    LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0

    def __init__(self, n_obs: int, n_act: int, hidden: int = 64, obs_mean=None, obs_std=None):
        super().__init__()
        self.net = mlp(n_obs, 2 * n_act, hidden)
        self.n_act = n_act
        self.register_buffer("obs_mean", torch.zeros(n_obs) if obs_mean is None else torch.as_tensor(obs_mean, dtype=torch.float32))
        self.register_buffer("obs_std", torch.ones(n_obs) if obs_std is None else torch.as_tensor(obs_std, dtype=torch.float32))

    def dist_params(self, s: torch.Tensor):
        out = self.net((s - self.obs_mean) / self.obs_std)
        mu, log_std = out[..., : self.n_act], out[..., self.n_act:]
        return mu, log_std.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)

    def mean_action(self, s: torch.Tensor) -> torch.Tensor:
        """Certified policy pi_theta(s) = tanh(mu_theta(s))."""
        return torch.tanh(self.dist_params(s)[0])

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.mean_action(s)

    def sample(self, s: torch.Tensor, generator: torch.Generator | None = None):
        """Reparameterised a ~ pi_expl(.|s) with its log-density (tanh change of variables)."""
        mu, log_std = self.dist_params(s)
        std = log_std.exp()
        z = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        u = mu + std * z
        a = torch.tanh(u)
        logp = (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - (2 * (math.log(2.0) - u - F.softplus(-2 * u))).sum(-1)
        return a, logp


class TwinQ(nn.Module):
    def __init__(self, n_obs: int, n_act: int, hidden: int = 128, obs_mean=None, obs_std=None):
        super().__init__()
        self.q1 = mlp(n_obs + n_act, 1, hidden)
        self.q2 = mlp(n_obs + n_act, 1, hidden)
        self.register_buffer("obs_mean", torch.zeros(n_obs) if obs_mean is None else torch.as_tensor(obs_mean, dtype=torch.float32))
        self.register_buffer("obs_std", torch.ones(n_obs) if obs_std is None else torch.as_tensor(obs_std, dtype=torch.float32))

    def forward(self, s, a):
        x = torch.cat([(s - self.obs_mean) / self.obs_std, a], -1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


class ReplayBuffer:
    def __init__(self, n_obs: int, n_act: int, capacity: int = 1_000_000):
        self.s = np.zeros((capacity, n_obs), np.float32)
        self.a = np.zeros((capacity, n_act), np.float32)
        self.r = np.zeros((capacity,), np.float32)
        self.s2 = np.zeros((capacity, n_obs), np.float32)
        self.d = np.zeros((capacity,), np.float32)
        self.capacity, self.n, self.ptr = capacity, 0, 0

    def add(self, s, a, r, s2, done):
        i = self.ptr
        self.s[i], self.a[i], self.r[i], self.s2[i], self.d[i] = s, a, r, s2, float(done)
        self.ptr = (self.ptr + 1) % self.capacity
        self.n = min(self.n + 1, self.capacity)

    def sample(self, batch: int, rng: np.random.Generator):
        idx = rng.integers(0, self.n, size=batch)
        t = lambda x: torch.as_tensor(x[idx])
        return t(self.s), t(self.a), t(self.r), t(self.s2), t(self.d)

    def state_dict(self):
        n = self.n
        return {"s": self.s[:n].copy(), "a": self.a[:n].copy(), "r": self.r[:n].copy(), "s2": self.s2[:n].copy(),
                "d": self.d[:n].copy(), "ptr": self.ptr, "n": n}

    def load_state_dict(self, st):
        n = st["n"]
        self.s[:n], self.a[:n], self.r[:n], self.s2[:n], self.d[:n] = st["s"], st["a"], st["r"], st["s2"], st["d"]
        self.n, self.ptr = n, st["ptr"]


@dataclass
class SACConfig:
    gamma: float = 0.99
    lr: float = 3e-4
    batch: int = 256
    tau: float = 0.005
    log_alpha0: float = 0.0
    policy_hidden: int = 64
    q_hidden: int = 128


class SAC:
    """Standard SAC (critic: r + gamma (1-d)(min Qbar(s',a') - alpha log pi(a'|s')); actor: alpha log pi - min Q;
    temperature: L_alpha = -alpha (log pi + Hbar), Hbar = -dim A)."""

    def __init__(self, policy: TanhGaussianPolicy, q: TwinQ, cfg: SACConfig):
        self.cfg = cfg
        self.policy, self.q = policy, q
        self.q_targ = TwinQ(q.q1[0].in_features - policy.n_act, policy.n_act, cfg.q_hidden)
        self.q_targ.load_state_dict(q.state_dict())
        for p in self.q_targ.parameters():
            p.requires_grad_(False)
        self.log_alpha = torch.tensor(cfg.log_alpha0, requires_grad=True)
        self.target_entropy = -float(policy.n_act)
        self.opt_pi = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
        self.opt_q = torch.optim.Adam(q.parameters(), lr=cfg.lr)
        self.opt_alpha = torch.optim.Adam([self.log_alpha], lr=cfg.lr)

    def critic_loss(self, s, a, r, s2, d, mask=None):
        with torch.no_grad():
            a2, logp2 = self.policy.sample(s2)
            q1t, q2t = self.q_targ(s2, a2)
            y = r + self.cfg.gamma * (1 - d) * (torch.min(q1t, q2t) - self.log_alpha.exp() * logp2)
        q1, q2 = self.q(s, a)
        err = (q1 - y).pow(2) + (q2 - y).pow(2)
        if mask is not None:   # CRABS Eq. 11: drop targets whose a' the safeguard would reject
            return (err * mask).sum() / mask.sum().clamp_min(1.0)
        return err.mean()

    def polyak(self):
        with torch.no_grad():
            for p, pt in zip(self.q.parameters(), self.q_targ.parameters()):
                pt.mul_(1 - self.cfg.tau).add_(self.cfg.tau * p)

    def update(self, batch):
        s, a, r, s2, d = batch
        lq = self.critic_loss(s, a, r, s2, d)
        self.opt_q.zero_grad(); lq.backward(); self.opt_q.step()
        an, logp = self.policy.sample(s)
        q1, q2 = self.q(s, an)
        lpi = (self.log_alpha.exp().detach() * logp - torch.min(q1, q2)).mean()
        self.opt_pi.zero_grad(); lpi.backward(); self.opt_pi.step()
        la = -(self.log_alpha.exp() * (logp.detach() + self.target_entropy)).mean()
        self.opt_alpha.zero_grad(); la.backward(); self.opt_alpha.step()
        self.polyak()
        return {"q_loss": float(lq.detach()), "pi_loss": float(lpi.detach()), "alpha": float(self.log_alpha.exp())}


def run_sac_baseline(make_env, policy_init: TanhGaussianPolicy | None, n_obs: int, n_act: int, total_steps: int,
                     penalty: float = 30.0, seed: int = 0, cfg: SACConfig | None = None, learning_starts: int = 1000,
                     horizon: int = 200, log=print) -> dict:
    """SAC with the violation penalty, in the same counting harness as CRABS: every real step and violation counted.

    ``make_env()`` returns an env with ``reset(seed) -> (obs, info)`` and ``step(a) -> (obs, r, terminated, truncated,
    info)`` and ``info["unsafe"]``. An unsafe step ends the episode with reward -penalty (paper Sec. 6 / App. C)."""
    cfg = cfg or SACConfig()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = make_env()
    policy = TanhGaussianPolicy(n_obs, n_act, cfg.policy_hidden)
    if policy_init is not None:
        policy.load_state_dict(policy_init.state_dict())
    q = TwinQ(n_obs, n_act, cfg.q_hidden, policy.obs_mean, policy.obs_std)
    agent = SAC(policy, q, cfg)
    buf = ReplayBuffer(n_obs, n_act, max(total_steps, 1))
    t0 = time.time()
    steps = violations = episodes = 0
    ep_returns = []
    obs, _ = env.reset(seed=seed)
    ep_ret, ep_len = 0.0, 0
    while steps < total_steps:
        with torch.no_grad():
            a, _ = policy.sample(torch.as_tensor(obs, dtype=torch.float32)[None])
        a = a[0].numpy()
        obs2, r, term, trunc, info = env.step(a)
        steps += 1
        ep_len += 1
        trunc = trunc or ep_len >= horizon
        unsafe = bool(info.get("unsafe", False))
        if unsafe:
            violations += 1
            r, term = -penalty, True
        ep_ret += r
        buf.add(obs, a, r, obs2, term)
        obs = obs2
        if steps >= learning_starts:
            agent.update(buf.sample(cfg.batch, rng))
        if term or trunc:
            episodes += 1
            ep_returns.append(ep_ret)
            obs, _ = env.reset()
            ep_ret, ep_len = 0.0, 0
    out = {"algorithm": "SAC", "penalty": penalty, "seed": seed, "real_steps": steps, "violations": violations,
           "episodes": episodes, "unsafe_episodes": violations, "wall_s": time.time() - t0,
           "final_return_mean_last5": float(np.mean(ep_returns[-5:])) if ep_returns else float("nan")}
    log(out)
    return out
