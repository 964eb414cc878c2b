"""ROS 2 adapter for the shield: the only subpackage that imports rclpy (node, sim_bridge).

``adapter``, ``supervisor`` and ``launch_config`` are plain Python and import without ROS.
Run the node: ``python -m safe_shield.ros.node --ros-args --params-file config/shield_node.yaml``
(or ``ros2 launch safe_shield shield.launch.py`` after a colcon build).
"""
