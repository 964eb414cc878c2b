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
from operator import attrgetter
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


def _getter(steps: Sequence[_Step]) -> Callable[[Any], Any]:
    """A compiled reader of the field at ``steps``: attrgetter (C speed) for a plain dotted
    path, a step-by-step walk otherwise. Raises AttributeError/IndexError/ValueError."""
    if all(st.index is None and st.key is None for st in steps):
        return attrgetter(".".join(st.attr for st in steps))

    def get(msg: Any) -> Any:
        obj = msg
        for st in steps:
            parent, obj = obj, getattr(obj, st.attr)
            if st.index is not None:
                obj = obj[st.index]
            elif st.key is not None:
                obj = obj[list(parent.name).index(st.key)]   # ValueError if the joint is missing
        return obj
    return get


def _setter(steps: Sequence[_Step]) -> Callable[[Any, float], None]:
    """A compiled writer of a float into the field at ``steps`` (lists grow as needed)."""
    parent = _getter(steps[:-1]) if len(steps) > 1 else (lambda msg: msg)
    last = steps[-1]
    if last.index is None:
        attr = last.attr

        def set_field(msg: Any, value: float) -> None:
            setattr(parent(msg), attr, value)
        return set_field

    def set_item(msg: Any, value: float) -> None:
        obj = parent(msg)
        seq = list(getattr(obj, last.attr))
        if len(seq) <= last.index:                      # grow e.g. Float64MultiArray.data
            seq.extend([0.0] * (last.index + 1 - len(seq)))
        seq[last.index] = value
        setattr(obj, last.attr, seq)
    return set_item


def _yaw(q: Any) -> float:
    # ZYX yaw of a unit quaternion (REP-103 frames).
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def _parse_assignments(entries: Sequence[str], what: str, names: Sequence[str]) -> dict[str, str]:
    """'<name> = <source>' entries -> {name: source}, covering exactly the bundle's ``names``."""
    out: dict[str, str] = {}
    for e in entries:
        if "=" not in e:
            raise AdapterError(f"{what} entry {e!r} must read '<name> = <source>'")
        name, src = (s.strip() for s in e.split("=", 1))
        if name in out:
            raise AdapterError(f"{what} name {name!r} mapped twice")
        out[name] = src
    missing = [n for n in names if n not in out]
    extra = [n for n in out if n not in names]
    if missing or extra:
        raise AdapterError(f"{what} mapping does not match the bundle: missing {missing}, unknown {extra}")
    return out


class ObservationAdapter:
    """State message -> observation vector in the bundle's order."""

    def __init__(self, entries: Sequence[str], names: Sequence[str]):
        mapping = _parse_assignments(entries, "observation", names)
        self.names = tuple(names)
        self._const = np.zeros(len(names))
        self._readers: list[tuple[int, Callable[[Any], Any]]] = []
        for i, n in enumerate(names):
            src = mapping[n]
            try:
                self._const[i] = float(src)
                continue
            except ValueError:
                pass
            m = re.fullmatch(r"yaw\((.+)\)", src)
            if m:
                get_q = _getter(_parse_path(m.group(1)))
                self._readers.append((i, lambda msg, g=get_q: _yaw(g(msg))))
            else:
                self._readers.append((i, _getter(_parse_path(src))))

    def __call__(self, msg: Any) -> np.ndarray:
        """The observation vector. A missing field/joint raises AdapterError (caller fails closed)."""
        obs = self._const.copy()
        try:
            for i, read in self._readers:
                obs[i] = read(msg)
        except (AttributeError, IndexError, ValueError, TypeError) as e:
            raise AdapterError(f"cannot read observation {self.names[i]!r}: {e}") from e
        return obs


class ActionAdapter:
    """Command message <-> action vector in the bundle's order."""

    def __init__(self, entries: Sequence[str], names: Sequence[str]):
        mapping = _parse_assignments(entries, "action", names)
        self.names = tuple(names)
        paths = [_parse_path(mapping[n]) for n in names]
        self._get = [_getter(p) for p in paths]
        self._set = [_setter(p) for p in paths]
        self._u = np.zeros(len(names))

    def read(self, msg: Any) -> np.ndarray:
        """The action in ``msg``, in a buffer reused by the next call (copy to keep it)."""
        u = self._u
        try:
            for i, get in enumerate(self._get):
                u[i] = get(msg)
        except (AttributeError, IndexError, ValueError, TypeError) as e:
            raise AdapterError(f"cannot read the action from the command: {e}") from e
        return u

    def write(self, msg: Any, action: np.ndarray) -> Any:
        """Set the action fields of ``msg`` (in place) and return it."""
        for set_value, v in zip(self._set, action.tolist()):
            set_value(msg, v)
        return msg
