import sys, math, numpy as np, gymnasium as gym
sys.path[:0] = ["src", "."]
import sim
env = gym.make("SafeShield/PointGoal-Hazard0.30-v0")
rets, costs = [], []
for ep in range(5):
    obs, info = env.reset(seed=100000 + ep); R = C = 0
    while True:
        g = info["goal_pos"] - info["robot_pos"]; h = info["robot_heading"]
        err = (math.atan2(g[1], g[0]) - h + math.pi) % (2 * math.pi) - math.pi
        a = np.array([1.0 if abs(err) < 0.5 else 0.0, np.clip(2 * err, -1, 1)], np.float32)
        obs, r, term, trunc, info = env.step(a); R += r; C += info["cost"]
        if term or trunc: break
    rets.append(R); costs.append(C)
print("greedy goal-seeker (ignores hazards): return", np.mean(rets), rets, "cost", np.mean(costs))
