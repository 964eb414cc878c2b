"""PPO-Lagrangian baseline (Ray et al. 2019 starter-agent style; SIS paper Table 4, cost threshold 0).

    max_pi min_{lambda>=0}  E[sum r] - lambda (E[sum c] - d),   d = cost_limit = 0
    pi loss: -E[ min(rho A, clip(rho, 1-eps, 1+eps) A) ],  A = (A_r - lambda A_c) / (1 + lambda)
    lambda = softplus(p),  p <- p + lr_penalty * (J_c - d)      (ascent on the multiplier; J_c = mean episode cost)
GAE(0.95) for reward and cost advantages, separate value nets, early stop on KL > 1.2 * target_kl.
Learns from the environment cost c (unlike FAC-SIS). Every env step and cost step counted; eq.-1 violations
are counted under a fixed reference index (cfg.ref_index, default phi_h) so the baseline is scored on the
same safe-action constraint as the FAC variants (it never sees that index).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class PPOLagConfig:
    env: str = "unicycle"
    env_kwargs: dict = field(default_factory=dict)
    seed: int = 0
    total_steps: int = 100_000
    steps_per_epoch: int = 2048          # Table 4 batch 2048
    hidden: int = 64
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    target_kl: float = 0.01
    kl_margin: float = 1.2               # Table 4
    minibatch: int = 64                  # Table 4
    train_iters: int = 10
    lr_pi: float = 3e-4
    lr_v: float = 1e-3
    cost_limit: float = 0.0              # paper: threshold 0
    penalty_init: float = 0.0            # lambda0 = softplus(0)
    lr_penalty: float = 5e-2
    run_dir: str = "runs/ppo_lag"
    threads: int = 1
    ref_index: tuple = (0.3, 2.0, 1.0)   # phi_h (sigma, n, k): eq.-1 violations are COUNTED under it, never learned


def _mlp(i, o, h):
    return nn.Sequential(nn.Linear(i, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, o))


class PPOLagrangian:
    def __init__(self, cfg: PPOLagConfig, env=None):
        from safe_learners.sis import ENV_FACTORIES
        self.cfg = cfg
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.env = env if env is not None else ENV_FACTORIES[cfg.env](**cfg.env_kwargs)
        od, ad = self.env.observation_space.shape[0], self.env.action_space.shape[0]
        self.pi = _mlp(od, ad, cfg.hidden)
        self.log_std = nn.Parameter(-0.5 * torch.ones(ad))
        self.vr, self.vc = _mlp(od, 1, cfg.hidden), _mlp(od, 1, cfg.hidden)
        self.opt_pi = torch.optim.Adam(list(self.pi.parameters()) + [self.log_std], cfg.lr_pi)
        self.opt_v = torch.optim.Adam(list(self.vr.parameters()) + list(self.vc.parameters()), cfg.lr_v)
        self.penalty = torch.tensor(cfg.penalty_init)
        self.counters = dict(env_steps=0, episodes=0, cost_steps=0, cost_episodes=0, eq1_violations=0, wall_s=0.0)
        self.d_min = getattr(self.env, "d_min", None)
        self.history = []

    def lam(self):
        return float(F.softplus(self.penalty))

    def _dist(self, o):
        return torch.distributions.Normal(self.pi(o), self.log_std.exp())

    def _gae(self, x, v, last_v, dones):
        adv, g = np.zeros_like(x), 0.0
        for t in reversed(range(len(x))):
            nv = last_v if t == len(x) - 1 else v[t + 1]
            nd = 0.0 if t == len(x) - 1 else 1.0 - dones[t]
            delta = x[t] + self.cfg.gamma * nv * nd - v[t]
            g = delta + self.cfg.gamma * self.cfg.gae_lambda * nd * g
            adv[t] = g
        return adv, adv + v

    def policy_action(self, obs, deterministic=True):
        with torch.no_grad():
            o = torch.as_tensor(obs, dtype=torch.float32)
            a = self.pi(o) if deterministic else self._dist(o).sample()
        return a.clamp(-1, 1).numpy()

    def learn(self, total_steps=None, log=print, deadline=None):
        """Train in whole epochs up to `total_steps`; stop before an epoch once time.time() >= deadline.
        A resumed run starts a fresh episode (the env state is not checkpointed)."""
        from safe_learners.sis import obstacle_terms
        from safe_learners.sis_index import delta_phi_np
        c = self.cfg
        total = c.total_steps if total_steps is None else total_steps
        os.makedirs(c.run_dir, exist_ok=True)
        logf = open(os.path.join(c.run_dir, "log.jsonl"), "a")
        t0, wall0 = time.time(), self.counters["wall_s"]
        obs, info = self.env.reset(seed=int(self.rng.integers(2 ** 31)))
        dd_prev = obstacle_terms(info) if self.d_min is not None else None
        ep_r = ep_c = 0.0
        while self.counters["env_steps"] < total:
            if deadline is not None and time.time() >= deadline:
                break
            O, A, R, C, D, LP, eps = [], [], [], [], [], [], []
            for _ in range(c.steps_per_epoch):
                o = torch.as_tensor(obs, dtype=torch.float32)
                with torch.no_grad():
                    dist = self._dist(o)
                    a = dist.sample()
                    lp = dist.log_prob(a).sum()
                obs2, r, term, trunc, info = self.env.step(np.clip(a.numpy(), -1, 1))
                cost = float(info.get("cost", 0.0))
                self.counters["env_steps"] += 1
                self.counters["cost_steps"] += int(cost > 0)
                if dd_prev is not None:
                    dd_next = obstacle_terms(info)
                    self.counters["eq1_violations"] += int(delta_phi_np(*dd_prev, *dd_next, c.ref_index,
                                                                        self.d_min) > -1e-4)
                    dd_prev = dd_next
                O.append(obs); A.append(a.numpy()); R.append(r); C.append(cost); LP.append(float(lp))  # noqa: E702
                D.append(float(term or trunc))
                ep_r += r
                ep_c += cost
                obs = obs2
                if term or trunc:
                    self.counters["episodes"] += 1
                    self.counters["cost_episodes"] += int(ep_c > 0)
                    eps.append((ep_r, ep_c))
                    ep_r = ep_c = 0.0
                    obs, info = self.env.reset(seed=int(self.rng.integers(2 ** 31)))
                    dd_prev = obstacle_terms(info) if self.d_min is not None else None
            O = torch.as_tensor(np.array(O), dtype=torch.float32)
            with torch.no_grad():
                vr, vc = self.vr(O).squeeze(-1).numpy(), self.vc(O).squeeze(-1).numpy()
                lo = torch.as_tensor(obs, dtype=torch.float32)
                lvr, lvc = float(self.vr(lo)), float(self.vc(lo))
            adv_r, ret_r = self._gae(np.array(R), vr, lvr, np.array(D))
            adv_c, ret_c = self._gae(np.array(C), vc, lvc, np.array(D))
            # multiplier ascent on J_c - d (mean episodic cost this epoch)
            jc = float(np.mean([e[1] for e in eps])) if eps else float(np.sum(C))
            self.penalty = self.penalty + c.lr_penalty * (jc - c.cost_limit)
            lam = self.lam()
            adv_r = (adv_r - adv_r.mean()) / (adv_r.std() + 1e-8)
            adv_c = adv_c - adv_c.mean()
            adv = torch.as_tensor((adv_r - lam * adv_c) / (1.0 + lam), dtype=torch.float32)
            A_t, LP_t = torch.as_tensor(np.array(A)), torch.as_tensor(np.array(LP), dtype=torch.float32)
            RR, RC = torch.as_tensor(ret_r, dtype=torch.float32), torch.as_tensor(ret_c, dtype=torch.float32)
            n, kl = len(O), 0.0
            for _ in range(c.train_iters):
                perm = self.rng.permutation(n)
                for i in range(0, n, c.minibatch):
                    j = perm[i:i + c.minibatch]
                    lp = self._dist(O[j]).log_prob(A_t[j]).sum(-1)
                    ratio = (lp - LP_t[j]).exp()
                    pl = -torch.min(ratio * adv[j], ratio.clamp(1 - c.clip, 1 + c.clip) * adv[j]).mean()
                    self.opt_pi.zero_grad(); pl.backward(); self.opt_pi.step()  # noqa: E702
                    vl = F.mse_loss(self.vr(O[j]).squeeze(-1), RR[j]) + F.mse_loss(self.vc(O[j]).squeeze(-1), RC[j])
                    self.opt_v.zero_grad(); vl.backward(); self.opt_v.step()  # noqa: E702
                with torch.no_grad():
                    kl = float((LP_t - self._dist(O).log_prob(A_t).sum(-1)).mean())
                if kl > c.kl_margin * c.target_kl:
                    break
            self.counters["wall_s"] = wall0 + time.time() - t0
            rec = dict(**self.counters, lam=lam, kl=kl, epoch_episodes=len(eps),
                       ep_return=float(np.mean([e[0] for e in eps])) if eps else None,
                       ep_cost=jc)
            self.history.append(rec)
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            log(json.dumps(rec))
        logf.close()
        return self

    def evaluate(self, episodes=5, seed=10_000):
        """Deterministic (mean) policy, scored by the shared evaluator (eq.-1 violations under cfg.ref_index)."""
        from safe_learners.sis import ENV_FACTORIES, evaluate_episode
        env = ENV_FACTORIES[self.cfg.env](**self.cfg.env_kwargs)
        return [evaluate_episode(env, self.policy_action, seed + e, env.d_min, {"phih": self.cfg.ref_index})
                for e in range(episodes)]

    def save(self, path):
        st = {"cfg": asdict(self.cfg), "pi": self.pi.state_dict(), "log_std": self.log_std.detach(),
              "vr": self.vr.state_dict(), "vc": self.vc.state_dict(), "opt_pi": self.opt_pi.state_dict(),
              "opt_v": self.opt_v.state_dict(), "penalty": self.penalty, "counters": dict(self.counters),
              "history": self.history, "np_rng": self.rng.bit_generator.state}
        tmp = f"{path}.tmp.{os.getpid()}"
        torch.save(st, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path, **overrides):
        """The learner saved at `path`, continuing in the folder the checkpoint is in now; `overrides` replace
        config fields."""
        st = torch.load(path, weights_only=False)
        cfgd = dict(st["cfg"], run_dir=os.path.dirname(path) or ".")
        cfgd.update(overrides)
        cfgd["ref_index"] = tuple(cfgd.get("ref_index", PPOLagConfig.ref_index))
        ag = cls(PPOLagConfig(**cfgd))
        ag.pi.load_state_dict(st["pi"])
        with torch.no_grad():
            ag.log_std.copy_(st["log_std"])
        ag.vr.load_state_dict(st["vr"]); ag.vc.load_state_dict(st["vc"])  # noqa: E702
        ag.opt_pi.load_state_dict(st["opt_pi"]); ag.opt_v.load_state_dict(st["opt_v"])  # noqa: E702
        ag.penalty = st["penalty"]
        ag.counters.update(st["counters"])
        ag.history = list(st["history"])
        ag.rng.bit_generator.state = st["np_rng"]
        return ag
