"""Named CRABS schedules shared by scripts/crabs_run.py, scripts/crabs_sweep.py and the CI quick test.

Each preset is a dict of CrabsConfig overrides. The paper's schedule (digest Sec. 3-4) is CrabsConfig's defaults
("paper"); the others shrink step counts (never what one step computes) so that a seed fits a CPU budget.
"""
from __future__ import annotations

PRESETS: dict[str, dict] = {
    # CI: one epoch, small budgets
    "quick": dict(epochs=1, model_warmup_steps=1000, model_steps=200, cert_warmup_mala=50, cert_clean_steps=100,
                  cert_max_steps=200, pretrain_max_steps=3000, policy_steps=100, q_warm_steps=300,
                  audit_attack_steps=30, audit_full_attack_steps=0, audit_invariance_states=20_000,
                  warmup_episodes=4),
    # the previous session's 6-epoch run (RESULTS.md, Upright seed 0)
    "medium": dict(epochs=6, model_warmup_steps=2000, model_steps=500, cert_warmup_mala=100, cert_clean_steps=200,
                   cert_max_steps=1000, policy_steps=500, q_warm_steps=500, audit_attack_steps=50,
                   audit_full_attack_steps=0),
    # the sweep schedule: every accepted certificate passes a 1e4-particle x 1000-step attack; 1e5-state invariance
    "sweep": dict(epochs=10, model_warmup_steps=2000, model_steps=500, cert_warmup_mala=100, cert_clean_steps=200,
                  cert_max_steps=1500, policy_steps=1000, q_warm_steps=5000, audit_attack_steps=100,
                  audit_full_attack_steps=1000),
    "paper": dict(),
}
# as "sweep", but certificates are accepted on the 1e4-particle x 100-step gate attack alone (the final certificate
# still gets the 1000-step audit in scripts/): for CPU-time-limited runs
PRESETS["sweep_gate"] = {**PRESETS["sweep"], "audit_full_attack_steps": 0}


def preset(name: str, **overrides) -> dict:
    if name not in PRESETS:
        raise ValueError(f"unknown CRABS preset {name!r}; choose one of {sorted(PRESETS)}")
    return {**PRESETS[name], **overrides}
