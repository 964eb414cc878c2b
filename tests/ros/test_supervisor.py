"""Watchdog rules of the ROS node, on the real shield core and the shipped bundle."""

import math
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from safe_shield.decision import Outcome
from safe_shield.ros.supervisor import Supervisor, SupervisorConfig
from safe_shield.shield import Shield

MODEL = Path(__file__).resolve().parents[2] / "models" / "point_hazards_ssa"
X = np.array([-1.8, 0, 0, 0, 1.8, 0, 0, 0, 0, 1.2, 0, -1.2, 1, .6, 1, -.6, -1, 1.4])
U = np.array([0.3, 0.1])


@pytest.fixture
def sup():
    s = Supervisor(Shield.from_bundle(MODEL, {"state_timeout_s": 0.2}),
                   SupervisorConfig(command_timeout_s=0.25, state_timeout_s=0.2,
                                    stop_repeat_s=1.0, recovery_s=0.2))
    s.on_state(X, stamp=100.0, mono=0.0)
    return s


def test_healthy_command_passes(sup):
    u, d = sup.on_command(U, now=100.01, mono=0.01)
    assert d.outcome is Outcome.PASS and np.allclose(u, U)


def test_no_state_yet_or_stale_state_stops(sup):
    fresh = Supervisor(sup.shield, sup.cfg)
    assert fresh.on_command(U, 0.0, 0.0)[1].reason == "state_missing"
    u, d = sup.on_command(U, now=100.01, mono=0.5)           # receipt age 0.5 s
    assert (d.outcome, d.reason) == (Outcome.STOP, "state_stale") and not u.any()
    sup.on_state(X, stamp=99.0, mono=1.0)                     # fresh receipt, old stamp
    assert sup.on_command(U, now=100.01, mono=1.0)[1].reason == "state_stale"


def test_recovery_needs_healthy_inputs_for_recovery_s(sup):
    sup.on_command(U, now=100.01, mono=0.5)                   # stale -> stop
    sup.on_state(X, stamp=100.5, mono=0.5)
    assert sup.on_command(U, now=100.5, mono=0.55)[1].reason == "recovering"
    sup.on_state(X, stamp=100.75, mono=0.75)
    assert sup.on_command(U, now=100.76, mono=0.76)[1].outcome is Outcome.PASS


def test_non_finite_command_is_never_forwarded(sup):
    u, d = sup.on_command(np.array([np.nan, 0.0]), 100.0, 0.0)
    assert d.reason == "command_not_finite" and np.isfinite(u).all() and not u.any()


def test_command_timeout_stops_repeatedly_then_goes_quiet(sup):
    sup.on_command(U, 100.0, 0.0)
    assert sup.tick(100.1, 0.1) is None                        # still fresh
    outs = []
    for t in np.arange(0.3, 1.6, 0.02):                        # state stays fresh throughout
        sup.on_state(X, stamp=100.0 + t, mono=t)
        outs.append(sup.tick(100.0 + t, t))
    stops = [o for o in outs if o is not None]
    assert stops and all(d.reason == "command_timeout" and not u.any() for u, d in stops)
    assert outs[-1] is None and outs[0] is not None            # quiet after stop_repeat_s


def test_estop_lock_heartbeat_and_disable(sup):
    sup.cfg.use_estop, sup.cfg.estop_timeout_s = True, 0.3
    sup.on_estop(True, 0.0)
    assert sup.on_command(U, 100.0, 0.01)[1].reason == "estop_locked"
    sup.on_estop(False, 0.0)
    sup.on_state(X, stamp=100.5, mono=0.5)
    assert sup.on_command(U, 100.5, 0.5)[1].reason == "estop_heartbeat_timeout"
    sup.set_enabled(False)
    assert sup.on_command(U, 100.5, 0.5)[1].reason == "disabled"


def test_diagnostics_figures_cover_the_window_since_the_last_report():
    s = Supervisor(Shield.from_bundle(MODEL, {"state_timeout_s": 0.2, "deadline_s": 1.0}),
                   SupervisorConfig(state_timeout_s=0.2), start_mono=0.0)
    for i in range(100):                                       # 1 s: 100 states, 50 commands
        t = i * 0.01
        s.on_state(X, stamp=100.0 + t, mono=t)
        if i % 2 == 0:
            s.on_command(U, 100.0 + t, t)
    first = s.stats(now=101.0, mono=1.0)
    assert first["command_rate_hz"] == pytest.approx(50.0)
    assert first["state_rate_hz"] == pytest.approx(100.0)
    assert first["output_rate_hz"] == pytest.approx(50.0)
    assert first["intervention_ratio"] == 0.0 and first["compute_p99_us"] > 0
    assert first["state_age_s"] == pytest.approx(0.01)
    for i in range(10):                                        # next 0.5 s: 10 NaN commands
        s.on_command(np.array([np.nan, 0.0]), 101.0, 1.0 + i * 0.05)
    second = s.stats(now=101.5, mono=1.5)
    assert second["command_rate_hz"] == pytest.approx(20.0) and second["state_rate_hz"] == 0.0
    assert second["intervention_ratio"] == 1.0
    assert second["intervention_ratio_total"] == pytest.approx(10 / 60)
    assert math.isnan(second["compute_p50_us"])                # no decide() in this window


# -- background preparation (the node's default): a state counts once it is committed ----------

def test_a_state_is_used_only_once_committed_and_until_then_the_previous_one_ages():
    waiting = []                                        # a preparer that has not run yet
    s = Supervisor(Shield.from_bundle(MODEL, {"state_timeout_s": 0.2}),
                   SupervisorConfig(state_timeout_s=0.2, recovery_s=0.0), ingest=waiting.append)
    s.on_state(X, stamp=100.0, mono=0.0)
    assert s.on_command(U, 100.01, 0.01)[1].reason == "state_missing"   # nothing committed
    s.commit_state(waiting.pop())
    assert s.on_command(U, 100.02, 0.02)[1].outcome is Outcome.PASS
    s.on_state(X, stamp=100.3, mono=0.3)                 # received, never committed
    assert s.on_command(U, 100.31, 0.31)[1].reason == "state_stale"     # fails closed
    s.commit_state(waiting.pop())
    assert s.on_command(U, 100.32, 0.32)[1].outcome is Outcome.PASS


def test_an_unreadable_state_stops_at_once_without_waiting_for_the_preparer():
    waiting = []
    s = Supervisor(Shield.from_bundle(MODEL, {"state_timeout_s": 0.2}),
                   SupervisorConfig(state_timeout_s=0.2), ingest=waiting.append)
    s.on_state(X, stamp=100.0, mono=0.0)
    s.commit_state(waiting.pop())
    s.on_state(None, stamp=100.01, mono=0.01)
    assert s.on_command(U, 100.02, 0.02)[1].reason == "state_unreadable" and not waiting


def test_background_preparer_commits_the_latest_state_on_its_own_thread():
    from safe_shield.ros.background import BackgroundPreparer

    seen, gate, done = [], threading.Event(), threading.Event()

    def commit(sample):
        gate.wait(5)                                     # hold the thread on the first state
        seen.append((sample, threading.current_thread().name))
        if sample == "c":
            done.set()

    p = BackgroundPreparer(commit)
    try:
        p.submit("a")
        for _ in range(100):                             # until the thread has taken "a"
            if p._pending is None:
                break
            time.sleep(0.01)
        p.submit("b")                                    # waiting: replaced by "c" (latest wins)
        p.submit("c")
        gate.set()
        assert done.wait(5)
    finally:
        p.close()
    assert [x for x, _ in seen] == ["a", "c"]
    assert {name for _, name in seen} == {"safe_shield_prepare"}
    assert not p.alive


def test_background_preparation_gives_the_same_decisions_as_preparing_inline():
    from safe_shield.ros.background import BackgroundPreparer

    cfg = SupervisorConfig(state_timeout_s=0.2, recovery_s=0.0)
    # a wall-clock deadline miss would make one of the two fall back on a loaded CI machine (seen with two
    # training runs beside the suite); the deadline has its own tests, this one compares preparation paths
    shield_cfg = {"state_timeout_s": 0.2, "deadline_s": 10.0}
    inline = Supervisor(Shield.from_bundle(MODEL, shield_cfg), cfg)
    bg = Supervisor(Shield.from_bundle(MODEL, shield_cfg), cfg)
    preparer = BackgroundPreparer(bg.commit_state)
    bg.ingest = preparer.submit
    rng = np.random.default_rng(0)
    try:
        for i in range(50):
            x = X.copy()
            x[:4] = rng.uniform(-1.5, 1.5, 4)
            t = 0.01 * i
            inline.on_state(x, stamp=100.0 + t, mono=t)
            bg.on_state(x, stamp=100.0 + t, mono=t)
            for _ in range(500):                         # wait for the commit
                if bg.sample.obs is x:
                    break
                time.sleep(0.002)
            assert bg.sample.obs is x
            np.testing.assert_array_equal(bg.shield.filter._prepared.x[0], x.astype(np.float32))
            for _ in range(3):
                u_cmd = rng.uniform(-1.5, 1.5, 2)
                u_i, d_i = inline.on_command(u_cmd, 100.0 + t, t)
                u_b, d_b = bg.on_command(u_cmd, 100.0 + t, t)
                assert (d_i.outcome, d_i.reason) == (d_b.outcome, d_b.reason)   # first: names the cause
                np.testing.assert_array_equal(u_i, u_b)
    finally:
        preparer.close()
    assert preparer.failures == 0


def test_under_a_real_time_policy_the_preparer_runs_one_level_below_the_decisions():
    from safe_shield.ros.background import BackgroundPreparer

    seen = []

    def start_from_a_fifo_thread():
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        except PermissionError:
            seen.append("not permitted")
            return
        p = BackgroundPreparer(lambda _: seen.append(
            (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)))
        p.submit("x")
        for _ in range(500):
            if seen:
                break
            time.sleep(0.01)
        p.close()

    t = threading.Thread(target=start_from_a_fifo_thread)
    t.start()
    t.join(10)
    if seen == ["not permitted"]:
        pytest.skip("SCHED_FIFO needs CAP_SYS_NICE here")
    assert seen == [(os.SCHED_FIFO, 9)]
