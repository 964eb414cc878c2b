#!/usr/bin/env bash
# Jazzy job: the ROS tests (real node over DDS, Cyclone black box) on Jazzy's rclpy
# (ros-jazzy-rclpy[fastrtps]==7.1.6, in .venv-ros-jazzy) instead of Kilted's.
#   scripts/ros_jazzy_check.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
SAFE_SHIELD_ROS_DISTRO=jazzy exec ./run.sh test tests/ros -m ros "$@"
