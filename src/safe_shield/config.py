"""Shield configuration as data (YAML/JSON), validated in one place."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

FALLBACK_KINDS = ("zero", "hold", "backup_policy")


@dataclass(frozen=True)
class ShieldConfig:
    state_timeout_s: float = 0.1     # a state older than this is stale → fallback
    deadline_s: float = 0.005        # a decision slower than this is discarded → fallback
    fallback: str | None = None      # zero | hold | backup_policy; None: the bundle's recommendation
    hold_from: tuple[str, ...] = ()  # for "hold": observation names holding each action's current value
    check_state_range: bool = True   # refuse states outside the observation spec's [low, high]
    seed: int = 0                    # candidate sampling in the critic / barrier filters
    filter: dict = field(default_factory=dict)  # overrides of the bundle's filter parameters

    def __post_init__(self):
        for name in ("state_timeout_s", "deadline_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"shield config '{name}' must be a positive number, got {v!r}")
        if self.fallback is not None and self.fallback not in FALLBACK_KINDS:
            raise ValueError(f"shield config 'fallback' must be one of {FALLBACK_KINDS}, got {self.fallback!r}")
        if self.fallback == "hold" and not self.hold_from:
            raise ValueError("shield config 'fallback: hold' needs 'hold_from' (observation names)")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> "ShieldConfig":
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown shield config key(s) {unknown}; known: {sorted(known)}")
        if "hold_from" in data:
            data["hold_from"] = tuple(data["hold_from"])
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> "ShieldConfig":
        path = Path(path)
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        return cls.from_mapping(data.get("shield", data) if isinstance(data, dict) else data)

    def to_mapping(self) -> dict:
        out = asdict(self)
        out["hold_from"] = list(self.hold_from)
        return out
