"""Shared plumbing for our MuJoCo tasks: load a model, step it `frame_skip` times, render offscreen."""
from __future__ import annotations

from pathlib import Path

import numpy as np

ASSETS = Path(__file__).parent / "assets"


class MujocoSim:
    """Owns an MjModel/MjData pair. Kept separate from the Gymnasium class so the benchmark can time the
    raw `mj_step` loop on the very same model."""

    def __init__(self, xml: str, frame_skip: int, from_string: bool = False):
        import mujoco

        self._mujoco = mujoco
        self.model = mujoco.MjModel.from_xml_string(xml) if from_string else mujoco.MjModel.from_xml_path(str(ASSETS / xml))
        self.data = mujoco.MjData(self.model)
        self.frame_skip = frame_skip
        self.dt = self.model.opt.timestep * frame_skip
        self._renderer = None
        self._init_body_mass = self.model.body_mass.copy()
        self._init_inertia = self.model.body_inertia.copy()
        self._init_friction = self.model.geom_friction.copy()
        self._init_gear = self.model.actuator_gear.copy()
        self._scales = (1.0, 1.0, 1.0)  # those the model holds now

    def reset(self, qpos, qvel):
        mj = self._mujoco
        mj.mj_resetData(self.model, self.data)
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        mj.mj_forward(self.model, self.data)

    def step(self, ctrl):
        self.data.ctrl[:] = ctrl
        self.step_written()

    def step_written(self):
        """frame_skip physics steps with the ctrl already written into data.ctrl (one C call for all)."""
        self._mujoco.mj_step(self.model, self.data, self.frame_skip)

    def scale_physics(self, mass: float = 1.0, friction: float = 1.0, motor: float = 1.0):
        """Domain randomisation hook: scale masses, friction and actuator gear relative to the XML values."""
        if (mass, friction, motor) == self._scales:  # every reset calls this; with randomisation off it is a no-op
            return
        self._scales = (mass, friction, motor)
        self.model.body_mass[:] = self._init_body_mass * mass
        self.model.body_inertia[:] = self._init_inertia * mass  # same shape, denser material
        self.model.geom_friction[:] = self._init_friction * friction
        self.model.actuator_gear[:] = self._init_gear * motor

    def render(self, width=480, height=320, camera=None):
        mj = self._mujoco
        if self._renderer is None:
            self._renderer = mj.Renderer(self.model, height=height, width=width)
        if camera is None:
            self._renderer.update_scene(self.data)
        else:
            self._renderer.update_scene(self.data, camera=camera)
        return np.asarray(self._renderer.render(), np.uint8)

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
