"""PPO-Lagrangian baseline: counting, multiplier ascent on positive cost, checkpoint round trip."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_ppo_lag_quick(tmp_path):
    from safe_learners.ppo_lagrangian import PPOLagConfig, PPOLagrangian
    cfg = PPOLagConfig(total_steps=960, steps_per_epoch=480, train_iters=2, run_dir=str(tmp_path),
                       env_kwargs=dict(v0_range=(1.5, 3.0)))
    ag = PPOLagrangian(cfg).learn(log=lambda s: None)
    assert ag.counters["env_steps"] == 960 and ag.counters["episodes"] == 8
    assert len(ag.history) == 2
    # lambda = softplus(p) moves by lr * (J_c - 0): it rises iff the epoch had cost
    lam0 = float(np.log1p(np.exp(0.0)))
    assert ag.history[0]["ep_cost"] > 0            # fast starts toward the hazard: the random policy hits it
    assert ag.history[0]["lam"] > lam0
    ag.save(str(tmp_path / "ck.pt"))
    ag2 = PPOLagrangian.load(str(tmp_path / "ck.pt"))
    assert ag2.counters == ag.counters and ag2.lam() == pytest.approx(ag.lam())
    assert len(ag2.evaluate(1)) == 1
