"""ament_python build for colcon (`colcon build` in ros_ws/, see README "ROS 2").

Everything about the Python package (name, version, packages, console scripts including
`safe_shield_node`) lives in pyproject.toml, so pip and colcon build the same thing. This file
only adds what a ROS 2 install needs on top: the ament index marker and the share/ files
(package.xml, launch file, node configs, the shipped demo model).
"""

from glob import glob

from setuptools import setup

PACKAGE = "safe_shield"

setup(
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/shield_node*.yaml") + ["config/fastdds_interop.xml"]),
        (f"share/{PACKAGE}/models/point_hazards_ssa", glob("models/point_hazards_ssa/*")),
    ],
)
