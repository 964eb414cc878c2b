"""End to end in MuJoCo: behind the shield the point robot never enters a hazard, whatever it is
commanded; without it, the demo's controller does."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
from hypothesis import HealthCheck, example, given, settings, strategies as st

import sim  # noqa: F401  (registers the environments)
from safe_shield.demo import main as demo_main, run_episode
from safe_shield.shield import Shield

from bundle_fixtures import DEMO_BUNDLE

# The property is about the filter; the deadline fallback has its own test, and a loaded CI box
# must not turn a scheduler hiccup into a (braking) fallback here.
SHIELD = Shield.from_bundle(DEMO_BUNDLE, {"deadline_s": 1.0})
ENV = gym.make("SafeShield/PointHazards-v0")

unit = st.floats(-1.0, 1.0, allow_nan=False)
command_sequences = st.lists(st.tuples(unit, unit, st.integers(1, 25)), min_size=5, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Found by hypothesis with η_D = 0: starting at 2 m/s toward a hazard (φ > 0), "φ must not grow"
# let the robot coast in; the bundle now demands a decrease η_D = 0.02 per step while φ > 0.
@example(layout_seed=7344, commands=[(0.0, 0.0, 1)] * 4 + [(0.0, 0.0, 21)], bang_bang=False, v0=(2.0, 0.0))
@given(layout_seed=st.integers(0, 10_000), commands=command_sequences,
       bang_bang=st.booleans(), v0=st.tuples(st.floats(0, 2.0), st.floats(-1.0, 1.0)))
def test_no_commanded_action_sequence_drives_the_shielded_robot_into_a_hazard(layout_seed, commands,
                                                                             bang_bang, v0):
    obs, info = ENV.reset(seed=layout_seed, options={"velocity": v0})
    assert not info["unsafe"]
    t, dt = 0.0, ENV.unwrapped.params.dt
    for fx, fy, hold in commands:
        u_cmd = np.sign([fx, fy]) if bang_bang else np.array([fx, fy])
        for _ in range(hold):
            u, _ = SHIELD.decide(obs, u_cmd, t, t)
            obs, _, terminated, truncated, info = ENV.step(u)
            t += dt
            assert not info["unsafe"], f"entered a hazard at t={t:.2f}s"
            if terminated or truncated:
                return


def test_the_raw_controller_enters_hazards_that_the_shield_avoids():
    seeds = range(6)
    raw = [run_episode(ENV, s) for s in seeds]
    shielded = [run_episode(ENV, s, SHIELD) for s in seeds]
    assert sum(r.violations for r in raw) > 0
    assert sum(r.violations for r in shielded) == 0
    assert sum(r.interventions for r in shielded) > 0


def test_demo_command_writes_its_table_and_picture(tmp_path, capsys):
    assert demo_main(["--episodes", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "shielded" in out and "latency p99" in out
    assert (tmp_path / "trajectories.png").stat().st_size > 10_000
    rows = json.loads((tmp_path / "summary.json").read_text())["rows"]
    assert rows[1]["violations"] == 0 and rows[1]["episodes"] == 3
