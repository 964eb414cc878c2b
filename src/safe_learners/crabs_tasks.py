"""Task descriptions for the CRABS learner (digest Sec. 5).

Environments come from ``sim/`` (sim/pendulum.py: Upright, Tilt). Horizon 200 is applied by the learner.

Initial safe policy prior (documented procedure, see ``Crabs.make_initial_policy``): a saturated PD law that holds the
pendulum at theta_ref = 0.2 rad (NOT the reward optimum of either task - the paper's pi_init has 'trivial reward'):
    a = clip(a_eq - kp (theta - theta_ref) - kd thetadot, -1, 1),  a_eq = -15 sin(theta_ref) / 6, kp = 5, kd = 1.3
(linearised closed loop: thetaddot = -(6 kp - 15 cos theta_ref) dtheta - 6 kd thetadot, omega ~ 3.9 rad/s, ~critically damped).
"""
from __future__ import annotations

import numpy as np

from safe_learners.crabs import CrabsTask

THETA_REF, KP, KD = 0.2, 5.0, 1.3


def pendulum_prior(obs):
    obs = np.asarray(obs, np.float32)
    a_eq = -15.0 * np.sin(THETA_REF) / 6.0
    a = a_eq - KP * (obs[:, 0] - THETA_REF) - KD * obs[:, 1]
    return np.clip(a, -1.0, 1.0)[:, None].astype(np.float32)


def pendulum_task(kind: str = "upright") -> CrabsTask:
    from sim import pendulum as pp
    task = CrabsTask(
        name=f"pendulum_{kind}", n_obs=2, n_act=1, s0=np.array(pp.S0, np.float32), dt=pp.DT,
        constraints=[(0, -pp.THETA_LIMIT, pp.THETA_LIMIT)],
        box_low=np.array([-1.5, -8.0], np.float32), box_high=np.array([1.5, 8.0], np.float32),
        make_env=lambda: pp.PendulumEnv(kind),
        true_step=lambda s, a: pp.pendulum_step(np.asarray(s, np.float64), np.asarray(a, np.float64)).astype(np.float32),
        prior_controller=pendulum_prior, horizon=200)
    task.env_source = "sim/pendulum.py"
    return task
