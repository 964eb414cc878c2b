"""Closed-loop check of an exported CRABS bundle: 100 episodes of Pendulum Upright behind the shield, commands
alternating uniform-random / bang-bang (+-1 every 10 steps). Usage: python scripts/crabs_shield_loop.py <bundle>"""
import sys, time, numpy as np
from safe_shield.shield import Shield
from sim.pendulum import PendulumEnv
shield = Shield.from_bundle(sys.argv[1]); env = PendulumEnv("upright"); rng = np.random.default_rng(1)
unsafe = dec = mod = 0; t0 = time.time()
for ep in range(100):
    obs, _ = env.reset()
    for t in range(200):
        u_cmd = rng.uniform(-1, 1, 1) if ep % 2 == 0 else np.array([1.0 if (t // 10) % 2 else -1.0])
        u, d = shield.decide(obs, u_cmd.astype(np.float32), t * 0.05, t * 0.05)
        mod += not np.allclose(u, u_cmd); obs, _, term, _, info = env.step(u); unsafe += info["unsafe"]; dec += 1
        if term: break
print({"episodes": 100, "decisions": dec, "unsafe_steps": unsafe, "modified_or_fallback": mod, "wall_s": round(time.time()-t0,1)})
