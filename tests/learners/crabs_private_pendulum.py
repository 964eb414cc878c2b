"""PRIVATE stand-in for sim/pendulum.py (Upright / Tilt), used by the CRABS tests and crabs_* scripts only until the
simulation branch lands. Dynamics are Gym Pendulum (digest Sec. 5): theta from upright, a in [-1,1], u = 2a,
thdot+ = clip(thdot + (15 sin th + 3u) dt, -8, 8), th+ = wrap(th + thdot+ dt), dt = 0.05; safe |th| <= 1.5;
s0 = (0.3, -0.9); horizon 200; Upright reward -th^2, Tilt reward -(th_lim - th)^2 with th_lim = -arcsin(0.4)."""
import numpy as np

DT = 0.05
THETA_MAX = 1.5
TH_LIM = -0.41151684
S0 = np.array([0.3, -0.9], np.float32)


def wrap(th):
    return (th + np.pi) % (2 * np.pi) - np.pi


def step_batch(obs, act):
    obs = np.asarray(obs, np.float64)
    u = 2.0 * np.clip(np.asarray(act, np.float64)[..., 0], -1.0, 1.0)
    th, thd = obs[..., 0], obs[..., 1]
    thd2 = np.clip(thd + (15.0 * np.sin(th) + 3.0 * u) * DT, -8.0, 8.0)
    th2 = wrap(th + thd2 * DT)
    return np.stack([th2, thd2], -1).astype(np.float32)


class PrivatePendulum:
    def __init__(self, task="upright", horizon=200):
        self.task, self.horizon = task, horizon
        self.s, self.t = S0.copy(), 0

    def reset(self, seed=None):
        self.s, self.t = S0.copy(), 0
        return self.s.copy(), {}

    def step(self, a):
        self.s = step_batch(self.s[None], np.asarray(a, np.float32).reshape(1, -1))[0]
        self.t += 1
        th = float(self.s[0])
        r = -th * th if self.task == "upright" else -(TH_LIM - th) ** 2
        unsafe = abs(th) > THETA_MAX
        return self.s.copy(), r, unsafe, self.t >= self.horizon, {"unsafe": unsafe, "cost": float(unsafe)}
