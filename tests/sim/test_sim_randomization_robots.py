"""Domain randomisation on the pendulum and the Panda arm (the cart-pole, navigation and quadruped tasks are
covered in test_sim_vector_and_wrappers.py): measured dynamics change as physics says; off is the plain env."""
import numpy as np
import pytest

from sim.panda import PandaEnv
from sim.pendulum import DT, PendulumEnv
from sim.randomization import DomainRandomization


@pytest.mark.parametrize("knobs, gain", [({"mass_scale": (2.0, 2.0)}, 0.5), ({"motor_scale": (1.5, 1.5)}, 1.5),
                                         ({"mass_scale": (2.0, 2.0), "motor_scale": (0.5, 0.5)}, 0.25)])
def test_pendulum_torque_response_scales_with_motor_over_mass(knobs, gain):
    env = PendulumEnv(randomization=DomainRandomization(**knobs))
    env.reset(seed=0, options={"state": [0.0, 0.0]})  # upright at rest: sin θ = 0, only the torque acts
    obs, *_ = env.step(np.array([1.0]))
    assert obs[1] == pytest.approx(3.0 * 2.0 * gain * DT)  # θ̇⁺ = 3 u (motor/mass) dt with u = 2


def test_pendulum_without_randomisation_is_the_plain_env(rng):
    plain, off = PendulumEnv("tilt"), PendulumEnv("tilt", randomization=DomainRandomization())
    plain.reset(seed=1), off.reset(seed=1)
    for a in rng.uniform(-1, 1, (100, 1)):
        p, o = plain.step(a), off.step(a)
        assert np.array_equal(p[0], o[0]) and p[1:4] == o[1:4]
        if p[2]:
            break


def test_pendulum_latency_and_noise():
    env = PendulumEnv(randomization=DomainRandomization(action_latency_steps=(1, 1)))
    env.reset(seed=0, options={"state": [0.0, 0.0]})
    assert env.step(np.array([1.0]))[0][1] == 0.0  # the command reaches the motor one step late
    assert env.step(np.array([0.0]))[0][1] > 0.0
    noisy = PendulumEnv(randomization=DomainRandomization(observation_noise_std=0.05))
    noise = np.array([noisy.reset(seed=s)[0] - np.array([0.3, -0.9], np.float32) for s in range(200)])
    assert 0.04 < noise.std() < 0.06


def _sag(**knobs):
    """Largest joint motion of the Panda commanded to hold still for 20 steps (0.33 s)."""
    env = PandaEnv(randomization=DomainRandomization(**knobs) if knobs else None)
    obs0, _ = env.reset(seed=0)
    for _ in range(20):
        obs, *_ = env.step(np.zeros(7))
    env.close()
    return float(np.abs(obs[:7] - obs0[:7]).max()), obs


def test_panda_weak_motors_let_gravity_win_and_heavier_links_sag_further():
    still, _ = _sag()
    weak, _ = _sag(motor_scale=(0.05, 0.05))
    weak_heavy, _ = _sag(motor_scale=(0.05, 0.05), mass_scale=(2.0, 2.0))
    assert still < 1e-3  # URDF effort limits hold the arm
    assert weak > 0.1 and weak_heavy > weak + 0.1


def test_panda_unit_scales_are_the_plain_urdf_bit_for_bit():
    assert np.array_equal(_sag()[1], _sag(mass_scale=(1.0, 1.0), friction_scale=(1.0, 1.0))[1])
