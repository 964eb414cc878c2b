"""Table-3 proxy on the App. E.2 unicycle: 100 trajectories per initial distribution of the aggressive tracker
behind a grid-search eq.-1 filter for each Table-2 index, plus the infeasible fraction on uniform states.

  PYTHONPATH=src:. python scripts/sis_validity_unicycle.py
"""
import json

from safe_learners.sis_index import TABLE2
from safe_learners.sis_unicycle import UnicycleModel, filtered_rollouts, sample_uniform_states
from safe_learners.validity import infeasible_fraction

M = UnicycleModel()
U_slow = sample_uniform_states(5000, 1, d_range=(0.5, 3.0), v_range=(0.0, 2.0))
U_fast = sample_uniform_states(5000, 2, d_range=(0.5, 3.0), v_range=(2.0, 6.0))
print("| index (sigma, n, k) | dist | success | phi0-violation | infeasible traj. | tracking err | infeasible uniform v<=2 | infeasible uniform v in [2,6] |")
print("|---|---|---|---|---|---|---|---|")
out = {}
for name, z in TABLE2.items():
    fs, ff = infeasible_fraction(U_slow, M, z, 0.5), infeasible_fraction(U_fast, M, z, 0.5)
    for dist in (1, 2, 3):
        r = filtered_rollouts(z, n_traj=100, init_dist=dist, seed=0)
        r.pop("visited")
        out[f"{name}/{dist}"] = dict(r, uniform_slow=fs, uniform_fast=ff)
        print(f"| {name} {z} | {dist} | {r['success']:.2f} | {r['phi0_violation']:.2f} | {r['infeasible']:.2f} | "
              f"{r['tracking_error']:.3f} | {fs:.4f} | {ff:.4f} |")
json.dump(out, open("runs/sis_validity_unicycle.json", "w"), indent=1)
