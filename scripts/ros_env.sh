#!/usr/bin/env bash
# Creates/reuses .venv-ros: real rclpy (Kilted, from PyPI) + the message packages + the shield core's
# runtime deps. Its own venv because the ros-* wheels re-exec Python at start-up to set library paths.
#   scripts/ros_env.sh            -> .venv-ros  (Kilted, the default)
#   scripts/ros_env.sh jazzy      -> .venv-ros-jazzy
# Idempotent: re-installs only when this file or requirements.lock changes. Prints the venv path.
set -euo pipefail
cd "$(dirname "$0")/.."
distro="${1:-kilted}"
PY="$(command -v python3.11 || command -v python3)"

case "$distro" in
  kilted)
    VENV="${SAFE_SHIELD_ROS_VENV:-.venv-ros}"
    ros_pkgs=(
      "ros-rclpy[fastrtps]==9.1.2"
      ros-geometry-msgs==5.5.1 ros-sensor-msgs==5.5.1 ros-nav-msgs==5.5.1
      ros-trajectory-msgs==5.5.1 ros-diagnostic-msgs==5.5.1 ros-std-msgs==5.5.1
      ros-std-srvs==5.5.1 ros-lifecycle-msgs==2.3.0
    ) ;;
  jazzy)
    VENV="${SAFE_SHIELD_ROS_VENV:-.venv-ros-jazzy}"
    ros_pkgs=(
      "ros-jazzy-rclpy[fastrtps]==7.1.6"
      ros-jazzy-geometry-msgs==5.3.6 ros-jazzy-sensor-msgs==5.3.6 ros-jazzy-nav-msgs==5.3.6
      ros-jazzy-trajectory-msgs==5.3.6 ros-jazzy-diagnostic-msgs==5.3.6 ros-jazzy-std-msgs==5.3.6
      ros-jazzy-std-srvs==5.3.6 ros-jazzy-lifecycle-msgs==2.0.3
    ) ;;
  *) echo "usage: $0 [kilted|jazzy]" >&2; exit 2 ;;
esac

# Core runtime deps at the exact versions of requirements.lock (no torch: the node only runs ONNX).
core_pins=()
for p in numpy numba llvmlite onnx onnxruntime daqp PyYAML gymnasium mujoco mujoco-core cloudpickle \
         Farama-Notifications typing_extensions protobuf ml_dtypes flatbuffers packaging \
         sympy mpmath coloredlogs humanfriendly glfw PyOpenGL pytest iniconfig pluggy Pygments; do
  line="$(grep -i "^$p==" requirements.lock || true)"
  [ -n "$line" ] && core_pins+=("$line")
done

want="$(cat "$0" requirements.lock | sha256sum | cut -c1-16)-$distro"
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$want" ]; then
  echo "[ros_env] setting up $VENV ($distro)" >&2
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
      "${ros_pkgs[@]}" "${core_pins[@]}" cyclonedds==11.0.1 2>&1 \
      | { grep -v "^WARNING: Location" || true; } >&2   # this machine's local-index noise
  echo "$want" > "$VENV/.installed"
fi
echo "$VENV"
