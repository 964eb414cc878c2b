"""Task descriptions for the CRABS learner (digest Sec. 5).

Environments come from ``sim/`` when the simulation branch provides them; until then the private stand-in in
``tests/learners/crabs_private_pendulum.py`` (same Gym Pendulum dynamics) is used. ``task.env_source`` says which.

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


def _pendulum_backend():
    try:   # the simulation branch's environment, when it exists
        from sim import pendulum as simp   # noqa: F401
        raise ImportError("sim.pendulum adapter not wired yet")
    except ImportError:
        from tests.learners import crabs_private_pendulum as pp
        return "tests/learners/crabs_private_pendulum.py (private stand-in)", pp


def pendulum_task(kind: str = "upright") -> CrabsTask:
    src, pp = _pendulum_backend()
    task = CrabsTask(
        name=f"pendulum_{kind}", n_obs=2, n_act=1, s0=np.array([0.3, -0.9], np.float32), dt=pp.DT,
        constraints=[(0, -pp.THETA_MAX, pp.THETA_MAX)],
        box_low=np.array([-1.5, -8.0], np.float32), box_high=np.array([1.5, 8.0], np.float32),
        make_env=lambda: pp.PrivatePendulum(kind), true_step=pp.step_batch, prior_controller=pendulum_prior,
        horizon=200)
    task.env_source = src
    return task
