"""Does a FAC run's Q_phi under-predict Delta_phi on its OWN replay buffer?  Scores Q_phi(s, a) at the stored
actions against the eq.-1 targets it was trained on (Delta_phi under the run's final zeta, clipped at its
qphi_target_floor), on all rows, the rows near the boundary (phi(s) > -0.05) and the rows that violate eq. 1.

  PYTHONPATH=src:. python scripts/sis_qphi_bias.py runs/p10_e5/Hazard0.30/sis/seed2 runs/sis_f30q3/Hazard0.30/sis/seed2

A negative mean Q_phi on violating rows means the fit itself calls violations safe (not only the actor finding
off-data actions).  Also prints how far the deterministic policy's actions are from the buffer's (mean |a|).
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "src"), os.path.join(HERE, "..")]


def main(run_dirs):
    torch.set_num_threads(1)
    from safe_learners.sis import FACSIS
    from safe_learners.sis_index import phi_max_np
    for rd in run_dirs:
        ag = FACSIS.load(os.path.join(rd, "checkpoint.pt"))
        n = ag.buf.n
        b = ag.buf.take(np.arange(n))
        with torch.no_grad():
            y = ag._qphi_target(b)
            q = ag.qphi(b["obs"], b["act"])
            a_pol = torch.tanh(ag.actor(b["obs"])[0])
        phi = phi_max_np(b["d"].numpy(), b["ddot"].numpy(), ag.zeta_tuple(), ag.d_min)
        out = dict(run_dir=rd, rows=int(n), buffer_abs_action=float(b["act"].abs().mean()),
                   policy_abs_action=float(a_pol.abs().mean()))
        for name, m in (("all", np.ones(n, bool)), ("phi_above_-0.05", phi > -0.05), ("violating", y.numpy() > 0)):
            mm = torch.as_tensor(m)
            out[name] = dict(rows=int(m.sum()), mean_target=round(float(y[mm].mean()), 4),
                             mean_qphi=round(float(q[mm].mean()), 4),
                             mean_abs_error=round(float((q[mm] - y[mm]).abs().mean()), 4))
        print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
