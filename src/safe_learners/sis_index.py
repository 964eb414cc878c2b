"""Parametric safety index of the SIS paper (Ma et al., L4DC 2022), as plain functions.

    phi_zeta(s) = max_i [ sigma + d_min^n - d_i^n - k * ddot_i ]          (eq. 11; max over obstacles [code])
    Delta_phi(s, s') = phi(s') - max{ phi(s) - eta_D, 0 }                 (eq. 1 / eq. 2)

zeta = (sigma, n, k).  The digest lists two forms (paper: sigma + d_min^n; authors' learner: (sigma+d_min)^n);
we use the PAPER form everywhere (the same as the shield's handcrafted index).
ddot = d(d)/dt is NEGATIVE when approaching an obstacle.

These are functions of the stored per-obstacle (d, ddot), differentiable in zeta (torch), so the SIS loss is
recomputed with the current zeta on every batch (digest pitfall "Q_phi's target moves with zeta").
The runtime module for the shield (observation -> phi, grad) lives in safe_learners.handcrafted_index; this
file only holds what training and the validity check need.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Table 2 of the paper, (sigma, n, k).  eta = 0 for phi_h and phi_F.
PHI_0 = (0.0, 1.0, 0.0)          # d_min - d
PHI_H = (0.3, 2.0, 1.0)          # handcrafted
PHI_F = (0.04, 2.0, 1.0)         # valid by Zhao et al. (2021) rules
PHI_SIS_PAPER = (0.0958, 1.149, 0.7821)   # reported synthesized index
TABLE2 = {"phi0": PHI_0, "phih": PHI_H, "phiF": PHI_F, "phiSIS_paper": PHI_SIS_PAPER}

# Box for zeta during synthesis ([code]: sigma in [0,1], k in [0.5,3], n in [0.1,2]); keeps the
# degenerate minimiser (phi very negative / flat) out of reach (digest sec. 8).
ZETA_LOW = (0.0, 0.1, 0.5)
ZETA_HIGH = (1.0, 2.0, 3.0)


@dataclass(frozen=True)
class Zeta:
    sigma: float
    n: float
    k: float

    def as_tuple(self):
        return (float(self.sigma), float(self.n), float(self.k))


def phi_np(d, ddot, zeta, d_min):
    """Per-obstacle phi (numpy).  d, ddot: [..., m].  Returns [..., m]."""
    sigma, n, k = zeta
    d = np.maximum(np.asarray(d, dtype=np.float64), 0.0)
    return sigma + d_min ** n - d ** n - k * np.asarray(ddot, dtype=np.float64)   # eq. 11


def phi_max_np(d, ddot, zeta, d_min):
    """phi(s) = max over obstacles (last axis) [code]."""
    return phi_np(d, ddot, zeta, d_min).max(axis=-1)


def delta_phi_np(d, ddot, d_next, ddot_next, zeta, d_min, eta_d=0.0):
    """Delta_phi = phi(s') - max{phi(s) - eta_D, 0}  (eq. 1).  Shapes broadcast over leading axes."""
    return phi_max_np(d_next, ddot_next, zeta, d_min) - np.maximum(phi_max_np(d, ddot, zeta, d_min) - eta_d, 0.0)


# ------------------------------------------------------------------ torch versions (autodiff in zeta)
def phi_torch(d, ddot, sigma, n, k, d_min):
    import torch
    d = torch.clamp(d, min=1e-6)                    # d^n with real n needs d > 0
    return sigma + d_min ** n - d ** n - k * ddot   # eq. 11, per obstacle


def delta_phi_torch(d, ddot, d_next, ddot_next, sigma, n, k, d_min, eta_d=0.0):
    """Delta_phi over a batch: inputs [B, m]; returns [B].  max over obstacles, then eq. 1."""
    import torch
    phi_s = phi_torch(d, ddot, sigma, n, k, d_min).amax(dim=-1)
    phi_s2 = phi_torch(d_next, ddot_next, sigma, n, k, d_min).amax(dim=-1)
    return phi_s2 - torch.clamp(phi_s - eta_d, min=0.0)
