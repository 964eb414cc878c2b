"""What launch/shield.launch.py starts (launch itself is not installable here; CI runs this
function's command line in test_ros_node.py::launch_spec_under_namespace)."""

from pathlib import Path

import yaml

from safe_shield.ros.launch_config import DEFAULT_MODEL, DEFAULT_PARAMS, shield_node_spec

REPO = Path(__file__).resolve().parents[2]


def test_launch_file_delegates_to_shield_node_spec():
    text = (REPO / "launch" / "shield.launch.py").read_text()
    assert "shield_node_spec(" in text
    for arg in ("model", "params_file", "namespace", "use_sim_time"):
        assert f'"{arg}"' in text


def test_spec_autostarts_with_params_file_model_and_remaps():
    spec = shield_node_spec(model="/m", params_file="/p.yaml", namespace="/robot1/",
                            use_sim_time="true")
    assert spec.namespace == "/robot1" and spec.executable == "safe_shield_node"
    args = spec.ros_args()
    assert args[:3] == ["--ros-args", "-r", "__node:=safe_shield"]
    assert ["-r", "__ns:=/robot1"] == args[3:5]
    assert ["--params-file", "/p.yaml"] == args[5:7]
    for p in ("model:=/m", "autostart:=true", "use_sim_time:=true"):
        assert p in args
    for r in ("cmd_in:=cmd_vel_in", "cmd_out:=cmd_vel", "state:=odom"):
        assert r in args


def test_defaults_point_at_shipped_files():
    spec = shield_node_spec()
    assert Path(spec.params_file) == DEFAULT_PARAMS and DEFAULT_PARAMS.is_file()
    assert Path(spec.parameters["model"]) == DEFAULT_MODEL and (DEFAULT_MODEL / "manifest.json").is_file()
    assert "__ns" not in " ".join(spec.ros_args())


def test_params_file_applies_under_any_namespace():
    data = yaml.safe_load(DEFAULT_PARAMS.read_text())
    assert list(data) == ["/**"] and "ros__parameters" in data["/**"]
