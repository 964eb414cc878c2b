"""FAC-SIS update cost pieces, interleaved in one process (one torch thread): Adam on the three critic nets (2x64,
Safety-Gym 44-D observation) single-tensor vs foreach vs fused, and the Polyak average as a Python loop vs one
torch._foreach_lerp_.  5 rounds x 2000 calls each; median and min per call.

  PYTHONPATH=src:. python scripts/sis_bench_update.py
"""
import time

import torch

from safe_learners.sis import QNet


def main(rounds=5, calls=2000):
    torch.set_num_threads(1)
    nets = [QNet(44, 2, 64) for _ in range(3)]
    params = [p for n in nets for p in n.parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    opts = {"single-tensor (foreach=False)": dict(foreach=False), "foreach": dict(foreach=True),
            "fused": dict(fused=True)}
    opts = {k: torch.optim.Adam(params, 1e-4, **kw) for k, kw in opts.items()}
    src = [p.detach().clone() for p in params]
    tgt = [p.detach().clone() for p in params]

    def polyak_loop():
        for p, pt in zip(src, tgt):
            pt.mul_(1 - 0.005).add_(0.005 * p)

    fns = {**{f"Adam {k}": o.step for k, o in opts.items()}, "Polyak loop": polyak_loop,
           "Polyak _foreach_lerp_": lambda: torch._foreach_lerp_(tgt, src, 0.005)}
    res = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t = time.perf_counter()
            for _ in range(calls):
                f()
            res[k].append((time.perf_counter() - t) / calls * 1e6)
    for k, v in res.items():
        print(f"{k}: median {sorted(v)[len(v) // 2]:.1f} us, min {min(v):.1f} us ({rounds} rounds x {calls} calls)")


if __name__ == "__main__":
    main()
