"""The shield: (state, commanded action, time) → (safe action, decision record).

The per-decision path is deliberately short and fail-closed: validate the inputs, ask the filter,
check the filter's answer, check the deadline. Any failure on the way returns the configured
fallback action, never the raw command. This module never imports ROS.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import kernels
from .bundle import Bundle, BundleError, load_bundle
from .config import ShieldConfig
from .decision import Decision, Outcome, Reason
from .fallback import Fallback
from .filters import SafetyFilter, filter_from_bundle

_BOUND_TOL = 1e-9
_FLOAT64, _FLOAT32 = np.dtype(np.float64), np.dtype(np.float32)


class Shield:
    def __init__(self, safety_filter: SafetyFilter, fallback: Fallback, bundle: Bundle,
                 config: ShieldConfig):
        self.filter = safety_filter
        self.fallback = fallback
        self.bundle = bundle
        self.config = config
        self.observation = bundle.observation
        self.action = bundle.action
        self._obs_low = bundle.observation.low.astype(np.float32)
        self._obs_high = bundle.observation.high.astype(np.float32)
        self._act_low = np.array(bundle.action.low - _BOUND_TOL, np.float64)
        self._act_high = np.array(bundle.action.high + _BOUND_TOL, np.float64)
        self._x = np.empty((1, bundle.observation.size), np.float32)  # reused state row
        self._prepare_x = np.empty_like(self._x)    # prepare's own: it may run on another thread
        self._state_shape = (bundle.observation.size,)

    @classmethod
    def from_bundle(cls, path: str | Path | Bundle,
                    config: ShieldConfig | dict | str | Path | None = None) -> "Shield":
        """Load and verify a bundle, build its filter and fallback. Raises BundleError / ValueError
        with a message naming the problem."""
        bundle = path if isinstance(path, Bundle) else load_bundle(path)
        if isinstance(config, (str, Path)):
            config = ShieldConfig.from_file(config)
        elif not isinstance(config, ShieldConfig):
            config = ShieldConfig.from_mapping(config)
        safety_filter = filter_from_bundle(bundle, config.filter, seed=config.seed)
        kind = config.fallback or bundle.manifest.get("fallback", {}).get("kind", "zero")
        backup = bundle.graph("backup_policy") if bundle.has_graph("backup_policy") else None
        if kind == "backup_policy" and backup is None:
            raise BundleError(bundle.path, "fallback 'backup_policy' requested but the bundle has "
                                           "no 'backup_policy' graph")
        hold = None
        if kind == "hold":
            missing = [n for n in config.hold_from if n not in bundle.observation.names]
            if missing or len(config.hold_from) != bundle.action.size:
                raise ValueError(f"hold_from must name {bundle.action.size} observation(s) of the "
                                 f"bundle; unknown: {missing}")
            hold = np.array([bundle.observation.names.index(n) for n in config.hold_from])
        fallback = Fallback(kind, bundle.action, backup_policy=backup, hold_indices=hold)
        shield = cls(safety_filter, fallback, bundle, config)
        shield.warm_up()
        return shield

    def warm_up(self, rounds: int = 20) -> None:
        """Run the filter on in-range inputs before the first real decision: ONNX Runtime's first
        calls are milliseconds slower and would otherwise miss the deadline."""
        rng = np.random.default_rng(0)
        for _ in range(rounds):
            state = rng.uniform(self._obs_low, self._obs_high)
            u = rng.uniform(self.action.low, self.action.high)
            # The compiled checks too: each kernel's first call loads it (~10 ms).
            self._load_state(state)
            kernels.all_finite(u)
            kernels.finite_within(u, self._act_low, self._act_high)
            try:
                self.filter.filter(self._x, u)
                self.fallback.action(self._x)
            except Exception:
                pass  # a broken graph shows itself, fail-closed, on the first real decision

    def fallback_action(self, state: np.ndarray | None = None) -> np.ndarray:
        """The configured fallback for a state that passed validation, or for no usable state."""
        if state is None:
            return self.fallback.action(None)
        x = np.ascontiguousarray(state, np.float32).reshape(1, -1)   # the kernels take C order
        return self.fallback.action(x if self._state_problem(x) is None else None)

    def prepare(self, state: np.ndarray) -> None:
        """A new state arrived: let the filter do its per-state work now, so the next command
        only pays the per-command part. Purely an optimisation: ``decide`` validates everything
        again, and anything wrong here is left for ``decide`` to reject. May run on a thread of
        its own beside ``decide`` (one preparing thread at a time)."""
        prepare = getattr(self.filter, "prepare", None)
        if prepare is None:
            return
        try:
            x = self._prepare_x
            x[0] = state
            if self._state_problem(x) is None:
                prepare(x)
        except Exception:
            pass

    _STATE_REASONS = (None, Reason.STATE_OUT_OF_RANGE, Reason.STATE_NOT_FINITE)

    def _state_problem(self, x: np.ndarray) -> str | None:
        if self.config.check_state_range:
            return self._STATE_REASONS[kernels.state_problem(x, self._obs_low, self._obs_high)]
        return None if np.isfinite(x).all() else Reason.STATE_NOT_FINITE

    def _load_state(self, state) -> str | None:
        """Copy ``state`` into the decision's row self._x and validate it: None, or the reason
        to fall back. One compiled call for a C-ordered float64/float32 vector (checked without
        a numpy call); anything else is first converted, or refused if it is not a vector of
        numbers of the right length."""
        if not (type(state) is np.ndarray and (state.dtype is _FLOAT64 or state.dtype is _FLOAT32)
                and state.shape == self._state_shape and state.flags.c_contiguous):
            state = _float64_vector(state, self._state_shape)
            if state is None:
                return Reason.STATE_WRONG_SHAPE
        return self._STATE_REASONS[kernels.load_state(
            state, self._x, self._obs_low, self._obs_high, self.config.check_state_range)]

    def decide(self, state: np.ndarray, u_cmd: np.ndarray, state_stamp: float,
               now: float) -> tuple[np.ndarray, Decision]:
        """Filter one command. ``state_stamp`` and ``now`` are seconds on the same clock.
        Returns the action to apply (always a finite float64 vector inside the action bounds)
        and the decision record."""
        t0 = time.perf_counter()
        x = self._x
        problem = self._load_state(state)
        if problem is not None:
            return self._fall_back(None, problem, t0)
        # A stamp from the future is as untrustworthy as an old one (clock jump, bad header).
        age = now - state_stamp
        if not (-self.config.state_timeout_s <= age <= self.config.state_timeout_s):
            return self._fall_back(None, Reason.STATE_STALE, t0)
        self.fallback.observe(x)
        u_cmd = _float64_vector(u_cmd, self._act_low.shape)
        if u_cmd is None:
            return self._fall_back(x, Reason.COMMAND_WRONG_SHAPE, t0)
        if not kernels.all_finite(u_cmd):
            return self._fall_back(x, Reason.COMMAND_NOT_FINITE, t0)

        try:
            result = self.filter.filter(x, u_cmd)
        except Exception:  # ONNX Runtime / solver failure: fail closed, never pass u_cmd
            return self._fall_back(x, Reason.MODEL_ERROR, t0)
        u = result.action
        if u is None:
            return self._fall_back(x, result.reason, t0, result.certificate)
        u = _float64_vector(u, self._act_low.shape)   # the filter contract fixes no dtype
        if u is None or not kernels.finite_within(u, self._act_low, self._act_high):
            return self._fall_back(x, Reason.UNCERTIFIED_OUTPUT, t0, result.certificate)
        elapsed = time.perf_counter() - t0
        if elapsed > self.config.deadline_s:
            return self._fall_back(x, Reason.DEADLINE_EXCEEDED, t0, result.certificate)
        outcome = Outcome.MODIFIED if result.modified else Outcome.PASS
        return u, Decision(outcome, result.reason, result.certificate, elapsed)

    def _fall_back(self, x: np.ndarray | None, reason: str, t0: float,
                   certificate: float = float("nan")) -> tuple[np.ndarray, Decision]:
        u = self.fallback.action(x)
        return u, Decision(Outcome.FALLBACK, reason, certificate, time.perf_counter() - t0)


def _float64_vector(v, shape: tuple[int]) -> np.ndarray | None:
    """v as a C-ordered float64 vector of the given shape (v itself when it already is one, the
    common case, checked without a numpy call), or None when it is not a vector of numbers of
    that shape. The kernels need exactly this: they index by the bounds' length."""
    if type(v) is np.ndarray and v.dtype is _FLOAT64 and v.shape == shape and v.flags.c_contiguous:
        return v
    try:
        v = np.ascontiguousarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return v if v.shape == shape else None
