"""Is "learned index intervenes more than the handcrafted one" a property of the indices or of the measurement?

  PYTHONPATH=src:. python scripts/sis_shield_compare.py --zeta 0.0378 1.8209 0.7026 --out runs/sis_shield_compare
  ... --handcrafted-zeta 0.3 2 1     # the reference is the index phi_h of the paper / Issue 5 (Table 2),
                                     # exported the same way, instead of the demo's hand-tuned bundle

Closed loop (as scripts/sis_point_shield.py / safe_learners.sis_point.closed_loop: the demo's aggressive controller
behind Shield.from_bundle on SafeShield/PointHazards-v0, seeds SEED..SEED+E-1), with per-step records, for the
learned index (exported with build_point_bundle exactly as sis_point_shield.py --zeta does) and the handcrafted
bundle.  Reports, per index:
  * interventions (decisions that are not a plain pass; the demo's count), steps, interventions per step,
    and the size of the corrections |u_safe - u_cmd| (median, share below 1e-3 = "tiny" corrections);
  * SAME-STREAM replay: every (state, command) pair recorded under one shield is given to the other shield as
    well, so both filters judge the identical stream (the closed loop cannot give this: the commands depend on
    where the previous shield put the robot);
  * the share of visited states with phi >= 0 under each index (the band where the filter's constraint is
    the "decrease" row max(phi - eta, 0) - phi instead of "stay below 0").
Nothing is tuned here; it only measures.
"""
import argparse
import json
import os
import time

import numpy as np
import torch


def phi_np(states, zeta, d_min):
    """max over hazards of sigma + d_min^n - d^n - k*ddot on point-robot observation rows."""
    from safe_learners.sis_point import PointModel
    d, dd = PointModel(d_min=d_min).d_ddot(states)
    s, n, k = zeta
    return (s + d_min ** n - d ** n - k * dd).max(1)


def run_stream(bundle, episodes, seed):
    """Closed loop with per-step records: obs, u_cmd, u_safe, intervened, fallback; plus the demo's summary."""
    import gymnasium as gym

    import sim  # noqa: F401
    from safe_shield.decision import Outcome
    from safe_shield.demo import aggressive_controller
    from safe_shield.shield import Shield
    shield = Shield.from_bundle(bundle)
    env = gym.make("SafeShield/PointHazards-v0")
    rec = dict(obs=[], u_cmd=[], u_safe=[], inter=[], fb=[], t=[])
    tot = dict(episodes=episodes, violations=0, steps=0, goals=0, episodes_with_violation=0)
    for e in range(episodes):
        obs, info = env.reset(seed=seed + e)
        dt = env.unwrapped.params.dt
        t, v_ep = 0.0, 0
        while True:
            u = aggressive_controller(obs)
            us, dec = shield.decide(obs, u, state_stamp=t, now=t)
            rec["obs"].append(np.asarray(obs, np.float64))
            rec["u_cmd"].append(np.asarray(u, np.float64))
            rec["u_safe"].append(np.asarray(us, np.float64))
            rec["inter"].append(dec.outcome is not Outcome.PASS)
            rec["fb"].append(dec.outcome is Outcome.FALLBACK)
            rec["t"].append(t)
            obs, _, term, trunc, info = env.step(us)
            t += dt
            tot["steps"] += 1
            v_ep += bool(info["unsafe"])
            if term or trunc:
                tot["goals"] += bool(info.get("goal_reached", False))
                break
        tot["violations"] += v_ep
        tot["episodes_with_violation"] += v_ep > 0
    return {k: np.asarray(v) for k, v in rec.items()}, tot


def replay(bundle, rec):
    """The other shield's decisions on the recorded (state, command) stream (fresh shield, same time stamps)."""
    from safe_shield.decision import Outcome
    from safe_shield.shield import Shield
    shield = Shield.from_bundle(bundle)
    inter = np.zeros(len(rec["obs"]), bool)
    du = np.zeros(len(rec["obs"]))
    for i, (o, u, t) in enumerate(zip(rec["obs"], rec["u_cmd"], rec["t"])):
        us, dec = shield.decide(o.astype(np.float32), u, state_stamp=t, now=t)
        inter[i] = dec.outcome is not Outcome.PASS
        du[i] = np.linalg.norm(us - u)
    return inter, du


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zeta", type=float, nargs=3, metavar=("SIGMA", "N", "K"), required=True)
    ap.add_argument("--handcrafted", default="models/point_hazards_ssa")
    ap.add_argument("--handcrafted-zeta", type=float, nargs=3, metavar=("SIGMA", "N", "K"), default=None,
                    help="export this index as the reference (same path as --zeta) instead of --handcrafted")
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--out", default="runs/sis_shield_compare")
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    from safe_learners.handcrafted_index import DEFAULT_INDEX, build_point_bundle
    from safe_shield.bundle import load_bundle
    from sim.point_robot import PointRobotParams
    params = PointRobotParams()
    eta = load_bundle(a.handcrafted).manifest["filter"]["eta"]
    d_min = params.hazard_radius + DEFAULT_INDEX["margin"]
    os.makedirs(a.out, exist_ok=True)
    bpath = os.path.join(a.out, "bundle_sis")
    zeta = tuple(a.zeta)
    build_point_bundle(bpath, params=params, sigma=zeta[0], n=zeta[1], k=zeta[2], margin=DEFAULT_INDEX["margin"],
                       eta=eta, name="point_hazards_sis",
                       provenance={"algorithm": "given index (--zeta)", "env": "SafeShield/PointHazards-v0",
                                   "seed": 0, "training_steps": 0, "zeta_init": zeta}, overwrite=True)
    hand, hpath = (DEFAULT_INDEX["sigma"], DEFAULT_INDEX["n"], DEFAULT_INDEX["k"]), a.handcrafted
    if a.handcrafted_zeta is not None:
        hand, hpath = tuple(a.handcrafted_zeta), os.path.join(a.out, "bundle_handcrafted")
        build_point_bundle(hpath, params=params, sigma=hand[0], n=hand[1], k=hand[2], margin=DEFAULT_INDEX["margin"],
                           eta=eta, name="point_hazards_reference",
                           provenance={"algorithm": "given index (--handcrafted-zeta)",
                                       "env": "SafeShield/PointHazards-v0", "seed": 0, "training_steps": 0,
                                       "zeta_init": hand}, overwrite=True)
    bundles = {"learned": (bpath, zeta), "handcrafted": (hpath, hand)}
    streams = {name: run_stream(b, a.episodes, a.seed) for name, (b, _) in bundles.items()}
    res = dict(zeta_learned=zeta, zeta_handcrafted=hand, d_min=d_min, eta=eta, episodes=a.episodes, seed=a.seed)
    for name, (rec, tot) in streams.items():
        du = np.linalg.norm(rec["u_safe"] - rec["u_cmd"], axis=1)
        it = rec["inter"]
        row = dict(tot, interventions=int(it.sum()), fallbacks=int(rec["fb"].sum()),
                   interventions_per_step=float(it.mean()),
                   correction_median=float(np.median(du[it])) if it.any() else 0.0,
                   correction_mean=float(du[it].mean()) if it.any() else 0.0,
                   tiny_corrections=int((it & (du < 1e-3)).sum()),
                   # where the filter acts: phi under this stream's own index at the intervened decisions
                   phi_own_at_interventions_quantiles=[float(q) for q in np.quantile(
                       phi_np(rec["obs"][it], bundles[name][1], d_min), [0.05, 0.25, 0.5, 0.75, 0.95])]
                   if it.any() else None,
                   phi_pos_share={k: float((phi_np(rec["obs"], z, d_min) >= 0).mean()) for k, (_, z) in bundles.items()})
        # same stream: each shield's decision on this stream's (state, command) pairs
        row["same_stream"] = {}
        for other, (b, _) in bundles.items():
            oi, odu = replay(b, rec)
            row["same_stream"][other] = dict(interventions=int(oi.sum()), per_step=float(oi.mean()),
                                             correction_mean=float(odu[oi].mean()) if oi.any() else 0.0)
        res[f"stream_{name}"] = row
    res["wall_s"] = time.time() - t0
    with open(os.path.join(a.out, "result.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
