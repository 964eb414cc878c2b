"""Behaviour of the real shield node over real DDS. One scenario per process:

    tests/ros/netns.sh <domain> .venv-ros/bin/python tests/ros/scenarios.py <name> <tmpdir>

(tests/ros/test_ros_node.py runs each one like that from ./run.sh test.) A scenario starts the
node as its own process, drives it from this process over DDS and asserts on what comes back.
Timing slack is generous: the CI machine has 2 shared cores.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import MODEL, PARAMS, REPO, Driver, NodeProcess, is_zero, shield_process  # noqa: E402

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def start_active(tmp: Path, *extra: str, **kw) -> tuple[NodeProcess, Driver]:
    node = shield_process(tmp, "-p", "autostart:=true", *extra, **kw)
    assert node.wait_log("active: filtering"), node.text()
    drv = Driver()
    drv.wait_matched()
    return node, drv


# -- lifecycle ------------------------------------------------------------------------------------
@scenario
def lifecycle_transitions(tmp: Path):
    """configure/activate via the lifecycle services; quiet while inactive; deactivate stops."""
    node = shield_process(tmp)
    drv = Driver()
    assert drv.get_state() == "unconfigured"
    assert drv.configure() and drv.get_state() == "inactive"
    drv.wait_matched()
    t0 = time.monotonic()
    drv.stream(0.5)
    assert drv.outputs_since(t0) == [], "an inactive shield must not publish commands"

    assert drv.activate() and drv.get_state() == "active"
    t0 = time.monotonic()
    drv.stream(0.5, cmd=drv.twist(0.3))
    out = drv.outputs_since(t0)
    assert len(out) >= 15, f"only {len(out)} outputs for 25 commands"
    assert abs(out[-1][1].linear.x - 0.3) < 1e-6, "a safe command far from hazards must pass"

    time.sleep(0.3)                # the last passes are delivered before the deactivate
    t0 = time.monotonic()
    assert drv.deactivate() and drv.get_state() == "inactive"
    time.sleep(0.3)
    stops = drv.outputs_since(t0)
    assert stops and all(is_zero(m) for _, m in stops), \
        f"deactivate must publish a stop: {[(round(t - t0, 3), m.linear.x) for t, m in stops]}"
    t1 = time.monotonic()
    drv.stream(0.5)
    assert drv.outputs_since(t1) == [], "after deactivate the shield is quiet"
    assert drv.lifecycle(2)  # cleanup
    assert drv.get_state() == "unconfigured"
    drv.close()
    node.stop()


@scenario
def bad_bundle_fails_configure(tmp: Path):
    """A tampered bundle (sha256 mismatch) fails configure with one clear log line."""
    bad = tmp / "tampered"
    shutil.copytree(MODEL, bad)
    onnx = sorted(bad.glob("*.onnx"))[0]
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    node = shield_process(tmp, "-p", f"model:={bad}")
    drv = Driver()
    assert drv.configure() is False
    assert drv.get_state() == "unconfigured"
    assert node.wait_log("configure failed: bundle"), node.text()
    line = [ln for ln in node.text().splitlines() if "configure failed" in ln][0]
    assert str(bad) in line and onnx.name in line, line
    drv.close()
    node.stop()


@scenario
def misspelt_parameter_fails_configure(tmp: Path):
    """A misspelt parameter must not silently keep its default."""
    node = shield_process(tmp, "-p", "command_timeout:=0.1")
    drv = Driver()
    assert drv.configure() is False
    assert node.wait_log("configure failed: unknown parameter(s) ['command_timeout']"), node.text()
    drv.close()
    node.stop()


@scenario
def bad_mapping_fails_configure(tmp: Path):
    """An action mapping that misses a bundle action name fails configure and names it."""
    node = shield_process(tmp, "-p", "action:=['fx = linear.x']")
    drv = Driver()
    assert drv.configure() is False
    assert node.wait_log("missing ['fy']"), node.text()
    drv.close()
    node.stop()
    # Twist field paths for a TwistStamped command: refused at configure, not on the first stop.
    node = shield_process(tmp, "-p", "command_type:=twist_stamped", name="stamped")
    drv = Driver()
    assert drv.configure() is False
    assert node.wait_log("configure failed: action mapping does not fit twist_stamped"), node.text()
    drv.close()
    node.stop()


@scenario
def launch_spec_under_namespace(tmp: Path):
    """The launch file's node (launch_config.shield_node_spec), started with exactly its command
    line, under a namespace: the `/**:` params file applies, remaps apply, it autostarts."""
    sys.path.insert(0, str(REPO / "src"))
    from safe_shield.ros.launch_config import shield_node_spec
    spec = shield_node_spec(model=str(MODEL), params_file=str(PARAMS), namespace="robot1")
    node = NodeProcess("", [], tmp / "launch.log", cmd=spec.command(sys.executable))
    assert node.wait_log("active: filtering"), node.text()
    drv = Driver(ns="robot1", cmd_in="cmd_vel_in", cmd_out="cmd_vel", state="odom")
    drv.wait_matched()
    t0 = time.monotonic()
    drv.stream(0.5, cmd=drv.twist(0.2, -0.1))
    out = drv.outputs_since(t0)
    assert out and abs(out[-1][1].linear.y + 0.1) < 1e-6, "command must pass via the remapped topics"
    dec = drv.decisions_since(t0)
    assert dec and dec[-1][1].message == "pass", [d.message for _, d in dec[-3:]]
    drv.close()
    node.stop()


# -- watchdogs ------------------------------------------------------------------------------------
@scenario
def command_timeout_publishes_stop_repeatedly(tmp: Path):
    """When commands stop, the shield actively publishes stop for stop_repeat_s, then goes quiet."""
    node, drv = start_active(tmp, "-p", "command_timeout_s:=0.2", "-p", "stop_repeat_s:=1.0",
                             "-p", "watchdog_rate_hz:=20.0")
    drv.stream(0.5)
    t_last = time.monotonic()
    drv.stream(2.0, send_cmd=False)                    # state keeps coming, commands do not
    out = drv.outputs_since(t_last)
    stops = [(t, m) for t, m in out if is_zero(m)]
    assert stops, "no stop published after the command timeout"
    first = stops[0][0] - t_last
    assert 0.15 < first < 0.6, f"first stop {first:.3f}s after the last command (timeout 0.2s)"
    span = stops[-1][0] - stops[0][0]
    assert len(stops) >= 12 and 0.7 < span < 1.4, f"{len(stops)} stops over {span:.2f}s"
    assert time.monotonic() - stops[-1][0] > 0.4, "after stop_repeat_s the shield goes quiet"
    reasons = {Driver.reason(d) for _, d in drv.decisions_since(t_last)}
    assert reasons == {"command_timeout"}, reasons
    drv.close()
    node.stop()


@scenario
def stale_state_stops_and_recovers(tmp: Path):
    """State that stops arriving, or arrives with an old header stamp, stops the robot;
    healthy state for recovery_s lets commands through again."""
    node, drv = start_active(tmp, "-p", "state_timeout_s:=0.2", "-p", "recovery_s:=0.3")
    drv.stream(0.4)
    t0 = time.monotonic()
    drv.stream(1.0, send_state=False)                   # receipt-time staleness
    out = drv.outputs_since(t0)
    late = [m for t, m in out if t - t0 > 0.5]
    assert late and all(is_zero(m) for m in late), "stale state must stop the robot"
    assert "state_stale" in {Driver.reason(d) for _, d in drv.decisions_since(t0)}

    t1 = time.monotonic()
    drv.stream(1.0, state_kw={"stamp_age": 1.0})        # fresh receipt, old stamp
    late = [m for t, m in drv.outputs_since(t1) if t - t1 > 0.3]
    assert late and all(is_zero(m) for m in late), "an old header stamp must stop the robot"

    t2 = time.monotonic()
    drv.stream(1.0)                                    # healthy again
    dec = drv.decisions_since(t2)
    reasons = [Driver.reason(d) for _, d in dec]
    assert "recovering" in reasons, reasons
    first_pass = next(t for t, d in dec if d.message == "pass")
    assert first_pass - t2 >= 0.25, f"passed {first_pass - t2:.3f}s after recovery began"
    assert abs(drv.outputs_since(t2)[-1][1].linear.x - 0.3) < 1e-6
    drv.close()
    node.stop()


@scenario
def non_finite_inputs_are_rejected(tmp: Path):
    """NaN/inf in a command or in the state is never forwarded."""
    node, drv = start_active(tmp)
    drv.stream(0.3)
    t0 = time.monotonic()
    drv.stream(0.3, cmd=drv.twist(float("nan"), 0.2))
    out = drv.outputs_since(t0)
    assert out and all(is_zero(m) for _, m in out), [m.linear for _, m in out[:3]]
    assert {Driver.reason(d) for _, d in drv.decisions_since(t0)} == {"command_not_finite"}
    t1 = time.monotonic()
    drv.stream(0.3, cmd=drv.twist(0.3, float("inf")))
    assert all(is_zero(m) for _, m in drv.outputs_since(t1))
    t2 = time.monotonic()
    drv.stream(0.4, state_kw={"vx": float("nan")})
    dec = drv.decisions_since(t2)
    late = [d for t, d in dec if t - t2 > 0.1]
    assert late and all(d.message in ("fallback", "stop") for d in late), [d.message for d in late]
    assert all(is_zero(m) for t, m in drv.outputs_since(t2) if t - t2 > 0.1)
    drv.close()
    node.stop()


@scenario
def estop_lock_and_heartbeat(tmp: Path):
    """e-stop True locks; a missing heartbeat locks; both recover when healthy again."""
    node, drv = start_active(tmp, "-p", "use_estop:=true", "-p", "estop_timeout_s:=0.3",
                             "-p", "recovery_s:=0.2")
    drv.stream(0.5, estop=False)
    t0 = time.monotonic()
    drv.stream(0.5, estop=True)
    late = [m for t, m in drv.outputs_since(t0) if t - t0 > 0.1]
    assert late and all(is_zero(m) for m in late), "e-stop must lock"
    assert "estop_locked" in {Driver.reason(d) for _, d in drv.decisions_since(t0)}
    t1 = time.monotonic()
    drv.stream(0.8, estop=False)
    assert abs(drv.outputs_since(t1)[-1][1].linear.x - 0.3) < 1e-6, "released e-stop recovers"
    t2 = time.monotonic()
    drv.stream(1.0)                                    # heartbeat silent
    late = [m for t, m in drv.outputs_since(t2) if t - t2 > 0.5]
    assert late and all(is_zero(m) for m in late), "missing heartbeat must lock"
    assert "estop_heartbeat_timeout" in {Driver.reason(d) for _, d in drv.decisions_since(t2)}
    drv.close()
    node.stop()


@scenario
def enable_service_disables_to_stop(tmp: Path):
    node, drv = start_active(tmp)
    drv.stream(0.3)
    assert drv.enable(False)
    t0 = time.monotonic()
    drv.stream(0.4)
    out = drv.outputs_since(t0)
    assert out and all(is_zero(m) for _, m in out)
    assert {Driver.reason(d) for _, d in drv.decisions_since(t0)} == {"disabled"}
    assert drv.enable(True)
    t1 = time.monotonic()
    drv.stream(0.4)
    assert abs(drv.outputs_since(t1)[-1][1].linear.x - 0.3) < 1e-6
    drv.close()
    node.stop()


@scenario
def missed_deadline_falls_back(tmp: Path):
    """Inference past its deadline -> fallback (core ShieldConfig.deadline_s, set via params)."""
    node, drv = start_active(tmp, "-p", "shield.deadline_s:=0.0000001")
    drv.stream(0.2, send_cmd=False)                    # state first, so only the deadline fails
    t0 = time.monotonic()
    drv.stream(0.5)
    # The no-command watchdog's stops may still be in flight when streaming starts; what matters
    # is that no command is ever passed or modified once every decision misses its deadline.
    dec = [d for _, d in drv.decisions_since(t0) if d.message != "stop"]
    assert dec and all(d.message == "fallback" for d in dec), [d.message for d in dec[:3]]
    assert {Driver.reason(d) for d in dec} == {"deadline_exceeded"}
    assert all(is_zero(m) for _, m in drv.outputs_since(t0))
    drv.close()
    node.stop()


@scenario
def model_error_falls_back(tmp: Path):
    """A runtime model failure inside the node never passes the command. Bundles come from
    faulty_bundles.py (real exporter), built by the pytest process into ``tmp``:
    NaN from the index graph for a reachable state, and an ONNX Runtime run error."""
    # NaN: the robot exactly on hazard0's centre, moving at 0.5 m/s; backup policy brakes (-1).
    node, drv = start_active(tmp, "-p", f"model:={tmp / 'nan_bundle'}", name="nan_shield")
    drv.stream(0.4)
    t0 = time.monotonic()
    drv.stream(0.5, state_kw={"x": 0.0, "y": 0.0, "vx": 0.5})
    dec = [d for t, d in drv.decisions_since(t0) if t - t0 > 0.1]
    assert dec and all(d.message == "fallback" for d in dec), [d.message for d in dec[:3]]
    assert {Driver.reason(d) for d in dec} == {"model_output_not_finite"}
    out = [m for t, m in drv.outputs_since(t0) if t - t0 > 0.1]
    assert out and all(m.linear.x == -1.0 and m.linear.y == 0.0 for m in out), \
        "the backup policy (full braking), never the command"
    t1 = time.monotonic()
    drv.stream(0.4)                                     # a healthy state: filtering again
    assert drv.decisions_since(t1)[-1][1].message == "pass"
    drv.close()
    node.stop()

    # ORT error: a Gather index out of bounds for x0 = 7 (range checks off so it reaches ORT).
    node, drv = start_active(
        tmp, "-p", f"model:={tmp / 'ort_error_bundle'}", "-p", "shield.check_state_range:=false",
        "-p", "shield.fallback:=zero", "-p", "action:=['u0 = linear.x', 'u1 = linear.y']",
        "-p", "observation:=['x0 = pose.pose.position.x', 'x1 = pose.pose.position.y']",
        name="ort_shield")
    drv.stream(0.4, state_kw={"x": 1.0})
    t0 = time.monotonic()
    drv.stream(0.5, state_kw={"x": 7.0})
    dec = [d for t, d in drv.decisions_since(t0) if t - t0 > 0.1]
    assert dec and all(d.message == "fallback" for d in dec), [d.message for d in dec[:3]]
    assert {Driver.reason(d) for d in dec} == {"model_error"}
    assert all(is_zero(m) for t, m in drv.outputs_since(t0) if t - t0 > 0.1)
    t1 = time.monotonic()
    drv.stream(0.4, state_kw={"x": 1.0})
    assert abs(drv.outputs_since(t1)[-1][1].linear.x - 0.3) < 1e-6, "healthy again: passes"
    drv.close()
    node.stop()


@scenario
def hazard_ahead_is_filtered(tmp: Path):
    """Rushing at a hazard: the safety filter modifies the command (decision 'modified')."""
    node, drv = start_active(tmp)
    t0 = time.monotonic()
    # 0.6 m left of hazard0 at the origin, moving towards it at 2 m/s, commanding full force on.
    drv.stream(0.4, cmd=drv.twist(1.0), state_kw={"x": -0.6, "vx": 2.0})
    dec = [d for _, d in drv.decisions_since(t0)]
    assert dec and dec[-1].message == "modified", [d.message for d in dec[-3:]]
    assert drv.outputs_since(t0)[-1][1].linear.x < 1.0 - 1e-3
    drv.close()
    node.stop()


@scenario
def diagnostics_at_1hz(tmp: Path):
    """/diagnostics at ~1 Hz: per-second rates over the last window, staleness ages, the
    intervention ratio and decide-time percentiles; an ERROR status while state is stale."""
    node, drv = start_active(tmp)
    t0 = time.monotonic()
    drv.stream(3.2)                                    # 50 Hz state + command
    diags = [(t, a) for t, a in drv.diagnostics if t >= t0]
    assert 2 <= len(diags) <= 5, len(diags)
    gaps = [b[0] - a[0] for a, b in zip(diags, diags[1:])]
    assert all(0.6 < g < 1.5 for g in gaps), gaps
    st = diags[-1][1].status[0]
    v = {kv.key: kv.value for kv in st.values}
    assert st.message == "filtering" and st.level == st.OK
    for key in ("command_rate_hz", "state_rate_hz", "output_rate_hz"):
        assert 30.0 <= float(v[key]) <= 60.0, (key, v[key])   # 50 Hz on a loaded 2-core box
    assert abs(float(v["output_rate_hz"]) - float(v["command_rate_hz"])) < 5.0, v
    assert float(v["intervention_ratio"]) == 0.0, v
    assert 0 < float(v["compute_p50_us"]) <= float(v["compute_p99_us"]) < 1e5, v
    assert 0 <= float(v["state_age_s"]) < 0.2 and 0 <= float(v["command_age_s"]) < 0.2, v

    t1 = time.monotonic()
    drv.stream(2.2, send_state=False)                  # state goes stale, commands keep coming
    late = [a.status[0] for t, a in drv.diagnostics if t - t1 > 1.0]
    assert late, "no diagnostics while the state was stale"
    v = {kv.key: kv.value for kv in late[-1].values}
    assert late[-1].level == late[-1].ERROR and "state_stale" in late[-1].message, late[-1].message
    assert float(v["state_age_s"]) > 0.5 and float(v["state_rate_hz"]) == 0.0, v
    assert float(v["intervention_ratio"]) == 1.0, v
    drv.close()
    node.stop()


@scenario
def sigterm_publishes_stop(tmp: Path):
    node, drv = start_active(tmp)
    drv.stream(0.3)
    t0 = time.monotonic()
    node.stop(signal.SIGTERM)
    time.sleep(0.3)
    out = drv.outputs_since(t0)
    assert out and all(is_zero(m) for _, m in out), "terminating while active must publish stop"
    drv.close()


JOINT_OBSERVATION = (
    "observation:=['x = position[slide_x]', 'y = position[slide_y]', 'vx = velocity[slide_x]', "
    "'vy = velocity[slide_y]', 'goal_x = 1.8', 'goal_y = 0.0', 'hazard0_x = 0.0', "
    "'hazard0_y = 0.0', 'hazard1_x = 0.0', 'hazard1_y = 1.2', 'hazard2_x = 0.0', "
    "'hazard2_y = -1.2', 'hazard3_x = 1.0', 'hazard3_y = 0.6', 'hazard4_x = 1.0', "
    "'hazard4_y = -0.6', 'hazard5_x = -1.0', 'hazard5_y = 1.4']")


def _joint_run(tmp: Path, command_type: str, action: str, cmd, seconds: float = 0.6):
    """Shield with JointState in and ``command_type`` out; streams ``cmd``, returns the driver's
    outputs and decisions (node and driver still running, for more checks)."""
    from sensor_msgs.msg import JointState
    node = shield_process(tmp, "-p", "autostart:=true", "-p", "state_type:=joint_state",
                          "-p", f"command_type:={command_type}", "-p", action,
                          "-p", "joint_names:=['slide_x', 'slide_y']",
                          "-p", JOINT_OBSERVATION, name=command_type)
    assert node.wait_log("active: filtering"), node.text()
    drv = Driver(cmd_type=type(cmd), state_type=JointState)
    drv.wait_matched()
    t0 = time.monotonic()
    end = t0 + seconds
    while time.monotonic() < end:
        js = JointState(name=["slide_y", "slide_x"], position=[0.5, -1.5], velocity=[0.0, 0.0])
        js.header.stamp = drv.node.get_clock().now().to_msg()
        drv.pub_state.publish(js)
        drv.pub_cmd.publish(cmd)
        time.sleep(0.02)
    return node, drv, drv.outputs_since(t0), drv.decisions_since(t0)


@scenario
def joint_interfaces(tmp: Path):
    """Arm-style interfaces with no code change: JointState in, Float64MultiArray out."""
    from std_msgs.msg import Float64MultiArray
    node, drv, out, dec = _joint_run(tmp, "float64_array", "action:=['fx = data[0]', 'fy = data[1]']",
                                     Float64MultiArray(data=[0.25, -0.5]))
    assert out and list(out[-1][1].data) == [0.25, -0.5], out[-1:] and list(out[-1][1].data)
    assert dec[-1][1].message == "pass"
    drv.close()
    node.stop()


@scenario
def joint_trajectory_interface(tmp: Path):
    """JointState in, trajectory_msgs/JointTrajectory out (joint_trajectory_controller): the
    command's joint names and timing carry over; when commands stop, the stop is a trajectory
    for the configured joints."""
    from builtin_interfaces.msg import Duration
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
    cmd = JointTrajectory(joint_names=["slide_x", "slide_y"], points=[JointTrajectoryPoint(
        positions=[0.25, -0.5], time_from_start=Duration(sec=0, nanosec=100_000_000))])
    node, drv, out, dec = _joint_run(
        tmp, "joint_trajectory",
        "action:=['fx = points[0].positions[0]', 'fy = points[0].positions[1]']", cmd)
    assert out and dec[-1][1].message == "pass", [d.message for _, d in dec[-3:]]
    last = out[-1][1]
    assert list(last.joint_names) == ["slide_x", "slide_y"] and len(last.points) == 1
    assert list(last.points[0].positions) == [0.25, -0.5]
    assert last.points[0].time_from_start.nanosec == 100_000_000
    t1 = time.monotonic()
    time.sleep(0.8)                                    # commands (and state) stop: stops
    stops = [m for _, m in drv.outputs_since(t1)]
    assert stops and all(list(m.points[0].positions) == [0.0, 0.0] for m in stops), stops[:1]
    reasons = {Driver.reason(d) for t, d in drv.decisions_since(t1) if t - t1 > 0.1}
    assert reasons and reasons <= {"command_timeout", "state_stale"}, reasons
    drv.close()
    node.stop()


@scenario
def sim_time_twist_stamped(tmp: Path):
    """use_sim_time with a /clock publisher, TwistStamped in and out: the output is stamped in
    sim time and state staleness is judged in sim time, far from the wall clock."""
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import TwistStamped
    from rclpy.qos import QoSProfile
    from rosgraph_msgs.msg import Clock
    node = shield_process(tmp, "-p", "autostart:=true", "-p", "use_sim_time:=true",
                          "-p", "command_type:=twist_stamped",
                          "-p", "action:=['fx = twist.linear.x', 'fy = twist.linear.y']",
                          name="simtime")
    assert node.wait_log("active: filtering"), node.text()
    drv = Driver(cmd_type=TwistStamped)
    pub_clock = drv.node.create_publisher(Clock, "/clock", QoSProfile(depth=1))
    drv.wait_matched()
    sim = [5000.0]                                     # sim seconds, ~1.8e9 s from wall time

    def run(seconds: float, stamp_lag: float = 0.0) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            sim[0] += 0.02
            stamp = Time(sec=int(sim[0]), nanosec=int(sim[0] % 1 * 1e9))
            pub_clock.publish(Clock(clock=stamp))
            odom, t = drv.odom(), sim[0] - stamp_lag
            odom.header.stamp = Time(sec=int(t), nanosec=int(t % 1 * 1e9))
            drv.pub_state.publish(odom)
            cmd = TwistStamped()
            cmd.header.stamp, cmd.header.frame_id = stamp, "base_link"
            cmd.twist.linear.x, cmd.twist.linear.y = 0.3, 0.1
            drv.pub_cmd.publish(cmd)
            time.sleep(0.02)
        return t0

    run(0.5)
    t0 = run(0.6)
    out = drv.outputs_since(t0)
    assert out and drv.decisions_since(t0)[-1][1].message == "pass"
    last = out[-1][1]
    assert (last.twist.linear.x, last.twist.linear.y) == (0.3, 0.1)
    assert last.header.frame_id == "base_link"
    stamp = last.header.stamp.sec + last.header.stamp.nanosec * 1e-9
    assert abs(stamp - sim[0]) < 1.0, f"output stamped {stamp}, sim time {sim[0]}"
    t1 = run(0.6, stamp_lag=1.0)                       # 1 s old in sim time (fresh on receipt)
    late = [d for t, d in drv.decisions_since(t1) if t - t1 > 0.2]
    assert late and {Driver.reason(d) for d in late} == {"state_stale"}, \
        {Driver.reason(d) for d in late}
    assert all(m.twist.linear.x == 0.0 for t, m in drv.outputs_since(t1) if t - t1 > 0.2)
    drv.close()
    node.stop()


# -- end to end -----------------------------------------------------------------------------------
def _drive_to_goal(tmp: Path, through_shield: bool, seconds: float = 6.0) -> list[float]:
    """sim bridge <-> (shield) <-> a goal-seeking commander that ignores the hazard in its path.
    Returns the sim's last ~/info: [t, cost, cumulative_cost, min_hazard_distance, goal_reached]."""
    import numpy as np
    import rclpy
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from rclpy.qos import qos_profile_sensor_data
    from std_msgs.msg import Float64MultiArray
    from harness import RELIABLE

    # Lockstep: the point of this test is the filter, not the OS scheduler of a loaded CI box.
    sim = NodeProcess("safe_shield.ros.sim_bridge", ["-p", "lockstep:=true"], tmp / f"sim_{through_shield}.log")
    shield = None
    cmd_topic = "/cmd_vel"
    if through_shield:
        cmd_topic = "/cmd_vel_in"
        # deadline 50 ms, not 5: on the shared 2-core CI machine a starved process misses 5 ms,
        # and this test is about the filter keeping the robot out of the hazard.
        shield = shield_process(tmp, "-p", "autostart:=true", "-p", "shield.deadline_s:=0.05",
                                name="e2e_shield",
                                remaps=("cmd_in:=cmd_vel_in", "cmd_out:=cmd_vel", "state:=odom"))
        assert shield.wait_log("active: filtering"), shield.text()
    if not rclpy.ok():
        rclpy.init()
    node = rclpy.create_node(f"commander_{int(through_shield)}")
    pub = node.create_publisher(Twist, cmd_topic, RELIABLE)
    odom, info = [], []
    goal = np.array([1.8, 0.0])

    def control(o: Odometry) -> None:
        # A controller loop at the odometry rate, straight at the goal through hazard0.
        odom.append(o)
        p = np.array([o.pose.pose.position.x, o.pose.pose.position.y])
        v = np.array([o.twist.twist.linear.x, o.twist.twist.linear.y])
        u = np.clip(1.5 * (goal - p) - 0.5 * v, -1, 1)
        msg = Twist()
        msg.linear.x, msg.linear.y = float(u[0]), float(u[1])
        pub.publish(msg)

    node.create_subscription(Odometry, "/odom", control, qos_profile_sensor_data)
    node.create_subscription(Float64MultiArray, "/sim_bridge/info", info.append, 10)
    from collections import Counter
    from diagnostic_msgs.msg import DiagnosticStatus
    decisions = Counter()
    node.create_subscription(DiagnosticStatus, "/safe_shield/state",
                             lambda m: decisions.update([Driver.reason(m)]), RELIABLE)
    end = time.monotonic() + 30.0
    while not odom and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    assert odom, "no odometry from the sim bridge"
    start_t = info[-1].data[0] if info else 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    last = list(info[-1].data)
    print(f"shield={through_shield} decisions={dict(decisions)} info={last}")
    node.destroy_node()
    for proc in (shield, sim):
        if proc is not None:
            proc.stop()
    assert last[0] - start_t > 0.5 * seconds, f"sim ran only {last[0] - start_t:.2f}s of {seconds}s"
    return last


@scenario
def end_to_end_sim_stays_safe(tmp: Path):
    """The same commander hits the hazard without the shield and never touches it with it."""
    bare = _drive_to_goal(tmp, through_shield=False)
    assert bare[2] > 0, f"control run should enter the hazard (info {bare})"
    shielded = _drive_to_goal(tmp, through_shield=True)
    assert shielded[2] == 0, f"shielded run entered a hazard (info {shielded})"
    print(json.dumps({"bare_cumulative_cost": bare[2], "shielded_cumulative_cost": shielded[2],
                      "shielded_min_hazard_distance": shielded[3]}))


def main() -> int:
    name, tmp = sys.argv[1], Path(sys.argv[2])
    tmp.mkdir(parents=True, exist_ok=True)
    t = time.monotonic()
    try:
        SCENARIOS[name](tmp)
    except Exception:
        traceback.print_exc()
        for log in sorted(tmp.glob("*.log")):
            print(f"--- {log.name} ---\n{log.read_text()[-3000:]}")
        print(json.dumps({"scenario": name, "ok": False}))
        return 1
    print(json.dumps({"scenario": name, "ok": True, "seconds": round(time.monotonic() - t, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
