"""The main job: an aggressive goal-seeking controller drives the MuJoCo point robot through a
field of hazards, once raw and once behind the shield, over the same seeded layouts.

    safe-shield-demo --episodes 20 --seed 0 --out out/demo

Prints a table (episodes, violations = steps inside a hazard, interventions, goals reached,
shield decision latency median / p99) and writes a PNG of both sets of trajectories.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .decision import Outcome
from .shield import Shield

DEFAULT_BUNDLE = Path(__file__).resolve().parents[2] / "models" / "point_hazards_ssa"


def aggressive_controller(obs: np.ndarray) -> np.ndarray:
    """Saturating PD toward the goal: straight through whatever lies in between."""
    p, v, goal = obs[0:2], obs[2:4], obs[4:6]
    return np.clip(4.0 * (goal - p) - 0.5 * v, -1.0, 1.0)


@dataclass
class EpisodeStats:
    violations: int = 0          # steps with the robot's centre inside a hazard
    interventions: int = 0       # decisions that were not a plain pass
    fallbacks: int = 0
    steps: int = 0
    goal_reached: bool = False
    latencies_s: list = field(default_factory=list)
    path: list = field(default_factory=list)
    hazards: np.ndarray | None = None
    goal: np.ndarray | None = None


def run_episode(env, seed: int, shield: Shield | None = None, commander=aggressive_controller) -> EpisodeStats:
    obs, info = env.reset(seed=seed)
    stats = EpisodeStats(hazards=env.unwrapped.hazards.copy(), goal=env.unwrapped.goal.copy())
    dt = env.unwrapped.params.dt
    t = 0.0
    stats.path.append(obs[:2].copy())
    while True:
        u = commander(obs)
        if shield is not None:
            u, decision = shield.decide(obs, u, state_stamp=t, now=t)
            stats.latencies_s.append(decision.compute_time_s)
            stats.interventions += decision.outcome is not Outcome.PASS
            stats.fallbacks += decision.outcome is Outcome.FALLBACK
        obs, _, terminated, truncated, info = env.step(u)
        t += dt
        stats.steps += 1
        stats.violations += bool(info["unsafe"])
        stats.path.append(obs[:2].copy())
        if terminated or truncated:
            stats.goal_reached = bool(info.get("goal_reached", False))
            return stats


def summarise(label: str, runs: list[EpisodeStats]) -> dict:
    lat = np.concatenate([np.asarray(r.latencies_s) for r in runs]) if runs[0].latencies_s else None
    return {
        "run": label,
        "episodes": len(runs),
        "violations": sum(r.violations for r in runs),
        "episodes_with_violation": sum(r.violations > 0 for r in runs),
        "interventions": sum(r.interventions for r in runs),
        "fallbacks": sum(r.fallbacks for r in runs),
        "steps": sum(r.steps for r in runs),
        "goals_reached": sum(r.goal_reached for r in runs),
        "latency_median_us": float(np.median(lat) * 1e6) if lat is not None else None,
        "latency_p99_us": float(np.percentile(lat, 99) * 1e6) if lat is not None else None,
    }


def format_table(rows: list[dict]) -> str:
    cols = [("run", "run", "{}"), ("episodes", "episodes", "{}"), ("violations", "violations (steps)", "{}"),
            ("episodes_with_violation", "unsafe episodes", "{}"), ("interventions", "interventions", "{}"),
            ("fallbacks", "fallbacks", "{}"), ("goals_reached", "goals reached", "{}"),
            ("latency_median_us", "latency median (µs)", "{:.1f}"), ("latency_p99_us", "latency p99 (µs)", "{:.1f}")]
    cells = [[h for _, h, _ in cols]] + [
        ["-" if r[k] is None else fmt.format(r[k]) for k, _, fmt in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def plot(raw: list[EpisodeStats], shielded: list[EpisodeStats], radius: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(len(raw), 6)
    fig, axes = plt.subplots(2, 3, figsize=(12, 8))
    for ax, r, s in zip(axes.ravel(), raw[:n], shielded[:n]):
        for h in r.hazards:
            ax.add_patch(plt.Circle(h, radius, color="tab:red", alpha=0.35))
        ax.plot(*np.asarray(r.path).T, color="tab:gray", lw=1.2, label=f"raw ({r.violations} unsafe steps)")
        ax.plot(*np.asarray(s.path).T, color="tab:blue", lw=1.6, label=f"shielded ({s.violations} unsafe steps)")
        ax.plot(*r.path[0], "ko", ms=4)
        ax.plot(*r.goal, "*", color="tab:green", ms=14)
        ax.set_xlim(-2.6, 2.6)
        ax.set_ylim(-2.2, 2.2)
        ax.set_aspect("equal")
        ax.legend(loc="lower left", fontsize=7)
    fig.suptitle("Point robot among hazards: raw aggressive controller vs behind the shield")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    import gymnasium as gym
    from tqdm import tqdm

    import sim  # noqa: F401  (registers the environments)

    parser = argparse.ArgumentParser(description="Shielded point-robot demo (no ROS needed).")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="episode i uses seed + i")
    parser.add_argument("--bundle", default=str(DEFAULT_BUNDLE))
    parser.add_argument("--out", default="out/demo", help="folder for the PNG and the JSON summary")
    args = parser.parse_args(argv)

    shield = Shield.from_bundle(args.bundle)
    env = gym.make("SafeShield/PointHazards-v0")
    seeds = [args.seed + i for i in range(args.episodes)]
    raw = [run_episode(env, s) for s in tqdm(seeds, desc="raw controller", file=sys.stderr)]
    shielded = [run_episode(env, s, shield) for s in tqdm(seeds, desc="behind the shield", file=sys.stderr)]
    rows = [summarise("raw", raw), summarise("shielded", shielded)]
    print(format_table(rows))
    out = Path(args.out)
    png = out / "trajectories.png"
    plot(raw, shielded, env.unwrapped.params.hazard_radius, png)
    import json

    (out / "summary.json").write_text(json.dumps({"bundle": args.bundle, "seeds": seeds, "rows": rows}, indent=2))
    print(f"\ntrajectories: {png}\nsummary: {out / 'summary.json'}")
    return 0 if rows[1]["violations"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
