"""The shield as a ROS 2 lifecycle node: ``cmd_in`` -> Shield -> ``cmd_out``, fail closed.

Lifecycle:
  configure  loads and verifies the bundle and every parameter; any problem fails the transition
             with one ``configure failed: ...`` log line and the node stays unconfigured.
  activate   starts answering commands and running the watchdog.
  deactivate / shutdown (and SIGINT/SIGTERM while active) publish the stop action a few times
             before going quiet, so the robot never keeps its last command.

Topics (relative names, remap freely):
  cmd_in  -> cmd_out   geometry_msgs/Twist | TwistStamped | std_msgs/Float64MultiArray |
                       trajectory_msgs/JointTrajectory (parameter ``command_type``), reliable
  state                nav_msgs/Odometry | sensor_msgs/JointState (``state_type``), sensor-data QoS
  estop                std_msgs/Bool, True = locked (only with ``use_estop``)
  ~/state              diagnostic_msgs/DiagnosticStatus per decision: message = outcome,
                       values = outcome, reason, certificate, compute_time_us
  /diagnostics         diagnostic_msgs/DiagnosticArray, every ``diagnostics_period_s``
Service: ~/enable (std_srvs/SetBool): disabled = stop.
"""

from __future__ import annotations

import gc
import math
import os
import signal
import sys
import time
from typing import Any

import numpy as np
import rclpy
import rclpy.executors
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.event_handler import PublisherEventCallbacks
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from safe_shield.ros.adapter import ActionAdapter, AdapterError, ObservationAdapter
from safe_shield.ros.background import BackgroundPreparer
from safe_shield.ros.supervisor import Supervisor, SupervisorConfig

COMMAND_TYPES = {
    "twist": Twist,
    "twist_stamped": TwistStamped,
    "float64_array": Float64MultiArray,
    "joint_trajectory": JointTrajectory,
}
STATE_TYPES = {"odometry": Odometry, "joint_state": JointState}

# Every parameter the node reads, with its default. Anything else (except ``shield.*``, which is
# handed to the core's ShieldConfig) fails configure: a typo must not silently keep a default.
PARAMETERS: dict[str, Any] = {
    "model": "",
    "autostart": False,
    "command_type": "twist",
    "state_type": "odometry",
    "observation": [""],
    "action": [""],
    "joint_names": [""],                  # joint_trajectory output when no command came yet
    "command_timeout_s": 0.25,
    "state_timeout_s": 0.2,
    "check_state_stamp": True,
    "stop_repeat_s": 2.0,
    "use_estop": False,
    "estop_timeout_s": 0.0,
    "recovery_s": 0.2,
    "watchdog_rate_hz": 50.0,
    "stop_publish_count": 3,              # stops published on deactivate/shutdown
    "diagnostics_period_s": 1.0,
    "qos_depth": 10,
    "prepare_in_background": True,        # per-state filter work on its own thread (background.py)
}

RELIABLE = ReliabilityPolicy.RELIABLE


def _stamp_s(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class ShieldNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__("safe_shield", automatically_declare_parameters_from_overrides=True,
                         **kwargs)
        for name, default in PARAMETERS.items():
            if not self.has_parameter(name):
                self.declare_parameter(name, default)
        self.sup: Supervisor | None = None
        self._preparer: BackgroundPreparer | None = None
        self._active = False
        self._entities: list[Any] = []
        self._last_cmd_msg = self._out_msg = None
        self._clock = self.get_clock()
        self._now = self._ros_now

    # -- lifecycle ----------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except Exception as e:  # every refusal becomes one clear line, then FAILURE
            self.get_logger().error(f"configure failed: {e}")
            self._destroy_entities()
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(
            f"configured: bundle {self.p['model']} ({self.shield.observation.size} obs -> "
            f"{self.shield.action.size} act), {self.p['command_type']} / {self.p['state_type']}")
        return TransitionCallbackReturn.SUCCESS

    def _configure(self) -> None:
        from safe_shield.shield import Shield   # core import here: configure reports its errors

        known = set(PARAMETERS) | {"use_sim_time", "start_type_description_service"}
        params = self._parameters
        unknown = [n for n in params if n not in known and not n.startswith(("shield.", "qos_overrides."))]
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)}")
        p = {n: self.get_parameter(n).value for n in PARAMETERS}
        self.p = p
        if not p["model"]:
            raise ValueError("parameter 'model' (bundle folder) is required")
        if p["command_type"] not in COMMAND_TYPES:
            raise ValueError(f"command_type {p['command_type']!r} not in {sorted(COMMAND_TYPES)}")
        if p["state_type"] not in STATE_TYPES:
            raise ValueError(f"state_type {p['state_type']!r} not in {sorted(STATE_TYPES)}")
        for name in ("command_timeout_s", "state_timeout_s", "watchdog_rate_hz",
                     "diagnostics_period_s"):
            if not (isinstance(p[name], (int, float)) and math.isfinite(p[name]) and p[name] > 0):
                raise ValueError(f"parameter {name} must be a positive number, got {p[name]!r}")
        shield_cfg: dict = {}     # shield.filter.k: v -> {"filter": {"k": v}} (ROS has no maps)
        for n in params:
            if n.startswith("shield."):
                *parents, leaf = n.split(".")[1:]
                d = shield_cfg
                for key in parents:
                    d = d.setdefault(key, {})
                d[leaf] = self.get_parameter(n).value
        self.shield = Shield.from_bundle(p["model"], config=shield_cfg or None)
        # Without sim time, ROS time is the system clock: time.time reads it without rclpy's Time
        # object (measured ~5 µs hot, ~35 µs cold per command). Fixed while configured; flipping
        # use_sim_time later makes stamps and clock disagree, which the staleness check stops.
        self._now = self._ros_now if self.get_parameter("use_sim_time").value else time.time
        self.obs_adapter = ObservationAdapter([e for e in p["observation"] if e],
                                              self.shield.observation.names)
        self.act_adapter = ActionAdapter([e for e in p["action"] if e], self.shield.action.names)
        self._read_action = self.act_adapter.read
        self.sup = Supervisor(self.shield, SupervisorConfig(
            command_timeout_s=p["command_timeout_s"], state_timeout_s=p["state_timeout_s"],
            stop_repeat_s=p["stop_repeat_s"], estop_timeout_s=p["estop_timeout_s"],
            use_estop=p["use_estop"], recovery_s=p["recovery_s"],
            check_state_stamp=p["check_state_stamp"]), start_mono=time.monotonic())
        if p["prepare_in_background"]:
            self._preparer = BackgroundPreparer(self.sup.commit_state)
            self.sup.ingest = self._preparer.submit
            # A command callback that finds the preparer in Python code waits for the GIL; bound
            # that wait to 0.2 ms instead of CPython's 5-ms default switch interval.
            sys.setswitchinterval(min(sys.getswitchinterval(), 2e-4))

        self.cmd_type = COMMAND_TYPES[p["command_type"]]
        self._last_cmd_msg = self._out_msg = None
        try:        # the mapping must fit the command type: fail here, not on the first stop
            msg = self._command_msg(np.zeros(self.shield.action.size))
        except (AttributeError, IndexError, TypeError, ValueError) as e:
            raise ValueError(f"action mapping does not fit {p['command_type']}: {e}") from None
        if self.cmd_type in (Twist, Float64MultiArray):
            self._out_msg = msg     # reused: publish serialises at the call
        self._prepare_state_record()
        cmd_qos = QoSProfile(depth=p["qos_depth"], reliability=RELIABLE,
                             history=HistoryPolicy.KEEP_LAST)
        self.pub_cmd = self.create_publisher(self.cmd_type, "cmd_out", cmd_qos)
        # ~/state is one record per decision; with nobody listening, building and handing it to
        # DDS is wasted time on the command path. The matched event keeps a listener count
        # (promptly), and each diagnostics period re-reads it (in case an event is lost).
        self.pub_state = self.create_publisher(
            DiagnosticStatus, "~/state", cmd_qos,
            event_callbacks=PublisherEventCallbacks(matched=self._on_state_matched))
        self._state_listeners = self.pub_state.get_subscription_count()
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", cmd_qos)
        subs = [
            self.create_subscription(self.cmd_type, "cmd_in", self._on_command, cmd_qos),
            self.create_subscription(STATE_TYPES[p["state_type"]], "state", self._on_state,
                                     qos_profile_sensor_data),
        ]
        if p["use_estop"]:
            subs.append(self.create_subscription(Bool, "estop", self._on_estop,
                                                 QoSProfile(depth=1, reliability=RELIABLE)))
        self._entities = [self.pub_cmd, self.pub_state, self.pub_diag, *subs,
                          self.create_service(SetBool, "~/enable", self._on_enable),
                          self.create_timer(1.0 / p["watchdog_rate_hz"], self._on_tick),
                          self.create_timer(p["diagnostics_period_s"], self._on_diagnostics)]

    def _on_state_matched(self, info) -> None:
        self._state_listeners = info.current_count

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        # Everything built so far lives until cleanup: freezing it keeps the garbage collector's
        # passes, which can land on any command, down to the few objects made per decision.
        gc.collect()
        gc.freeze()
        self._active = True
        self.get_logger().info("active: filtering cmd_in -> cmd_out")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_and_go_quiet("deactivate")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._destroy_entities()
        self.sup = None
        gc.unfreeze()           # the old bundle's objects may be collected again
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._active:
            self._stop_and_go_quiet("shutdown")
        self._destroy_entities()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._active:
            self._stop_and_go_quiet("error")
        return TransitionCallbackReturn.SUCCESS

    def _stop_and_go_quiet(self, why: str) -> None:
        if self.sup is not None:
            mono = time.monotonic()
            for _ in range(max(1, self.p["stop_publish_count"])):
                self._publish(*self.sup.stop(why, mono))
        self._active = False
        self.get_logger().info(f"{why}: published stop, now quiet")

    def _destroy_entities(self) -> None:
        if self._preparer is not None:
            self._preparer.close()
            self._preparer = None
        for e in self._entities:
            for destroy in (self.destroy_timer, self.destroy_subscription, self.destroy_service,
                            self.destroy_publisher):
                if destroy(e):      # each destroy_* returns False for an entity not its kind
                    break
        self._entities = []

    # -- callbacks ----------------------------------------------------------------------------
    def _ros_now(self) -> float:
        """The node's ROS time in seconds (sim time when use_sim_time)."""
        return self._clock.now().nanoseconds * 1e-9

    def _on_state(self, msg) -> None:
        if self.sup is None:
            return
        try:
            obs = self.obs_adapter(msg)
        except AdapterError as e:
            self.get_logger().warn(f"state rejected: {e}", throttle_duration_sec=1.0)
            obs = None
        self.sup.on_state(obs, _stamp_s(msg.header.stamp), time.monotonic())

    def _on_command(self, msg) -> None:
        # The hot path: no logging, no parameter lookups, no new messages (see _publish).
        if not self._active:
            return
        self._last_cmd_msg = msg
        try:
            u_cmd = self._read_action(msg)
        except AdapterError:
            u_cmd = None
        self._publish(*self.sup.on_command(u_cmd, self._now(), time.monotonic()))

    def _on_estop(self, msg: Bool) -> None:
        if self.sup is not None:
            self.sup.on_estop(msg.data, time.monotonic())

    def _on_enable(self, req: SetBool.Request, resp: SetBool.Response) -> SetBool.Response:
        if self.sup is None:
            resp.success, resp.message = False, "not configured"
            return resp
        self.sup.set_enabled(req.data)
        resp.success, resp.message = True, "enabled" if req.data else "disabled: publishing stop"
        self.get_logger().info(resp.message)
        return resp

    def _on_tick(self) -> None:
        if not self._active:
            return
        out = self.sup.tick(self._now(), time.monotonic())
        if out is not None:
            self._publish(*out)

    # -- output -------------------------------------------------------------------------------
    def _command_msg(self, u: np.ndarray):
        """The command message carrying ``u``. Fields the bundle does not cover stay zero:
        passing them through unfiltered would let uncertified motion by the shield.
        Twist and Float64MultiArray reuse one preallocated message (``_out_msg``); stamped and
        trajectory outputs are built per command."""
        if self._out_msg is not None:
            return self.act_adapter.write(self._out_msg, u)
        src, out = self._last_cmd_msg, self.cmd_type()
        if isinstance(out, (TwistStamped, JointTrajectory)):
            out.header.stamp = self._clock.now().to_msg()
        if isinstance(out, TwistStamped):
            out.header.frame_id = src.header.frame_id if src is not None else ""
        elif isinstance(out, JointTrajectory):
            if src is not None and src.points:
                out.joint_names = src.joint_names
                out.points = [JointTrajectoryPoint(time_from_start=src.points[0].time_from_start)]
            else:
                out.joint_names = [j for j in self.p["joint_names"] if j]
                out.points = [JointTrajectoryPoint()]
        return self.act_adapter.write(out, u)

    _LEVELS = {"pass": DiagnosticStatus.OK, "modified": DiagnosticStatus.OK,
               "fallback": DiagnosticStatus.WARN, "stop": DiagnosticStatus.ERROR}

    def _prepare_state_record(self) -> None:
        """One ~/state message, reused: each decision only overwrites its values."""
        self._kv = [KeyValue(key=k) for k in ("outcome", "reason", "certificate",
                                              "compute_time_us")]
        self._st = DiagnosticStatus(name=self.get_fully_qualified_name(),
                                    hardware_id="safe_shield", values=self._kv)
        self._kv = self._st.values          # the message's own list, mutated in place

    def _publish(self, u: np.ndarray, decision) -> None:
        self.pub_cmd.publish(self._command_msg(u))
        if not self._state_listeners:
            return
        st, kv, outcome = self._st, self._kv, decision.outcome.value
        st.level, st.message = self._LEVELS[outcome], outcome
        kv[0].value, kv[1].value = outcome, str(decision.reason)
        kv[2].value = repr(float(decision.certificate))
        kv[3].value = f"{decision.compute_time_s * 1e6:.1f}"
        self.pub_state.publish(st)

    def _on_diagnostics(self) -> None:
        if self.sup is None:
            return
        self._state_listeners = self.pub_state.get_subscription_count()   # in case an event is lost
        mono, now = time.monotonic(), self._now()
        stats = self.sup.stats(now, mono)
        if self._preparer is not None:
            stats["prepare_failures"] = self._preparer.failures
        reason = self.sup.hard_stop_reason(now, mono)
        healthy = self._active and reason is None
        st = DiagnosticStatus(name=f"safe_shield: {self.get_fully_qualified_name()}",
                              hardware_id="safe_shield")
        if not self._active:
            st.level, st.message = DiagnosticStatus.WARN, "inactive"
        elif healthy:
            st.level, st.message = DiagnosticStatus.OK, "filtering"
        else:
            st.level = DiagnosticStatus.ERROR
            st.message = f"stopping: {reason}"
        st.values = [KeyValue(key=k, value=f"{v:.6g}" if isinstance(v, float) else str(v))
                     for k, v in stats.items()]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)


def _make_executor():
    """rclpy's EventsExecutor (C++ event queue) where available: the Python executor rebuilds its
    wait set on every message and cannot keep up with kHz command streams on a small CPU.
    SAFE_SHIELD_EXECUTOR=single selects the classic SingleThreadedExecutor."""
    if os.environ.get("SAFE_SHIELD_EXECUTOR", "events") == "events":
        try:
            from rclpy.experimental import EventsExecutor
            return EventsExecutor()
        except ImportError:
            pass
    return rclpy.executors.SingleThreadedExecutor()


class _Terminate(Exception):
    pass


def main(args: list[str] | None = None) -> int:
    """Entry point ``safe_shield_node``. With ``-p autostart:=true`` the node configures and
    activates itself (what the launch file asks for); otherwise a lifecycle manager drives it."""
    # Own signal handling: on SIGINT/SIGTERM the node must still publish its stop before the
    # context goes away, which rclpy's default handler would shut down first.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)

    def _raise(signum, frame):
        raise _Terminate()
    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGINT, _raise)

    node = ShieldNode()
    rc = 0
    try:
        if node.get_parameter("autostart").value:
            if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                node.trigger_activate()
        executor = _make_executor()
        executor.add_node(node)
        while True:    # a bounded wait, so SIGINT/SIGTERM are seen even with nothing to do
            executor.spin_once(timeout_sec=0.1)
    except _Terminate:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if node._active:
            node._stop_and_go_quiet("terminate")
            # Give reliable writers a moment to deliver the stop before the process exits.
            end = time.monotonic() + 0.2
            while time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.02)
        node.destroy_node()
        rclpy.try_shutdown()
    return rc


if __name__ == "__main__":
    sys.exit(main())
