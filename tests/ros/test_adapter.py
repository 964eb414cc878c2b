"""Observation/action adapters: configuration maps message fields to the bundle's names."""

import math
from types import SimpleNamespace as NS

import numpy as np
import pytest

from safe_shield.ros.adapter import ActionAdapter, AdapterError, ObservationAdapter


def odom(x=1.0, y=2.0, vx=3.0, yaw=0.0):
    q = NS(x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2))
    return NS(pose=NS(pose=NS(position=NS(x=x, y=y), orientation=q)),
              twist=NS(twist=NS(linear=NS(x=vx))))


def test_fields_constants_and_yaw_in_bundle_order():
    a = ObservationAdapter(["vx = twist.twist.linear.x", "x = pose.pose.position.x", "g = 1.5",
                            "yaw = yaw(pose.pose.orientation)"], ["x", "vx", "g", "yaw"])
    np.testing.assert_allclose(a(odom(yaw=0.7)), [1.0, 3.0, 1.5, 0.7])


def test_joint_lookup_by_name_not_position():
    js = NS(name=["b", "a"], position=[20.0, 10.0])
    a = ObservationAdapter(["qa = position[a]", "qb = position[b]"], ["qa", "qb"])
    np.testing.assert_allclose(a(js), [10.0, 20.0])
    with pytest.raises(AdapterError, match="qa"):
        a(NS(name=["b"], position=[1.0]))


def test_mapping_must_cover_exactly_the_bundle_names():
    with pytest.raises(AdapterError, match=r"missing \['y'\]"):
        ObservationAdapter(["x = a"], ["x", "y"])
    with pytest.raises(AdapterError, match=r"unknown \['z'\]"):
        ActionAdapter(["x = a", "z = b"], ["x"])
    with pytest.raises(AdapterError, match="must read"):
        ActionAdapter(["x: a"], ["x"])


def test_action_read_and_write_including_growing_arrays():
    twist = NS(linear=NS(x=0.1, y=0.2))
    act = ActionAdapter(["fx = linear.x", "fy = linear.y"], ["fx", "fy"])
    np.testing.assert_allclose(act.read(twist), [0.1, 0.2])
    act.write(twist, np.array([-1.0, 0.5]))
    assert (twist.linear.x, twist.linear.y) == (-1.0, 0.5)
    arr = ActionAdapter(["t0 = data[0]", "t1 = data[1]"], ["t0", "t1"])
    msg = NS(data=[])
    assert arr.write(msg, np.array([3.0, 4.0])).data == [3.0, 4.0]
