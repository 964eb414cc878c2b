"""Sim-to-real knobs in one config object, off by default.

`DomainRandomization` holds ranges; at every reset an env calls `episode(np_random, sim)`, which draws
this episode's physics scales (applied to the simulator) and returns an `EpisodeRandomization` that
delays actions by a fixed number of control steps and adds Gaussian observation noise. Draws come from a
child of the env's seed sequence (spawned per episode), so a seeded episode is reproducible and turning
randomisation on does not change the task's own random stream (layouts, goals, noise). With the defaults
nothing is drawn and nothing changes.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DomainRandomization:
    mass_scale: tuple[float, float] = (1.0, 1.0)  # multiplies every body mass (and inertia)
    friction_scale: tuple[float, float] = (1.0, 1.0)  # multiplies every geom / contact friction
    motor_scale: tuple[float, float] = (1.0, 1.0)  # multiplies actuator gear (motor strength)
    action_latency_steps: tuple[int, int] = (0, 0)  # inclusive range of whole control steps of delay
    observation_noise_std: float = 0.0  # Gaussian, added to every observation entry

    @property
    def enabled(self) -> bool:
        return (
            self.mass_scale != (1.0, 1.0)
            or self.friction_scale != (1.0, 1.0)
            or self.motor_scale != (1.0, 1.0)
            or self.action_latency_steps != (0, 0)
            or self.observation_noise_std > 0
        )

    def episode(self, rng: np.random.Generator, sim=None) -> "EpisodeRandomization":
        if not self.enabled:
            if sim is not None:
                sim.scale_physics(1.0, 1.0, 1.0)
            return EpisodeRandomization(rng, 0, 0.0)
        rng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])  # leave the env's stream alone
        scales = dict(
            mass=rng.uniform(*self.mass_scale),
            friction=rng.uniform(*self.friction_scale),
            motor=rng.uniform(*self.motor_scale),
        )
        if sim is not None:
            sim.scale_physics(**scales)
        latency = int(rng.integers(self.action_latency_steps[0], self.action_latency_steps[1] + 1))
        return EpisodeRandomization(rng, latency, self.observation_noise_std, scales)


class EpisodeRandomization:
    """This episode's draws: an action delay line and observation noise."""

    def __init__(self, rng, latency: int, noise_std: float, scales: dict | None = None):
        self.rng = rng
        self.latency = latency
        self.noise_std = noise_std
        self.scales = scales or {"mass": 1.0, "friction": 1.0, "motor": 1.0}
        self._queue: deque = deque()

    def action(self, a: np.ndarray) -> np.ndarray:
        if self.latency == 0:
            return a
        if not self._queue:  # before the first command arrives the actuator holds zero
            self._queue.extend(np.zeros_like(a) for _ in range(self.latency))
        self._queue.append(a)
        return self._queue.popleft()

    def observation(self, obs: np.ndarray) -> np.ndarray:
        if self.noise_std == 0:
            return obs
        return obs + self.rng.normal(0.0, self.noise_std, size=np.shape(obs))
