"""Map ROS messages to the bundle's named observation / action vectors, by configuration.

A new robot needs configuration, not code: each bundle observation name gets a *source* and each
action name a *field* of the command message, as strings in the node's parameters::

    observation: ["x = pose.pose.position.x", "vx = twist.twist.linear.x",
                  "yaw = yaw(pose.pose.orientation)", "q1 = position[shoulder_joint]",
                  "goal_x = 1.5"]
    action: ["fx = linear.x", "fy = linear.y"]          # Twist
    action: ["tau0 = data[0]", "tau1 = data[1]"]        # Float64MultiArray

A source is a number (a constant from the configuration), a dotted field path into the state
message, or ``yaw(<path to a quaternion>)``. ``field[3]`` indexes a list; ``position[name]``
looks ``name`` up in the message's ``name`` list (sensor_msgs/JointState). Everything is checked
against the bundle's names when the node configures, so a typo fails configure, not the robot.

This module does not import rclpy: it works on any object with the right attributes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]+)\])?$")


class AdapterError(ValueError):
    """The adapter configuration does not fit the bundle or the message type."""


@dataclass(frozen=True)
class _Step:
    attr: str
    index: int | None = None      # list index
    key: str | None = None        # look the key up in the sibling ``name`` list (JointState)


def _parse_path(path: str) -> tuple[_Step, ...]:
    steps = []
    for seg in path.strip().split("."):
        m = _SEGMENT.match(seg.strip())
        if not m:
            raise AdapterError(f"bad field path {path!r} (segment {seg!r})")
        attr, sub = m.group(1), m.group(2)
        if sub is None:
            steps.append(_Step(attr))
        elif re.fullmatch(r"-?\d+", sub.strip()):
            steps.append(_Step(attr, index=int(sub)))
        else:
            steps.append(_Step(attr, key=sub.strip()))
    return tuple(steps)


def _read(msg: Any, steps: Sequence[_Step]) -> float:
    obj = msg
    for st in steps:
        parent, obj = obj, getattr(obj, st.attr)
        if st.index is not None:
            obj = obj[st.index]
        elif st.key is not None:
            obj = obj[list(parent.name).index(st.key)]   # ValueError if the joint is missing
    return float(obj)


def _write(msg: Any, steps: Sequence[_Step], value: float) -> None:
    obj = msg
    for st in steps[:-1]:
        obj = getattr(obj, st.attr)
        if st.index is not None:
            obj = obj[st.index]
    last = steps[-1]
    if last.index is None:
        setattr(obj, last.attr, float(value))
        return
    seq = list(getattr(obj, last.attr))
    if len(seq) <= last.index:                      # grow e.g. Float64MultiArray.data
        seq.extend([0.0] * (last.index + 1 - len(seq)))
    seq[last.index] = float(value)
    setattr(obj, last.attr, seq)


def _yaw(q: Any) -> float:
    # ZYX yaw of a unit quaternion (REP-103 frames).
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def _parse_assignments(entries: Sequence[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in entries:
        if "=" not in e:
            raise AdapterError(f"{what} entry {e!r} must read '<name> = <source>'")
        name, src = (s.strip() for s in e.split("=", 1))
        if name in out:
            raise AdapterError(f"{what} name {name!r} mapped twice")
        out[name] = src
    return out


class ObservationAdapter:
    """State message -> observation vector in the bundle's order."""

    def __init__(self, entries: Sequence[str], names: Sequence[str]):
        mapping = _parse_assignments(entries, "observation")
        missing = [n for n in names if n not in mapping]
        extra = [n for n in mapping if n not in names]
        if missing or extra:
            raise AdapterError(f"observation mapping does not match the bundle: "
                               f"missing {missing}, unknown {extra}")
        self.names = tuple(names)
        self._const = np.zeros(len(names))
        self._readers: list[tuple[int, Callable[[Any], float]]] = []
        for i, n in enumerate(names):
            src = mapping[n]
            try:
                self._const[i] = float(src)
                continue
            except ValueError:
                pass
            m = re.fullmatch(r"yaw\((.+)\)", src)
            if m:
                steps = _parse_path(m.group(1))
                self._readers.append((i, lambda msg, s=steps: _yaw(_resolve(msg, s))))
            else:
                steps = _parse_path(src)
                self._readers.append((i, lambda msg, s=steps: _read(msg, s)))

    def __call__(self, msg: Any) -> np.ndarray:
        """The observation vector. A missing field/joint raises AdapterError (caller fails closed)."""
        obs = self._const.copy()
        try:
            for i, read in self._readers:
                obs[i] = read(msg)
        except (AttributeError, IndexError, ValueError, TypeError) as e:
            raise AdapterError(f"cannot read observation {self.names[i]!r}: {e}") from e
        return obs


def _resolve(msg: Any, steps: Sequence[_Step]) -> Any:
    obj = msg
    for st in steps:
        obj = getattr(obj, st.attr)
        if st.index is not None:
            obj = obj[st.index]
    return obj


class ActionAdapter:
    """Command message <-> action vector in the bundle's order."""

    def __init__(self, entries: Sequence[str], names: Sequence[str]):
        mapping = _parse_assignments(entries, "action")
        missing = [n for n in names if n not in mapping]
        extra = [n for n in mapping if n not in names]
        if missing or extra:
            raise AdapterError(f"action mapping does not match the bundle: "
                               f"missing {missing}, unknown {extra}")
        self.names = tuple(names)
        self._paths = [_parse_path(mapping[n]) for n in names]

    def read(self, msg: Any) -> np.ndarray:
        try:
            return np.array([_read(msg, p) for p in self._paths], dtype=float)
        except (AttributeError, IndexError, ValueError, TypeError) as e:
            raise AdapterError(f"cannot read the action from the command: {e}") from e

    def write(self, msg: Any, action: np.ndarray) -> Any:
        """Set the action fields of ``msg`` (in place) and return it."""
        for p, v in zip(self._paths, action):
            _write(msg, p, float(v))
        return msg
