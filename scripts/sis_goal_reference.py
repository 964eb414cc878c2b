"""Reference return for the Goal task: a hand-written goal seeker that ignores hazards (turn toward the goal from
ground truth, full force when within 0.5 rad of it), 5 episodes of PointGoal-Hazard0.30 on the evaluation seeds.

  PYTHONPATH=src:. python scripts/sis_goal_reference.py
"""
import math

import gymnasium as gym
import numpy as np

import sim  # noqa: F401  (registers the environments)

from safe_learners.sis_experiment import EVAL_SEED


def goal_seeker(info):
    g = info["goal_pos"] - info["robot_pos"]
    err = (math.atan2(g[1], g[0]) - info["robot_heading"] + math.pi) % (2 * math.pi) - math.pi
    return np.array([1.0 if abs(err) < 0.5 else 0.0, np.clip(2 * err, -1, 1)], np.float32)


def main(episodes=5):
    env = gym.make("SafeShield/PointGoal-Hazard0.30-v0", geometry_info=True)
    rets, costs = [], []
    for ep in range(episodes):
        _, info = env.reset(seed=EVAL_SEED + ep)
        ret = cost = 0.0
        while True:
            _, r, term, trunc, info = env.step(goal_seeker(info))
            ret, cost = ret + r, cost + info["cost"]
            if term or trunc:
                break
        rets.append(ret)
        costs.append(cost)
    print(f"goal seeker (ignores hazards), {episodes} episodes: return {np.mean(rets):.2f} per episode "
          f"({', '.join(f'{x:.2f}' for x in rets)}), cost {np.mean(costs):.2f} per episode")


if __name__ == "__main__":
    main()
