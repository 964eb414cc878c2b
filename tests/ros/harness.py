"""Test-side ROS plumbing (runs in .venv-ros, inside the private network namespace).

``NodeProcess`` starts a real node process (the shield, the sim bridge); ``Driver`` is an rclpy
node in the test process that publishes commands/state/e-stop, records everything the shield
publishes (with receipt times) and calls its lifecycle and enable services.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from std_msgs.msg import Bool
from std_srvs.srv import SetBool

REPO = Path(__file__).resolve().parents[2]
PARAMS = REPO / "config" / "shield_node.yaml"
MODEL = REPO / "models" / "point_hazards_ssa"
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
ENV = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}", "PYTHONUNBUFFERED": "1"}


class NodeProcess:
    """A node in its own process; its log goes to a file we can assert on."""

    def __init__(self, module: str, ros_args: list[str], log: Path, cmd: list[str] | None = None):
        self.log = log
        self.cmd = cmd or [sys.executable, "-m", module, "--ros-args", *ros_args]
        self._f = open(log, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self._f, stderr=subprocess.STDOUT,
                                     cwd=REPO, env=ENV)

    def text(self) -> str:
        self._f.flush()
        return self.log.read_text()

    def wait_log(self, needle: str, timeout: float = 15.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.text():
                return True
            if self.proc.poll() is not None:
                return needle in self.text()
            time.sleep(0.05)
        return False

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._f.close()
        return self.proc.returncode


def shield_process(tmp: Path, *extra: str, params: Path = PARAMS, name: str = "shield",
                   remaps: tuple[str, ...] = ()) -> NodeProcess:
    args = ["--params-file", str(params), "-p", f"model:={MODEL}", *extra]
    for r in remaps:
        args += ["-r", r]
    return NodeProcess("safe_shield.ros.node", args, tmp / f"{name}.log")


class Driver:
    """Talks to the shield (node name ``safe_shield`` under ``ns``) like a robot stack would."""

    def __init__(self, ns: str = "", cmd_type=Twist, state_type=Odometry,
                 cmd_in: str = "cmd_in", cmd_out: str = "cmd_out", state: str = "state"):
        if not rclpy.ok():
            rclpy.init()
        p = f"/{ns.strip('/')}" if ns.strip("/") else ""
        self.node = rclpy.create_node("test_driver")
        n = self.node
        self.out: list[tuple[float, object]] = []          # (monotonic receipt, msg)
        self.decisions: list[tuple[float, DiagnosticStatus]] = []
        self.diagnostics: list[tuple[float, DiagnosticArray]] = []
        self.lock = threading.Lock()
        self.pub_cmd = n.create_publisher(cmd_type, f"{p}/{cmd_in}", RELIABLE)
        self.pub_state = n.create_publisher(state_type, f"{p}/{state}", qos_profile_sensor_data)
        self.pub_estop = n.create_publisher(Bool, f"{p}/estop", QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        n.create_subscription(cmd_type, f"{p}/{cmd_out}", self._rec(self.out), RELIABLE)
        n.create_subscription(DiagnosticStatus, f"{p}/safe_shield/state", self._rec(self.decisions), RELIABLE)
        n.create_subscription(DiagnosticArray, "/diagnostics", self._rec(self.diagnostics), RELIABLE)
        self.cli_change = n.create_client(ChangeState, f"{p}/safe_shield/change_state")
        self.cli_get = n.create_client(GetState, f"{p}/safe_shield/get_state")
        self.cli_enable = n.create_client(SetBool, f"{p}/safe_shield/enable")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(n)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def _rec(self, sink):
        def cb(msg):
            with self.lock:
                sink.append((time.monotonic(), msg))
        return cb

    def close(self) -> None:
        self.executor.shutdown()
        self._thread.join(timeout=5.0)   # never tear the node down under a spinning thread
        self.node.destroy_node()
        rclpy.try_shutdown()

    # -- services -------------------------------------------------------------------------------
    def _call(self, client, request, timeout=10.0):
        assert client.wait_for_service(timeout_sec=timeout), f"service {client.srv_name} not found"
        fut = client.call_async(request)
        end = time.monotonic() + timeout
        while not fut.done() and time.monotonic() < end:
            time.sleep(0.01)
        assert fut.done(), f"service {client.srv_name} did not answer"
        return fut.result()

    def lifecycle(self, transition_id: int) -> bool:
        req = ChangeState.Request()
        req.transition.id = transition_id
        return self._call(self.cli_change, req).success

    def configure(self) -> bool:
        return self.lifecycle(Transition.TRANSITION_CONFIGURE)

    def activate(self) -> bool:
        return self.lifecycle(Transition.TRANSITION_ACTIVATE)

    def deactivate(self) -> bool:
        return self.lifecycle(Transition.TRANSITION_DEACTIVATE)

    def get_state(self) -> str:
        return self._call(self.cli_get, GetState.Request()).current_state.label

    def enable(self, on: bool) -> bool:
        return self._call(self.cli_enable, SetBool.Request(data=on)).success

    # -- traffic --------------------------------------------------------------------------------
    def odom(self, x=-1.8, y=0.0, vx=0.0, vy=0.0, stamp_age: float = 0.0) -> Odometry:
        m = Odometry()
        t = self.node.get_clock().now().nanoseconds * 1e-9 - stamp_age
        m.header.stamp.sec, m.header.stamp.nanosec = int(t), int((t % 1) * 1e9)
        m.pose.pose.position.x, m.pose.pose.position.y = float(x), float(y)
        m.pose.pose.orientation.w = 1.0
        m.twist.twist.linear.x, m.twist.twist.linear.y = float(vx), float(vy)
        return m

    @staticmethod
    def twist(fx: float, fy: float = 0.0) -> Twist:
        m = Twist()
        m.linear.x, m.linear.y = float(fx), float(fy)
        return m

    def wait_matched(self, timeout: float = 15.0) -> None:
        """Wait until the shield's endpoints are discovered (commands sent before are lost)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if (self.pub_cmd.get_subscription_count() > 0 and
                    self.pub_state.get_subscription_count() > 0):
                return
            time.sleep(0.05)
        raise AssertionError("shield endpoints not discovered")

    def stream(self, seconds: float, rate_hz: float = 50.0, cmd=None, state_kw=None,
               send_state: bool = True, send_cmd: bool = True, estop: bool | None = None) -> None:
        """Publish state (and command) at ``rate_hz`` for ``seconds``."""
        period = 1.0 / rate_hz
        end = time.monotonic() + seconds
        nxt = time.monotonic()
        while nxt < end:
            if send_state:
                self.pub_state.publish(self.odom(**(state_kw or {})))
            if estop is not None:
                self.pub_estop.publish(Bool(data=estop))
            if send_cmd:
                self.pub_cmd.publish(cmd if cmd is not None else self.twist(0.3))
            nxt += period
            time.sleep(max(0.0, nxt - time.monotonic()))

    def outputs_since(self, t0: float) -> list[tuple[float, object]]:
        with self.lock:
            return [(t, m) for t, m in self.out if t >= t0]

    def decisions_since(self, t0: float) -> list[tuple[float, DiagnosticStatus]]:
        with self.lock:
            return [(t, m) for t, m in self.decisions if t >= t0]

    @staticmethod
    def reason(status: DiagnosticStatus) -> str:
        return {kv.key: kv.value for kv in status.values}["reason"]


def is_zero(tw: Twist) -> bool:
    return all(abs(v) < 1e-12 for v in (tw.linear.x, tw.linear.y, tw.linear.z,
                                        tw.angular.x, tw.angular.y, tw.angular.z))


def finite(x: float) -> bool:
    return math.isfinite(x)
