"""Simulation suite. Importing `sim` registers every environment with Gymnasium.

Ids (all Gymnasium 1.x; info["cost"] float and info["unsafe"] bool on every step):
  Shield demo           SafeShield/PointHazards-v0 (holonomic point mass, 6 hazards)      400 steps
  CRABS (crabs.md)      SafeShield/PendulumUpright-v0, SafeShield/PendulumTilt-v0        200 steps
                        SafeShield/CartPoleMove-v0,    SafeShield/CartPoleSwing-v0       1000 steps
  Safety-Gym style      SafeShield/{Robot}Goal-{Obstacle}{size}-v0, Robot ∈ {Point, Car},
  (sis.md, csc.md)      Obstacle ∈ {Hazard, Pillar}: Hazard0.15, Hazard0.30, Pillar0.15, Pillar0.25
                        (4 obstacles, Goal task, 1000 steps), e.g. SafeShield/PointGoal-Hazard0.30-v0
                        SafeShield/PointTraps-v0, SafeShield/CarTraps-v0  (CSC: health 25, 500 steps)
  SQRL (sqrl.md)        SafeShield/DrunkSpider-v0 (noise 0.1), DrunkSpiderNoisy-v0 (0.4), DrunkSpiderFast-v0 (scale 2)
                        SafeShield/A1Run-v0, A1RunFast-v0, A1RunFriction-v0 (PyBullet A1, 1000 steps)
  Shield robots         SafeShield/A1Velocity-v0 (vx, vy, yaw rate → trot gait, pillars, 1000 steps)
                        SafeShield/PandaKeepout-v0 (7 joint velocities, keep-out box, 500 steps)
  CGPO (cgpo.md)        SafeShield/CGPOCartPole-v0 (T 300), CGPOPointMass-v0 (T 200), CGPOFunction-v0 (T 100):
                        differentiable torch dynamics (sim.differentiable), Σ cost ≤ bound over T
The registered ids never change meaning; new variants get new ids.
"""
from __future__ import annotations

from gymnasium.envs.registration import register, registry


def _register(env_id: str, entry_point: str, max_episode_steps: int, vector_entry_point: str | None = None, **kwargs) -> None:
    # disable_env_checker: gymnasium.make adds no PassiveEnvChecker (it inspects only the env's own first
    # reset/step outputs, which tests/sim check with gymnasium's full check_env; in the loop it is one more
    # Python layer per step). OrderEnforcing and TimeLimit stay.
    if env_id not in registry:  # importing twice (e.g. reloads in tests) must not raise
        register(id=env_id, entry_point=entry_point, max_episode_steps=max_episode_steps,
                 vector_entry_point=vector_entry_point, disable_env_checker=True, kwargs=kwargs)


# Foundation: the shield demo's point robot (sim/point_robot.py)
_register("SafeShield/PointHazards-v0", "sim.point_robot:PointHazardsEnv", 400)

# ---- sim suite registrations (issue 3; owned by the sim engineer) -------------------------------
# CRABS
# (gymnasium.make_vec on these ids gives the batched torch VectorEnv of sim/batched_vector.py; "sync" gives copies)
_PENDULUM_VEC, _CARTPOLE_VEC = "sim.batched_vector:pendulum_vector", "sim.batched_vector:cartpole_vector"
_register("SafeShield/PendulumUpright-v0", "sim.pendulum:PendulumEnv", 200, _PENDULUM_VEC, task="upright")
_register("SafeShield/PendulumTilt-v0", "sim.pendulum:PendulumEnv", 200, _PENDULUM_VEC, task="tilt")
_register("SafeShield/CartPoleMove-v0", "sim.cartpole:CartPoleEnv", 1000, _CARTPOLE_VEC, task="move")
_register("SafeShield/CartPoleSwing-v0", "sim.cartpole:CartPoleEnv", 1000, _CARTPOLE_VEC, task="swing")
# Safety-Gym-style navigation (SIS: 4 hazards 0.15 / 0.30, 4 pillars 0.15 / 0.25; CSC traps)
for _robot in ("Point", "Car"):
    for _obstacle, _size in (("Hazard", "0.15"), ("Hazard", "0.30"), ("Pillar", "0.15"), ("Pillar", "0.25")):
        _register(
            f"SafeShield/{_robot}Goal-{_obstacle}{_size}-v0",
            "sim.safety_gym:NavigationEnv",
            1000,
            robot=_robot.lower(),
            obstacle=_obstacle.lower(),
            num_obstacles=4,
            obstacle_radius=float(_size),
        )
    _register(f"SafeShield/{_robot}Traps-v0", "sim.safety_gym:NavigationEnv", 500, robot=_robot.lower(),
              obstacle="hazard", num_obstacles=4, obstacle_radius=0.3, cost_mode="indicator", health=25)
# SQRL: pre-training noise 0.1; fine-tuning targets change noise or action scale (sqrl.md)
_register("SafeShield/DrunkSpider-v0", "sim.drunk_spider:DrunkSpiderEnv", 30)
_register("SafeShield/DrunkSpiderNoisy-v0", "sim.drunk_spider:DrunkSpiderEnv", 30, noise=0.4)
_register("SafeShield/DrunkSpiderFast-v0", "sim.drunk_spider:DrunkSpiderEnv", 30, action_scale=2.0)
# SQRL locomotion (A1 stands in for Minitaur): pre-train 0.3 m/s; targets 0.4 m/s, foot friction ×1.25
_register("SafeShield/A1Run-v0", "sim.quadruped:QuadrupedLocomotionEnv", 1000)
_register("SafeShield/A1RunFast-v0", "sim.quadruped:QuadrupedLocomotionEnv", 1000, target_speed=0.4)
_register("SafeShield/A1RunFriction-v0", "sim.quadruped:QuadrupedLocomotionEnv", 1000, foot_friction=1.25)
# Shield robots (PyBullet)
_register("SafeShield/A1Velocity-v0", "sim.quadruped:QuadrupedVelocityEnv", 1000)
_register("SafeShield/PandaKeepout-v0", "sim.panda:PandaEnv", 500)
# CGPO (cgpo.md): differentiable torch tasks with a numpy Gymnasium face; episode length = the task's horizon T
_register("SafeShield/CGPOCartPole-v0", "sim.differentiable:DifferentiableEnv", 300, task="CartPole")
_register("SafeShield/CGPOPointMass-v0", "sim.differentiable:DifferentiableEnv", 200, task="PointMass")
_register("SafeShield/CGPOFunction-v0", "sim.differentiable:DifferentiableEnv", 100, task="Function")
# ---- end of sim suite registrations -------------------------------------------------------------
