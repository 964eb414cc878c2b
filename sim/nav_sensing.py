"""The navigation tasks' per-step sensing, compiled (numba): IMU copy, goal and obstacle
pseudo-lidar, obstacle distances d and ḋ, and the summed hazard depth, in one pass.

Why compiled: the step of a point robot is ~30 µs of MuJoCo physics; the same sensing in plain
Python cost ~14 µs on top, numpy ~49 µs (per-call overhead on five-element arrays). The
arithmetic is exactly that of `sim.safety_gym.pseudo_lidar` (the reference the tests hold it to).
"""

from __future__ import annotations

import math

from numba import njit


@njit("float64(float64[::1], float64[::1], float64[::1], float64[:, ::1], float64, float64, float64, "
      "float64[::1], float64[::1], float64[::1])", cache=True, nogil=True)
def sense(imu, xmat, qvel, objects, x, y, radius, obs, d, ddot):
    """Fill ``obs`` = [imu (12), goal lidar (bins), obstacle lidar (bins)] and, per obstacle, the
    planar distance ``d`` and ``ddot`` = −v·(o − p)/‖o − p‖; return Σ (radius − d)⁺.
    ``objects`` row 0 is the goal, rows 1.. the obstacles (world xy); (x, y) the robot's position;
    ``xmat`` its 3×3 orientation (row-major), ``qvel`` its planar velocity first."""
    n_imu = imu.shape[0]
    bins = (obs.shape[0] - n_imu) // 2
    for j in range(n_imu):
        obs[j] = imu[j]
    for j in range(n_imu, obs.shape[0]):
        obs[j] = 0.0
    m0, m1, m3, m4 = xmat[0], xmat[1], xmat[3], xmat[4]     # body axes x = (m0, m3), y = (m1, m4)
    vx, vy = qvel[0], qvel[1]
    two_pi = 2.0 * math.pi
    scale = bins / two_pi
    inside = 0.0
    for i in range(objects.shape[0]):
        dx, dy = objects[i, 0] - x, objects[i, 1] - y
        rx, ry = m0 * dx + m3 * dy, m1 * dx + m4 * dy            # robot frame
        sensor = math.exp(-math.hypot(rx, ry))
        pos = (math.atan2(ry, rx) % two_pi) * scale - 0.5
        base = math.floor(pos)
        frac = pos - base
        lo = int(base) % bins
        hi = (lo + 1) % bins
        off = n_imu if i == 0 else n_imu + bins
        if (1.0 - frac) * sensor > obs[off + lo]:
            obs[off + lo] = (1.0 - frac) * sensor
        if frac * sensor > obs[off + hi]:
            obs[off + hi] = frac * sensor
        if i > 0:
            dist = math.hypot(dx, dy)
            d[i - 1] = dist
            ddot[i - 1] = (dx * vx + dy * vy) / -max(dist, 1e-9)
            if dist < radius:
                inside += radius - dist
    return inside
