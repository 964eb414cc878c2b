"""Forward kinematics of a fixed-base serial arm from its URDF, compiled (numba): the world positions of chosen link
frames from the joint angles, and whether any of them is inside a box.

Why not PyBullet's getLinkStates: it returns six tuples per link (centre of mass, inertial and link frames), and
for the Panda's six checked links it cost ~10 µs a step in Python objects, more than the arithmetic by far; the
same link-frame origins from the URDF's joint transforms cost ~1 µs. The URDF is the one PyBullet loaded, read
joint by joint under the names PyBullet reports, and the tests hold the result to PyBullet's own link frames.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
from numba import njit


def _rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """URDF's fixed-axis roll-pitch-yaw: R = Rz(yaw) · Ry(pitch) · Rx(roll)."""
    cr, sr, cp, sp, cy, sy = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


class ArmKinematics:
    """The chain from the base to `links` (PyBullet link indices) of a fixed-base arm at the world origin with
    identity orientation (as loadURDF(..., useFixedBase=True) places it by default).

    `joints`: PyBullet's getJointInfo of every joint, in index order (name, type, parent index are read);
    `urdf_path`: the file PyBullet loaded. Revolute joint j turns by q[j]: the arm's joints must come first, as
    on the Panda (indices 0–6); the joints on the way to `links` must be revolute or fixed."""

    def __init__(self, urdf_path: str, joints: list, links: list[int]):
        import pybullet

        by_name = {j.get("name"): j for j in ET.parse(urdf_path).getroot().iter("joint")}
        needed: set[int] = set()
        for link in links:  # every joint from the base to each checked link
            j = link
            while j >= 0:
                needed.add(j)
                j = joints[j][16]
        order = sorted(needed)  # PyBullet numbers joints parent before child
        self.links = list(links)
        self.num_revolute = 0
        rows = []
        for j in order:
            info = joints[j]
            name, kind, parent = info[1].decode(), info[2], info[16]
            if kind not in (pybullet.JOINT_REVOLUTE, pybullet.JOINT_FIXED):
                raise ValueError(f"joint {name!r} on the way to links {links} is neither revolute nor fixed")
            element = by_name[name]
            origin = element.find("origin")
            xyz = [float(v) for v in origin.get("xyz", "0 0 0").split()] if origin is not None else [0.0] * 3
            rpy = [float(v) for v in origin.get("rpy", "0 0 0").split()] if origin is not None else [0.0] * 3
            axis_element = element.find("axis")
            axis = [float(v) for v in axis_element.get("xyz").split()] if axis_element is not None else [1.0, 0, 0]
            revolute = kind == pybullet.JOINT_REVOLUTE
            if revolute:
                if j != self.num_revolute:  # q[j] turns joint j: the revolute joints are 0, 1, … in order
                    raise ValueError(f"revolute joint {name!r} is joint {j}: the arm's joints must come first")
                self.num_revolute += 1
                axis = (np.array(axis) / np.linalg.norm(axis)).tolist()
            # one row per joint: joint index, parent row (−1: the base), q index (−1: fixed), origin xyz (3),
            # origin rotation (9, row-major), axis (3)
            rows.append([j, order.index(parent) if parent >= 0 else -1, j if revolute else -1, *xyz,
                         *_rpy_matrix(*rpy).ravel(), *axis])
        self.chain = np.array(rows, np.float64)
        self.link_rows = np.array([order.index(link) for link in links], np.int64)  # chain row of each link
        self.frames = np.zeros((len(order), 12))  # each row's world rotation (9) and position (3), scratch
        self._no_box = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])

    def points(self, q, out: np.ndarray | None = None, box=None) -> tuple[np.ndarray, bool]:
        """(world positions (len(links), 3) of the link frames, whether any is in `box` = (low xyz, high xyz)) for
        joint angles q (the arm's revolute joints, float64, C-contiguous)."""
        out = np.empty((len(self.links), 3)) if out is None else out
        box = self._no_box if box is None else box
        return out, link_points(q, self.chain, self.link_rows, self.frames, out, box)


@njit(inline="always")
def chain_frames(q, chain, frames):
    """Fill frames[r] = (world rotation, row-major (9), world position (3)) of every chain row, parents first:
    world frame of a joint's child = parent frame · origin (xyz, rpy) · rotation(axis, q[joint]). Scalar
    arithmetic only: no allocation, no BLAS."""
    for r in range(chain.shape[0]):
        parent = int(chain[r, 1])
        f = frames[r]
        # rotation and position of the origin frame in the world: parent · (xyz, rpy); the base is the world
        for i in range(3):
            for k in range(3):
                if parent < 0:
                    f[3 * i + k] = chain[r, 6 + 3 * i + k]
                else:
                    g = frames[parent]
                    f[3 * i + k] = (g[3 * i] * chain[r, 6 + k] + g[3 * i + 1] * chain[r, 9 + k]
                                    + g[3 * i + 2] * chain[r, 12 + k])
            if parent < 0:
                f[9 + i] = chain[r, 3 + i]
            else:
                g = frames[parent]
                f[9 + i] = g[9 + i] + g[3 * i] * chain[r, 3] + g[3 * i + 1] * chain[r, 4] + g[3 * i + 2] * chain[r, 5]
        if chain[r, 2] >= 0:  # revolute about the axis by q[joint] (Rodrigues): rotation ← rotation · turn
            ax, ay, az = chain[r, 15], chain[r, 16], chain[r, 17]
            angle = q[int(chain[r, 2])]
            c, s = math.cos(angle), math.sin(angle)
            t = 1.0 - c
            t00, t01, t02 = t * ax * ax + c, t * ax * ay - s * az, t * ax * az + s * ay
            t10, t11, t12 = t * ax * ay + s * az, t * ay * ay + c, t * ay * az - s * ax
            t20, t21, t22 = t * ax * az - s * ay, t * ay * az + s * ax, t * az * az + c
            for i in range(3):
                a0, a1, a2 = f[3 * i], f[3 * i + 1], f[3 * i + 2]
                f[3 * i] = a0 * t00 + a1 * t10 + a2 * t20
                f[3 * i + 1] = a0 * t01 + a1 * t11 + a2 * t21
                f[3 * i + 2] = a0 * t02 + a1 * t12 + a2 * t22


@njit(inline="always")
def points_in_box(frames, links, out, box):
    """out[i] = the world position of frame row links[i]; whether any lies in the closed box
    [box[0:3], box[3:6]] (a box with low > high holds nothing)."""
    inside = False
    for i in range(links.shape[0]):
        f = frames[links[i]]
        x, y, z = f[9], f[10], f[11]
        out[i, 0], out[i, 1], out[i, 2] = x, y, z
        if box[0] <= x <= box[3] and box[1] <= y <= box[4] and box[2] <= z <= box[5]:
            inside = True
    return inside


@njit("boolean(float64[::1], float64[:, ::1], int64[::1], float64[:, ::1], float64[:, ::1], float64[::1])",
      cache=True, nogil=True)
def link_points(q, chain, links, frames, out, box):
    """Fill out[i] with the world position of the frame of chain row links[i]; return whether any of them lies in
    `box` (rows of `chain` as ArmKinematics builds them)."""
    chain_frames(q, chain, frames)
    return points_in_box(frames, links, out, box)
