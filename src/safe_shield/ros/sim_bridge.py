"""A simulated robot on ROS topics: the MuJoCo point robot (sim/point_robot.py) as a mobile base.

Subscribes ``cmd_vel`` (geometry_msgs/Twist, linear.x/y = normalised force fx/fy), steps the
simulation every dt (0.02 s) with the latest command, and publishes ``odom`` (nav_msgs/Odometry,
sensor-data QoS, stamped) and ``~/info`` (std_msgs/Float64MultiArray:
[sim_time, cost, cumulative_cost, min_hazard_distance, goal_reached]).

Like a real base, it applies zero force when no command arrived for ``command_timeout_s``, so the
end-to-end tests measure what the shield publishes, not the bridge's own caution. Hazards, goal
and start are parameters (the same numbers as config/shield_node.yaml), so shield and sim agree
on the map through configuration.
"""

from __future__ import annotations

import signal
import sys
import time

import numpy as np
import rclpy
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from std_msgs.msg import Float64MultiArray

DEFAULT_HAZARDS = [0.0, 0.0, 0.0, 1.2, 0.0, -1.2, 1.0, 0.6, 1.0, -0.6, -1.0, 1.4]


class PointRobotBridge(Node):
    def __init__(self):
        super().__init__("sim_bridge")
        from sim.point_robot import PointHazardsEnv   # MuJoCo import only in the bridge

        hazards = self.declare_parameter("hazards", DEFAULT_HAZARDS).value
        goal = self.declare_parameter("goal", [1.8, 0.0]).value
        start = self.declare_parameter("start", [-1.8, 0.0]).value
        self.cmd_timeout = self.declare_parameter("command_timeout_s", 0.5).value
        # lockstep: advance one control period only once a command sent after the last odometry
        # has arrived (or the command timeout passed), so the loop sees no scheduling delay.
        # The certificates are one-step, discrete-time: this is how they are tested end to end
        # on a loaded machine. Default off: real time, as on a robot.
        self.lockstep = bool(self.declare_parameter("lockstep", False).value)
        self.env = PointHazardsEnv()
        self.env.reset(seed=0, options={"hazards": hazards, "goal": goal, "start": start})
        self.dt = self.env.params.dt
        self.u = np.zeros(2)
        self.u_mono = -np.inf
        self.cum_cost = 0.0
        self.t = 0.0
        self.create_subscription(Twist, "cmd_vel", self._on_cmd,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.pub_odom = self.create_publisher(Odometry, "odom", qos_profile_sensor_data)
        self.pub_info = self.create_publisher(Float64MultiArray, "~/info", 10)
        self.published_mono = -np.inf
        if self.lockstep:
            self.create_timer(0.001, self._lockstep_poll)
        else:
            self.create_timer(self.dt, self._step)

    def _on_cmd(self, msg: Twist) -> None:
        self.u = np.array([msg.linear.x, msg.linear.y])
        self.u_mono = time.monotonic()

    def _lockstep_poll(self) -> None:
        now = time.monotonic()
        if self.u_mono > self.published_mono or now - self.published_mono > self.cmd_timeout:
            self._step()

    def _step(self) -> None:
        fresh = time.monotonic() - self.u_mono <= self.cmd_timeout and np.all(np.isfinite(self.u))
        fresh = fresh and (not self.lockstep or self.u_mono > self.published_mono)
        _, _, _, _, info = self.env.step(self.u if fresh else np.zeros(2))
        self.t += self.dt
        self.cum_cost += info["cost"]
        qpos, qvel = self.env.data.qpos, self.env.data.qvel
        odom = Odometry()
        odom.header.stamp = self.get_clock().now().to_msg()
        odom.header.frame_id, odom.child_frame_id = "odom", "base_link"
        odom.pose.pose.position.x, odom.pose.pose.position.y = float(qpos[0]), float(qpos[1])
        odom.pose.pose.orientation.w = 1.0
        odom.twist.twist.linear.x, odom.twist.twist.linear.y = float(qvel[0]), float(qvel[1])
        self.pub_odom.publish(odom)
        goal_reached = float(np.linalg.norm(qpos - self.env.goal) < self.env.params.goal_radius)
        self.pub_info.publish(Float64MultiArray(data=[
            self.t, info["cost"], self.cum_cost, float(info["hazard_d"].min()), goal_reached]))
        self.published_mono = time.monotonic()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    signal.signal(signal.SIGTERM, lambda *_: rclpy.try_shutdown())
    node = PointRobotBridge()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
