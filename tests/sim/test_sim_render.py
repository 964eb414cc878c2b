"""rgb_array rendering for every task and the GIF / PNG strip helper.

MuJoCo offscreen rendering needs a GL backend (MUJOCO_GL=egl here; osmesa needs Debian's libosmesa6).
If no backend works on the machine these tests are skipped with the reason, loudly."""
import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from sim.render import rollout_frames, save_strip

IDS = [
    "SafeShield/PendulumUpright-v0",
    "SafeShield/CartPoleSwing-v0",
    "SafeShield/PointGoal-Hazard0.30-v0",
    "SafeShield/CarGoal-Pillar0.25-v0",
    "SafeShield/DrunkSpider-v0",
    "SafeShield/PandaKeepout-v0",
    "SafeShield/A1Velocity-v0",
]
NO_GL = ("Pendulum", "Spider", "Panda", "A1")  # numpy canvas or PyBullet's software TinyRenderer


_PROBE = """
import mujoco
model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='1'/></worldbody></mujoco>")
with mujoco.Renderer(model, 16, 16) as r:
    r.update_scene(mujoco.MjData(model))
    r.render()
"""


def _gl_available() -> str | None:
    # In a child process: a GL backend that cannot start may abort the whole interpreter.
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    if r.returncode == 0:
        return None
    tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
    return (f"MuJoCo offscreen rendering unavailable (probe exit {r.returncode}: {tail}); "
            "set MUJOCO_GL=egl or osmesa")


@pytest.mark.parametrize("env_id", IDS)
def test_rgb_array_frames_show_the_scene_and_change_when_it_moves(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    if not any(k in env_id for k in NO_GL):
        reason = _gl_available()
        if reason:
            pytest.skip(reason)
    frames = rollout_frames(env, steps=15, seed=0)
    assert frames[0].dtype == np.uint8 and frames[0].ndim == 3 and frames[0].shape[2] == 3
    assert frames[0].std() > 5  # not blank
    assert any(np.abs(f.astype(int) - frames[0]).sum() > 0 for f in frames[1:])  # something moved
    env.close()


def test_strip_and_gif_helpers(tmp_path):
    env = gym.make("SafeShield/PendulumTilt-v0", render_mode="rgb_array")
    frames = rollout_frames(env, steps=8, seed=0)
    png = save_strip(frames, tmp_path / "strip.png", every=2)
    gif = save_strip(frames, tmp_path / "roll.gif")
    with Image.open(png) as im:
        h, w, _ = frames[0].shape
        assert im.size == (w * len(frames[::2]), h)
    with Image.open(gif) as im:
        assert im.n_frames == len(frames)
