"""Simulation suite. Importing `sim` registers every environment with Gymnasium.

Ids (all Gymnasium 1.x; info["cost"] float and info["unsafe"] bool on every step):
  Shield demo           SafeShield/PointHazards-v0 (holonomic point mass, 6 hazards)      400 steps
  CRABS (crabs.md)      SafeShield/PendulumUpright-v0, SafeShield/PendulumTilt-v0        200 steps
                        SafeShield/CartPoleMove-v0,    SafeShield/CartPoleSwing-v0       1000 steps
  Safety-Gym style      SafeShield/{Robot}Goal-{Obstacle}{size}-v0, Robot ∈ {Point, Car},
  (sis.md, csc.md)      Obstacle ∈ {Hazard, Pillar}: Hazard0.15, Hazard0.30, Pillar0.15, Pillar0.25
                        (4 obstacles, Goal task, 1000 steps), e.g. SafeShield/PointGoal-Hazard0.30-v0
                        SafeShield/PointTraps-v0, SafeShield/CarTraps-v0  (CSC: health 25, 500 steps)
  SQRL (sqrl.md)        SafeShield/DrunkSpider-v0
The registered ids never change meaning; new variants get new ids.
"""
from __future__ import annotations

from gymnasium.envs.registration import register, registry


def _register(env_id: str, entry_point: str, max_episode_steps: int, **kwargs) -> None:
    if env_id not in registry:  # importing twice (e.g. reloads in tests) must not raise
        register(id=env_id, entry_point=entry_point, max_episode_steps=max_episode_steps, kwargs=kwargs)


# Foundation: the shield demo's point robot (sim/point_robot.py)
_register("SafeShield/PointHazards-v0", "sim.point_robot:PointHazardsEnv", 400)

# ---- sim suite registrations (issue 3; owned by the sim engineer) -------------------------------
# CRABS
_register("SafeShield/PendulumUpright-v0", "sim.pendulum:PendulumEnv", 200, task="upright")
_register("SafeShield/PendulumTilt-v0", "sim.pendulum:PendulumEnv", 200, task="tilt")
_register("SafeShield/CartPoleMove-v0", "sim.cartpole:CartPoleEnv", 1000, task="move")
_register("SafeShield/CartPoleSwing-v0", "sim.cartpole:CartPoleEnv", 1000, task="swing")
# ---- end of sim suite registrations -------------------------------------------------------------
