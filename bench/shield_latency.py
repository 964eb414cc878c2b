"""Shield decision latency, in process, against a bare ONNX Runtime floor measured in the same run.

    ./run.sh bench shield_latency [--decisions 5000] [--json out/bench_shield.json]

Cases (issue 2): safety-index filter for 2-, 7- and 12-dimensional actions (a D-dimensional point
mass among 6 obstacles; about half the decisions need the QP), the shipped point-robot bundle,
the safety-critic filter with 64 candidates, and the barrier filter with a 5-member ensemble and
32 candidates. Each row: median / p99 / max over ``--decisions`` decisions after warm-up, the
floor (bare ORT call(s) of the same graphs on the filter's worst path) and the ratio p99 / floor p99.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from safe_learners.export import GraphExport, export_bundle
from safe_learners.handcrafted_index import SafetyIndexModule
from safe_shield.bundle import VectorSpec, load_bundle
from safe_shield.decision import Outcome
from safe_shield.shield import Shield

PROV = {"algorithm": "benchmark fixture", "env": "synthetic", "seed": 0, "training_steps": 0}
NO_DEADLINE = {"deadline_s": 10.0, "fallback": "zero"}  # measure the filter, not the deadline


def percentiles(samples_s: list[float]) -> dict:
    a = np.asarray(samples_s) * 1e6
    return {"median_us": float(np.median(a)), "p99_us": float(np.percentile(a, 99)), "max_us": float(a.max())}


def time_calls(fn, inputs, warmup: int = 500) -> dict:
    for i in range(warmup):
        fn(*inputs[i % len(inputs)])
    out = []
    for args in inputs:
        t0 = time.perf_counter()
        fn(*args)
        out.append(time.perf_counter() - t0)
    return percentiles(out)


# --- safety index: D-dimensional point mass among K obstacles --------------------------------
def index_bundle(dest: Path, D: int, K: int = 6):
    n = 2 * D + K * D
    names = [f"p{j}" for j in range(D)] + [f"v{j}" for j in range(D)] + \
        [f"o{i}_{j}" for i in range(K) for j in range(D)]
    low = np.r_[-np.ones(D) * 3, -np.ones(D) * 4, -np.ones(K * D) * 3]
    obs = VectorSpec.make(names, ["m"] * n, low, -low)
    act = VectorSpec.make([f"f{j}" for j in range(D)], ["-"] * D, -np.ones(D), np.ones(D))
    index = SafetyIndexModule(n, tuple(range(D)), tuple(range(D, 2 * D)),
                              [tuple(2 * D + i * D + j for j in range(D)) for i in range(K)],
                              sigma=0.0, n=2.0, k=0.6, d_min=0.35)
    A = np.zeros((n, n))
    B = np.zeros((n, D))
    A[np.arange(D), D + np.arange(D)] = 1.0
    A[D + np.arange(D), D + np.arange(D)] = -1.0
    B[D + np.arange(D), np.arange(D)] = 4.0
    export_bundle(dest, kind="safety_index", name=f"bench_index_{D}d", observation=obs, action=act,
                  graphs={"index": GraphExport(index, ("obs",), ("phi", "grad"))},
                  filter={"type": "safety_index", "dt": 0.02, "eta": 0.0, "epsilon": 1e-4,
                          "model": {"type": "linear", "A": A.tolist(), "B": B.tolist()}},
                  provenance=PROV, n_check=1000)
    return dest


def index_inputs(D: int, n: int, rng, K: int = 6):
    """States 0.5–1.5 m from obstacle 0 and closing in at up to 2 m/s, commands at random: the
    index is active (φ > 0) at most of them, so many decisions need the QP."""
    out = []
    for _ in range(n):
        obstacles = rng.uniform(-2.0, 2.0, (K, D))
        away = rng.normal(size=D)
        away /= np.linalg.norm(away)
        p = obstacles[0] + away * rng.uniform(0.5, 1.5)
        v = -away * rng.uniform(0.0, 2.0) + rng.normal(size=D) * 0.2
        x = np.concatenate([np.clip(p, -2.9, 2.9), v, obstacles.ravel()]).astype(np.float32)
        out.append((x, rng.uniform(-1, 1, D)))
    return out


# --- critic and barrier: small MLPs of the sizes the papers' code uses ------------------------
def mlp(n_in, n_out, hidden=64, depth=2):
    layers, d = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    return nn.Sequential(*layers, nn.Linear(d, n_out))


class Critic(nn.Module):
    def __init__(self, n_obs, n_act):
        super().__init__()
        self.net = mlp(n_obs + n_act, 1, 256)

    def forward(self, obs, act):
        return self.net(torch.cat([obs, act], dim=1))


class Ensemble(nn.Module):
    def __init__(self, n_obs, n_act, k=5):
        super().__init__()
        self.members = nn.ModuleList(mlp(n_obs + n_act, n_obs, 256, 4) for _ in range(k))

    def forward(self, obs, act):
        z = torch.cat([obs, act], dim=1)
        return obs.unsqueeze(1) + 0.05 * torch.stack([m(z) for m in self.members], dim=1)


class Barrier(nn.Module):
    def __init__(self, n_obs):
        super().__init__()
        self.net = mlp(n_obs, 1, 256)

    def forward(self, obs):
        return 1.0 - (obs * obs).sum(1, keepdim=True) - 0.01 * torch.tanh(self.net(obs))


class Policy(nn.Module):
    def __init__(self, n_obs, n_act):
        super().__init__()
        self.net = mlp(n_obs, n_act, 64)

    def forward(self, obs):
        return torch.tanh(self.net(obs))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_shield_"))

    def record(case, shield, inputs, floors):
        """floors: {name: (callable, description)} of bare ONNX Runtime calls, in the same run."""
        outcomes = {o.value: 0 for o in Outcome}
        for i in range(500):
            shield.decide(*inputs[i % len(inputs)][:2], 0.0, 0.0)
        all_lat, intervening = [], []
        for x, u in inputs:
            _, d = shield.decide(x, u, 0.0, 0.0)
            all_lat.append(d.compute_time_s)
            if d.outcome is not Outcome.PASS:
                intervening.append(d.compute_time_s)
            outcomes[d.outcome.value] += 1
        row = {"case": case, **percentiles(all_lat), "outcomes": outcomes,
               "intervening": percentiles(intervening) if intervening else None, "floors": {}}
        for name, (fn, desc) in floors.items():
            row["floors"][name] = {"what": desc, **time_calls(fn, [()] * 2000)}
        first = next(iter(row["floors"].values()))
        row["ratio_p99_to_floor"] = row["p99_us"] / first["p99_us"]
        rows.append(row)
        iv = row["intervening"] or {"median_us": float("nan"), "p99_us": float("nan")}
        floor_txt = "; ".join(f"{f['what']}: {f['median_us']:.1f}/{f['p99_us']:.1f}" for f in row["floors"].values())
        print(f"{case}\n    all decisions  median {row['median_us']:6.1f} µs  p99 {row['p99_us']:6.1f} µs  max {row['max_us']:7.1f} µs"
              f"\n    intervening    median {iv['median_us']:6.1f} µs  p99 {iv['p99_us']:6.1f} µs"
              f"\n    floor (bare ORT median/p99 µs) {floor_txt}\n    p99 / first floor p99 = {row['ratio_p99_to_floor']:.2f}   outcomes {outcomes}")

    for D in (2, 7, 12):
        bundle = load_bundle(index_bundle(tmp / f"index{D}", D))
        shield = Shield.from_bundle(bundle, NO_DEADLINE)
        inputs = index_inputs(D, args.decisions, rng)
        g = bundle.graph("index").bind(1)
        g.inputs["obs"][:] = inputs[0][0]
        record(f"safety index, {D}-D action, 6 obstacles", shield, inputs,
               {"index": (g, "index graph, batch 1")})

    demo = Path(__file__).resolve().parents[1] / "models" / "point_hazards_ssa"
    shield = Shield.from_bundle(demo, NO_DEADLINE)
    import gymnasium as gym

    import sim  # noqa: F401

    env = gym.make("SafeShield/PointHazards-v0")
    from safe_shield.demo import aggressive_controller

    inputs = []
    seed = 0
    while len(inputs) < args.decisions:
        obs, _ = env.reset(seed=seed)
        seed += 1
        done = False
        while not done and len(inputs) < args.decisions:
            u = aggressive_controller(obs)
            inputs.append((obs.copy(), u))
            u_safe, _ = shield.decide(obs, u, 0.0, 0.0)
            obs, _, term, trunc, _ = env.step(u_safe)
            done = term or trunc
    g = shield.bundle.graph("index").bind(1)
    g.inputs["obs"][:] = inputs[0][0]
    record("safety index, demo point robot (closed loop)", shield, inputs, {"index": (g, "index graph, batch 1")})

    n_obs, n_act = 18, 2
    obs = VectorSpec.make([f"x{i}" for i in range(n_obs)], ["-"] * n_obs, -np.ones(n_obs) * 3, np.ones(n_obs) * 3)
    act = VectorSpec.make(["u0", "u1"], ["-"] * 2, -np.ones(2), np.ones(2))
    critic = Critic(n_obs, n_act)
    xs = rng.uniform(-3, 3, (4000, n_obs)).astype(np.float32)
    us = rng.uniform(-1, 1, (4000, n_act)).astype(np.float32)
    with torch.no_grad():
        eps = float(np.median(critic(torch.from_numpy(xs), torch.from_numpy(us)).numpy()))
    export_bundle(tmp / "critic", kind="safety_critic", name="bench_critic", observation=obs, action=act,
                  graphs={"critic": GraphExport(critic, ("obs", "act"), ("q",))},
                  filter={"type": "safety_critic", "epsilon": eps, "num_candidates": 64}, provenance=PROV)
    shield = Shield.from_bundle(tmp / "critic", NO_DEADLINE)
    inputs = [(xs[i % 4000], us[i % 4000].astype(np.float64)) for i in range(args.decisions)]
    g = shield.bundle.graph("critic")
    one, batch = g.bind(1), g.bind(64)
    one.inputs["obs"][:], one.inputs["act"][:] = xs[:1], us[:1]
    batch.inputs["obs"][:], batch.inputs["act"][:] = xs[:1], us[:64]
    record("safety critic, 64 candidates", shield, inputs,
           {"pass": (one, "critic batch 1"), "worst": (lambda: (one(), batch()), "critic batch 1 + batch 64")})

    n_obs, n_act = 4, 1
    obs = VectorSpec.make(["x", "theta", "x_dot", "theta_dot"], ["m", "rad", "m/s", "rad/s"], -np.ones(4), np.ones(4))
    act = VectorSpec.make(["force"], ["-"], [-1.0], [1.0])
    export_bundle(tmp / "barrier", kind="barrier", name="bench_barrier", observation=obs, action=act,
                  graphs={"barrier": GraphExport(Barrier(n_obs), ("obs",), ("h",)),
                          "dynamics": GraphExport(Ensemble(n_obs, n_act), ("obs", "act"), ("next_obs",)),
                          "backup_policy": GraphExport(Policy(n_obs, n_act), ("obs",), ("act",))},
                  filter={"type": "barrier", "margin": 0.0, "num_candidates": 32}, provenance=PROV)
    shield = Shield.from_bundle(tmp / "barrier", {**NO_DEADLINE, "fallback": "backup_policy"})
    xs = rng.uniform(-0.75, 0.75, (4000, n_obs)).astype(np.float32)
    inputs = [(xs[i % 4000], rng.uniform(-1, 1, 1)) for i in range(args.decisions)]
    b = shield.bundle
    h1, d1, h5 = b.graph("barrier").bind(1), b.graph("dynamics").bind(1), b.graph("barrier").bind(5)
    p1, d32, h160 = b.graph("backup_policy").bind(1), b.graph("dynamics").bind(32), b.graph("barrier").bind(160)
    for bound in (h1, d1, h5, p1, d32, h160):
        for arr in bound.inputs.values():
            arr[:] = rng.uniform(-0.5, 0.5, arr.shape)
    record("barrier, 5-member ensemble x 32 candidates", shield, inputs,
           {"pass": (lambda: (h1(), d1(), h5()), "h batch 1 + ensemble batch 1 + h batch 5"),
            "worst": (lambda: (h1(), d1(), h5(), p1(), d32(), h160()),
                      "pass path + policy batch 1 + ensemble batch 32 + h batch 160")})

    machine = f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nmachine: {machine}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
