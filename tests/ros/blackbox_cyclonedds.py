"""Black-box wire test: drive the shield node (rclpy + Fast DDS) from Cyclone DDS, no rclpy here.

Message types are declared from the ROS wire names (``<pkg>::msg::dds_::<Msg>_``, topics
``rt/<name>``), so passing proves the node's command path speaks plain DDS/RTPS that a second
implementation understands - what a non-ROS controller or a different middleware would see.

Known limit (measured here): Cyclone 11.0.1 (Python) never matches the Fast DDS endpoints of
types containing strings (nav_msgs/Odometry, diagnostic_msgs/DiagnosticStatus): Cyclone logs
"invalid type object" for Fast DDS's XTypes type objects. So the odometry comes from the real sim
bridge (rclpy, its own process) and this process checks the command path: Twist in -> Twist out,
and the stop the shield publishes on its own when commands cease.

    tests/ros/netns.sh <domain> .venv-ros/bin/python tests/ros/blackbox_cyclonedds.py <tmpdir>
"""


import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cyclonedds.core import Qos, Policy
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import array, float64, int32, sequence, uint8, uint32
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Time_(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32 = 0
    nanosec: uint32 = 0


@dataclass
class Header_(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time_ = field(default_factory=Time_)
    frame_id: str = ""


@dataclass
class Vector3_(IdlStruct, typename="geometry_msgs::msg::dds_::Vector3_"):
    x: float64 = 0.0
    y: float64 = 0.0
    z: float64 = 0.0


@dataclass
class Point_(IdlStruct, typename="geometry_msgs::msg::dds_::Point_"):
    x: float64 = 0.0
    y: float64 = 0.0
    z: float64 = 0.0


@dataclass
class Quaternion_(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    x: float64 = 0.0
    y: float64 = 0.0
    z: float64 = 0.0
    w: float64 = 1.0


@dataclass
class Twist_(IdlStruct, typename="geometry_msgs::msg::dds_::Twist_"):
    linear: Vector3_ = field(default_factory=Vector3_)
    angular: Vector3_ = field(default_factory=Vector3_)


@dataclass
class Pose_(IdlStruct, typename="geometry_msgs::msg::dds_::Pose_"):
    position: Point_ = field(default_factory=Point_)
    orientation: Quaternion_ = field(default_factory=Quaternion_)


@dataclass
class PoseWithCovariance_(IdlStruct, typename="geometry_msgs::msg::dds_::PoseWithCovariance_"):
    pose: Pose_ = field(default_factory=Pose_)
    covariance: array[float64, 36] = field(default_factory=lambda: [0.0] * 36)


@dataclass
class TwistWithCovariance_(IdlStruct, typename="geometry_msgs::msg::dds_::TwistWithCovariance_"):
    twist: Twist_ = field(default_factory=Twist_)
    covariance: array[float64, 36] = field(default_factory=lambda: [0.0] * 36)


@dataclass
class Odometry_(IdlStruct, typename="nav_msgs::msg::dds_::Odometry_"):
    header: Header_ = field(default_factory=Header_)
    child_frame_id: str = ""
    pose: PoseWithCovariance_ = field(default_factory=PoseWithCovariance_)
    twist: TwistWithCovariance_ = field(default_factory=TwistWithCovariance_)


@dataclass
class KeyValue_(IdlStruct, typename="diagnostic_msgs::msg::dds_::KeyValue_"):
    key: str = ""
    value: str = ""


@dataclass
class DiagnosticStatus_(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticStatus_"):
    level: uint8 = 0
    name: str = ""
    message: str = ""
    hardware_id: str = ""
    values: sequence[KeyValue_] = field(default_factory=list)


def odom(x: float, vx: float) -> Odometry_:
    t = time.time()
    m = Odometry_()
    m.header.stamp = Time_(sec=int(t), nanosec=int((t % 1) * 1e9))
    m.pose.pose.position.x = x
    m.twist.twist.linear.x = vx
    return m


def main() -> int:
    tmp = Path(sys.argv[1])
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    py = sys.executable                   # the same venv (Kilted or Jazzy) for node and sim
    log = open(tmp / "shield.log", "w")
    node = subprocess.Popen(
        [py, "-m", "safe_shield.ros.node", "--ros-args",
         "--params-file", str(REPO / "config" / "shield_node.yaml"),
         "-p", f"model:={REPO / 'models' / 'point_hazards_ssa'}", "-p", "autostart:=true",
         "-p", "command_timeout_s:=0.2", "-p", "stop_repeat_s:=1.0", "-r", "state:=odom"],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    sim = subprocess.Popen([py, "-m", "safe_shield.ros.sim_bridge"], cwd=REPO, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = {"ok": False}
    try:
        dp = DomainParticipant(int(os.environ["ROS_DOMAIN_ID"]))
        # ROS 2 speaks plain CDR (XCDR1).
        reliable = Qos(Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100)),
                       Policy.History.KeepLast(10),
                       Policy.DataRepresentation(use_cdrv0_representation=True))
        w_cmd = DataWriter(dp, Topic(dp, "rt/cmd_in", Twist_), qos=reliable)
        r_out = DataReader(dp, Topic(dp, "rt/cmd_out", Twist_), qos=reliable)
        end = time.monotonic() + 30
        while time.monotonic() < end and not (
                w_cmd.get_matched_subscriptions() and r_out.get_matched_publications()):
            time.sleep(0.05)
        assert w_cmd.get_matched_subscriptions() and r_out.get_matched_publications(), \
            "Cyclone endpoints never matched the shield's"
        time.sleep(1.0)                       # the sim's odometry reaches the shield
        r_out.take(N=1000)                    # start-up stops (no command yet) are not counted

        outs = []
        for _ in range(25):                   # robot at the start, far from every hazard
            cmd = Twist_()
            cmd.linear.x, cmd.linear.y = 0.4, 0.1
            w_cmd.write(cmd)
            time.sleep(0.02)
            outs += r_out.take(N=100)
        outs += r_out.take(N=100)
        assert len(outs) >= 20, f"{len(outs)} outputs for 25 commands"
        assert (outs[-1].linear.x, outs[-1].linear.y) == (0.4, 0.1), outs[-1]
        t0 = time.monotonic()                 # commands cease: the shield must publish stops
        stops = []
        while time.monotonic() - t0 < 1.0:
            stops += [(time.monotonic() - t0, m) for m in r_out.take(N=100)]
            time.sleep(0.01)
        zero = [t for t, m in stops if m.linear.x == 0.0 and m.linear.y == 0.0]
        assert len(zero) >= 10 and zero[0] < 0.5, f"stops after the timeout: {zero[:3]}"
        result = {"ok": True, "passed": len(outs), "stops_in_1s": len(zero),
                  "first_stop_s": round(zero[0], 3)}
    except AssertionError as e:
        result = {"ok": False, "error": str(e)}
    finally:
        for proc in (node, sim):
            proc.send_signal(2)
            proc.wait(10)
        log.close()
    print(json.dumps(result))
    if not result["ok"]:
        print((tmp / "shield.log").read_text()[-3000:])
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
