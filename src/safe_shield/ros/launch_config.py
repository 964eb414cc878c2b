"""What ``launch/shield.launch.py`` starts, computed here so it can be tested without ``launch``.

``launch``/``launch_ros`` are not pip-installable, so the launch file stays a thin shell around
:func:`shield_node_spec`; CI calls the same function and starts the node with
:meth:`NodeSpec.command` - the command line launch_ros builds from the same fields.
No rclpy import here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "safe_shield"
EXECUTABLE = "safe_shield_node"
NODE_NAME = "safe_shield"


def _share_dir() -> Path:
    """The repository root in a checkout; the package's share/ directory in a colcon install."""
    repo = Path(__file__).resolve().parents[3]
    if (repo / "config" / "shield_node.yaml").is_file():
        return repo
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory(PACKAGE))


SHARE = _share_dir()
DEFAULT_PARAMS = SHARE / "config" / "shield_node.yaml"
DEFAULT_MODEL = SHARE / "models" / "point_hazards_ssa"

# Topic names inside the node -> names on a typical mobile base. Override per robot.
DEFAULT_REMAPS = {"cmd_in": "cmd_vel_in", "cmd_out": "cmd_vel", "state": "odom"}


@dataclass
class NodeSpec:
    package: str
    executable: str
    name: str
    namespace: str
    params_file: str
    parameters: dict            # overrides applied after the params file
    remappings: dict[str, str] = field(default_factory=dict)

    def ros_args(self) -> list[str]:
        """``--ros-args`` as launch_ros passes them: node name, namespace, params, remaps."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        if self.namespace:
            args += ["-r", f"__ns:={self.namespace}"]
        args += ["--params-file", self.params_file]
        for k, v in self.parameters.items():
            args += ["-p", f"{k}:={_yaml_value(v)}"]
        for a, b in self.remappings.items():
            args += ["-r", f"{a}:={b}"]
        return args

    def command(self, python: str = sys.executable) -> list[str]:
        """The node's command line outside a colcon install (what CI runs)."""
        return [python, "-m", "safe_shield.ros.node", *self.ros_args()]


def _yaml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def shield_node_spec(model: str | None = None, params_file: str | None = None,
                     namespace: str = "", use_sim_time: bool | str = False,
                     remappings: dict[str, str] | None = None) -> NodeSpec:
    """The shield node for ``ros2 launch safe_shield shield.launch.py``: starts with the params
    file, the model override and ``autostart`` (configure + activate on its own)."""
    if isinstance(use_sim_time, str):
        use_sim_time = use_sim_time.strip().lower() in ("1", "true", "yes")
    namespace = namespace.strip("/")
    return NodeSpec(
        package=PACKAGE, executable=EXECUTABLE, name=NODE_NAME,
        namespace=f"/{namespace}" if namespace else "",
        params_file=str(params_file or DEFAULT_PARAMS),
        parameters={"model": str(model or DEFAULT_MODEL), "autostart": True,
                    "use_sim_time": bool(use_sim_time)},
        remappings=dict(DEFAULT_REMAPS if remappings is None else remappings),
    )
