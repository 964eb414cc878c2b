"""ros2 launch safe_shield shield.launch.py [model:=...] [params_file:=...] [namespace:=...]
[use_sim_time:=true]

Thin on purpose: what to start comes from safe_shield.ros.launch_config.shield_node_spec, which
CI tests and runs without `launch` (not installable from PyPI). The node configures and
activates itself (autostart), so no lifecycle manager is needed.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from safe_shield.ros.launch_config import DEFAULT_MODEL, DEFAULT_PARAMS, shield_node_spec

ARGS = {"model": str(DEFAULT_MODEL), "params_file": str(DEFAULT_PARAMS), "namespace": "",
        "use_sim_time": "false"}


def _node(context):
    spec = shield_node_spec(**{k: LaunchConfiguration(k).perform(context) for k in ARGS})
    return [Node(package=spec.package, executable=spec.executable, name=spec.name,
                 namespace=spec.namespace, parameters=[spec.params_file, spec.parameters],
                 remappings=list(spec.remappings.items()), output="screen")]


def generate_launch_description():
    return LaunchDescription([DeclareLaunchArgument(k, default_value=v) for k, v in ARGS.items()]
                             + [OpaqueFunction(function=_node)])
