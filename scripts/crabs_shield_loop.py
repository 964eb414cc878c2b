"""Closed-loop check of an exported CRABS bundle: episodes behind the shield, commands alternating uniform-random /
bang-bang (+-1 every 10 steps). Usage: python scripts/crabs_shield_loop.py <bundle> [upright|move] [episodes]"""
import sys, time, numpy as np
from safe_shield.shield import Shield
task = sys.argv[2] if len(sys.argv) > 2 else "upright"
n_ep = int(sys.argv[3]) if len(sys.argv) > 3 else 100
if task == "move":
    from sim.cartpole import CartPoleEnv
    env, horizon, dt = CartPoleEnv("move"), 1000, 0.04
else:
    from sim.pendulum import PendulumEnv
    env, horizon, dt = PendulumEnv(task), 200, 0.05
shield = Shield.from_bundle(sys.argv[1]); rng = np.random.default_rng(1)
unsafe = dec = mod = 0; t0 = time.time()
for ep in range(n_ep):
    obs, _ = env.reset()
    for t in range(horizon):
        u_cmd = rng.uniform(-1, 1, 1) if ep % 2 == 0 else np.array([1.0 if (t // 10) % 2 else -1.0])
        u, d = shield.decide(obs, u_cmd.astype(np.float32), t * dt, t * dt)
        mod += not np.allclose(u, u_cmd); obs, _, term, _, info = env.step(u); unsafe += info["unsafe"]; dec += 1
        if term: break
print({"task": task, "episodes": n_ep, "decisions": dec, "unsafe_steps": unsafe, "modified_or_fallback": mod,
       "wall_s": round(time.time()-t0, 1)})
