"""The classic hand-designed safety index for a point robot among round hazards, and the bundle
the demo ships.

Safety index (SIS eq. 11, after Liu & Tomizuka's safe set algorithm), one per hazard i:
    φ_i = σ + d_min^n − d_i^n − k·ḋ_i,
with d_i the robot–hazard centre distance and ḋ_i its rate (negative when approaching). The graph
returns φ [B, K] and its exact gradient with respect to the whole observation [B, K, n_obs], in
closed form (no autodiff inside ONNX):
    ∂φ/∂p = −n d^{n−1} r̂ − k (v − r̂ ḋ)/d,   ∂φ/∂v = −k r̂,   ∂φ/∂o_i = −∂φ/∂p,
with r̂ = (p − o_i)/d. SIS learns (σ, n, k); the same module exports the learned index.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from safe_shield.bundle import Bundle, VectorSpec

from .export import GraphExport, export_bundle

# Hand-tuned for PointRobotParams(): k large enough that full braking (4 m/s²) can always
# dissipate φ at the terminal speed, d_min a 5 cm margin outside the hazard.
DEFAULT_INDEX = {"sigma": 0.0, "n": 2.0, "k": 0.6, "margin": 0.05}


class SafetyIndexModule(nn.Module):
    """obs → (phi [B, K], grad [B, K, n_obs]) for φ_i = σ + d_min^n − d_i^n − k ḋ_i in D dimensions.

    Written for few ONNX ops (each small op costs ~1 µs in ONNX Runtime): one MatMul gives every
    relative position p − o_i and the velocity, one batched MatMul scatters the gradient into
    observation coordinates.
    """

    def __init__(self, n_obs: int, pos_idx: tuple[int, ...], vel_idx: tuple[int, ...],
                 obstacle_idx: list[tuple[int, ...]], *, sigma: float, n: float, k: float,
                 d_min: float, eps: float = 1e-9):
        super().__init__()
        K, D = len(obstacle_idx), len(pos_idx)
        self.K, self.D = K, D
        self.n, self.k, self.eps = float(n), float(k), eps
        self.sigma, self.d_min = float(sigma), float(d_min)
        self.offset = float(sigma) + float(d_min) ** float(n)
        # obs @ W = [p − o_0, ..., p − o_{K-1}, v]  (K·D + D columns)
        W = torch.zeros(n_obs, K * D + D)
        for i, obs_i in enumerate(obstacle_idx):
            for j in range(D):
                W[pos_idx[j], i * D + j] += 1.0
                W[obs_i[j], i * D + j] -= 1.0
        for j in range(D):
            W[vel_idx[j], K * D + j] = 1.0
        # Row i of the gradient: [∂φ_i/∂p, ∂φ_i/∂v] placed at p, v, and −∂φ_i/∂p at o_i.
        P = torch.zeros(K, 2 * D, n_obs)
        for i, obs_i in enumerate(obstacle_idx):
            for j in range(D):
                P[i, j, pos_idx[j]] = 1.0
                P[i, j, obs_i[j]] = -1.0
                P[i, D + j, vel_idx[j]] = 1.0
        self.register_buffer("W", W)
        self.register_buffer("P", P)

    def forward(self, obs: torch.Tensor):
        z = obs @ self.W
        rel = z[:, : self.K * self.D].reshape(-1, self.K, self.D)      # p − o_i   [B, K, D]
        v = z[:, self.K * self.D:].unsqueeze(1)                         # [B, 1, D]
        d = torch.sqrt((rel * rel).sum(-1) + self.eps)                  # [B, K]
        inv_d = 1.0 / d
        d_dot = (rel * v).sum(-1) * inv_d                               # ḋ = r̂ᵀv
        d_n = torch.pow(d, self.n)
        phi = self.offset - d_n - self.k * d_dot
        # ∂φ/∂p = (k ḋ − n dⁿ)/d² · (p − o) − (k/d) v ;  ∂φ/∂v = −(k/d)(p − o)
        c_rel = ((self.k * d_dot - self.n * d_n) * inv_d * inv_d).unsqueeze(-1)
        c_v = (-self.k * inv_d).unsqueeze(-1)
        grad_pv = torch.cat([c_rel * rel + c_v * v, c_v * rel], dim=-1)  # [B, K, 2D]
        grad = (grad_pv.unsqueeze(2) @ self.P).squeeze(2)               # [B, K, n_obs]
        return phi, grad


class BrakePolicy(nn.Module):
    """Backup policy: full braking against the current velocity, u = clip(−gain·v, −1, 1)."""

    def __init__(self, n_obs: int, vel_idx: tuple[int, int], gain: float = 5.0):
        super().__init__()
        sel = torch.zeros(2, n_obs)
        sel[0, vel_idx[0]] = sel[1, vel_idx[1]] = 1.0
        self.register_buffer("sel", sel)
        self.gain = gain

    def forward(self, obs: torch.Tensor):
        return torch.clamp(-self.gain * (obs @ self.sel.T), -1.0, 1.0)


def point_robot_index(params, *, sigma: float, n: float, k: float, margin: float) -> SafetyIndexModule:
    K = params.num_hazards
    return SafetyIndexModule(6 + 2 * K, (0, 1), (2, 3), [(6 + 2 * i, 7 + 2 * i) for i in range(K)],
                             sigma=sigma, n=n, k=k, d_min=params.hazard_radius + margin)


def build_point_bundle(dest: str | Path, *, params=None, sigma: float = DEFAULT_INDEX["sigma"],
                       n: float = DEFAULT_INDEX["n"], k: float = DEFAULT_INDEX["k"],
                       margin: float = DEFAULT_INDEX["margin"], eta: float = 0.02,
                       epsilon: float = 1e-4, name: str = "point_hazards_ssa",
                       provenance: dict | None = None, overwrite: bool = False) -> Bundle:
    """Safety-index bundle for the MuJoCo point robot: index graph, linear control-affine model
    in the manifest, braking backup policy as the fallback."""
    from sim.point_robot import PointRobotParams, control_affine_matrices, observation_names

    params = params or PointRobotParams()
    K = params.num_hazards
    names = observation_names(K)
    units = ["m", "m", "m/s", "m/s", "m", "m"] + ["m"] * (2 * K)
    low = np.full(len(names), -params.bound)
    high = np.full(len(names), params.bound)
    low[2:4], high[2:4] = -params.max_speed, params.max_speed
    observation = VectorSpec.make(names, units, low, high)
    action = VectorSpec.make(["fx", "fy"], ["normalised force"] * 2, [-1, -1], [1, 1])
    A, B = control_affine_matrices(params)
    index = point_robot_index(params, sigma=sigma, n=n, k=k, margin=margin)
    return export_bundle(
        dest, kind="safety_index", name=name, observation=observation, action=action,
        graphs={"index": GraphExport(index, ("obs",), ("phi", "grad")),
                "backup_policy": GraphExport(BrakePolicy(len(names), (2, 3)), ("obs",), ("act",))},
        filter={"type": "safety_index", "dt": params.dt, "eta": eta, "epsilon": epsilon,
                "index": {"form": "sigma + d_min^n - d^n - k*d_dot, max over hazards",
                          "sigma": sigma, "n": n, "k": k, "d_min": params.hazard_radius + margin,
                          "hazard_radius": params.hazard_radius},
                "model": {"type": "linear", "A": A.tolist(), "B": B.tolist(), "c": [0.0] * len(names)}},
        fallback={"kind": "backup_policy"},
        provenance=provenance or {"algorithm": "handcrafted safety index (SSA)",
                                  "env": "SafeShield/PointHazards-v0", "seed": None,
                                  "training_steps": 0},
        overwrite=overwrite)


def main(argv: list[str] | None = None) -> int:
    """Rebuild the shipped demo bundle (models/point_hazards_ssa)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--dest", default=str(Path(__file__).resolve().parents[2] / "models" / "point_hazards_ssa"))
    args = parser.parse_args(argv)
    bundle = build_point_bundle(args.dest, overwrite=True)
    print(f"wrote {bundle.path} (max |ORT−torch| per graph: "
          f"{bundle.provenance['export_check']['max_abs_error']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
