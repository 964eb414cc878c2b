"""Gymnasium environments of safe-shield. Importing this package registers them."""

from gymnasium.envs.registration import register, registry

# --- foundation: the shield demo's point robot -------------------------------------------------
if "SafeShield/PointHazards-v0" not in registry:
    register(id="SafeShield/PointHazards-v0", entry_point="sim.point_robot:PointHazardsEnv")
