#!/usr/bin/env bash
# One entry point for a fresh machine: creates/reuses .venv with the pinned stack, then runs
#   ./run.sh demo [args]   the main job: a simulated robot behind the shield (no ROS needed)
#   ./run.sh test [args]   the test suite (what .ci/run calls)
#   ./run.sh bench [args]  the benchmarks in bench/
set -euo pipefail
cd "$(dirname "$0")"
VENV="${SAFE_SHIELD_VENV:-.venv}"
PY="$(command -v python3.11 || command -v python3)"

# Re-install only when the pins or the package metadata change.
want="$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)"
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$want" ]; then
  echo "[run.sh] setting up $VENV (pinned: requirements.lock)" >&2
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  log="$VENV/install.log"
  if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check -r requirements.lock &&
         "$VENV/bin/python" -m pip install --disable-pip-version-check --no-deps --no-build-isolation -e . ; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2; echo "[run.sh] install failed; full log: $log" >&2; exit 1
  fi
  echo "$want" > "$VENV/.installed"
fi
export PYTHONUNBUFFERED=1
# Headless rendering: MuJoCo must pick EGL before it is imported (override by setting MUJOCO_GL).
export MUJOCO_GL="${MUJOCO_GL:-egl}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-${MUJOCO_GL:-egl}}"

cmd="${1:-demo}"; shift || true
case "$cmd" in
  demo)  exec "$VENV/bin/safe-shield-demo" "$@" ;;
  test)  exec "$VENV/bin/python" -m pytest "$@" ;;
  bench) exec "$VENV/bin/python" -m bench "$@" ;;
  *) echo "usage: ./run.sh {demo|test|bench} [args]" >&2; exit 2 ;;
esac
