"""Small bundles whose right answers are known in closed form, for the shield tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from safe_shield.bundle import VectorSpec
from safe_learners.export import GraphExport, export_bundle

ROOT = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = ROOT / "models" / "point_hazards_ssa"

torch.set_num_threads(1)


# --- a 1-D integrator x' = x + dt·u with a barrier h(x) = 1 − x² (certified set |x| ≤ 1) -------
DT = 0.1
GAINS = (0.8, 0.9, 1.0, 1.1, 1.2)   # the ensemble brackets the true gain 1.0


class Barrier1D(nn.Module):
    def forward(self, obs):
        return 1.0 - obs[:, :1] ** 2


class Ensemble1D(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("gains", torch.tensor(GAINS).view(1, -1, 1))

    def forward(self, obs, act):
        return obs.unsqueeze(1) + DT * self.gains * act.unsqueeze(1)


class ReturnToOrigin(nn.Module):
    def forward(self, obs):
        return torch.clamp(-obs[:, :1] / DT, -1.0, 1.0)


def line_specs():
    obs = VectorSpec.make(["x"], ["m"], [-2.0], [2.0])
    act = VectorSpec.make(["v"], ["m/s"], [-1.0], [1.0])
    return obs, act


def make_barrier_bundle(dest: Path) -> Path:
    obs, act = line_specs()
    export_bundle(dest, kind="barrier", name="line_barrier", observation=obs,
                  action=act, graphs={"barrier": GraphExport(Barrier1D(), ("obs",), ("h",)),
                                      "dynamics": GraphExport(Ensemble1D(), ("obs", "act"), ("next_obs",)),
                                      "backup_policy": GraphExport(ReturnToOrigin(), ("obs",), ("act",))},
                  filter={"type": "barrier", "margin": 0.0, "num_candidates": 32},
                  fallback={"kind": "backup_policy"},
                  provenance={"algorithm": "analytic test barrier", "env": "1-D integrator",
                              "seed": 0, "training_steps": 0})
    return dest


# --- a critic whose risk is the first action component: Q_C(x, u) = u_0 + x_0 -------------------
class LinearRisk(nn.Module):
    def forward(self, obs, act):
        return act[:, :1] + obs[:, :1]


class GatherCritic(nn.Module):
    """A real ONNX Runtime failure on demand: a Gather whose index comes from the state, out of
    bounds (ORT raises) when obs_0 ≥ 3."""

    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.tensor([0.0, -1.0, 1.0]))

    def forward(self, obs, act):
        idx = obs[:, 0].to(torch.int64)
        return self.table[idx].unsqueeze(1) + 0.0 * act[:, :1]


def critic_specs():
    obs = VectorSpec.make(["x0", "x1"], ["-", "-"], [-5.0, -5.0], [5.0, 5.0])
    act = VectorSpec.make(["u0", "u1"], ["-", "-"], [-1.0, -1.0], [1.0, 1.0])
    return obs, act


def make_critic_bundle(dest: Path, module=None, obs: VectorSpec | None = None, **filter_params) -> Path:
    default_obs, act = critic_specs()
    obs = obs or default_obs
    export_bundle(dest, kind="safety_critic", name="linear_risk", observation=obs, action=act,
                  graphs={"critic": GraphExport(module or LinearRisk(), ("obs", "act"), ("q",))},
                  filter={"type": "safety_critic", "epsilon": 0.0, "num_candidates": 64, **filter_params},
                  provenance={"algorithm": "analytic test critic", "env": "none", "seed": 0,
                              "training_steps": 0}, n_check=200 if module is not None else 1000)
    return dest
