"""Fail-closed supervision around the shield core: watchdogs, e-stop lock, enable, recovery.

The node feeds events in (state received, command received, e-stop received, timer tick) and
publishes what comes out. Everything here is plain Python so the rules are readable in one place
and do not depend on a middleware; the node only translates messages.

Rules (all fail closed):
- a command is only ever passed through ``Shield.decide``; every other path outputs the stop action;
- no command for ``command_timeout_s`` -> the stop action is published *actively* at the tick rate
  for ``stop_repeat_s`` (never silently dropping out; < 0 = forever);
- state older than ``state_timeout_s`` by receipt time, or by its header stamp -> stop;
- a non-finite command or state -> rejected (stop / core fallback), never forwarded;
- e-stop ``True`` -> locked; with ``estop_timeout_s`` > 0 a missing heartbeat also locks;
- disabled (service) -> stop;
- leaving a state/e-stop stop needs ``recovery_s`` of continuously healthy inputs.

Threads: every method runs on the caller's (the node's executor) thread, except ``commit_state``,
which a background preparer (``ingest``) may call from its own: the state a decision uses is one
``StateSample`` replaced by a single store, so a decision sees a whole sample, never a new state
with an old stamp.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from safe_shield import kernels
from safe_shield.decision import Decision, Outcome


@dataclass
class SupervisorConfig:
    command_timeout_s: float = 0.25
    state_timeout_s: float = 0.2
    stop_repeat_s: float = 2.0       # how long to keep publishing stops after a timeout; < 0: forever
    estop_timeout_s: float = 0.0     # > 0: a heartbeat (e-stop False) is required at least this often
    use_estop: bool = False
    recovery_s: float = 0.2
    check_state_stamp: bool = True   # reject states whose header stamp is old (or zero)


class StateSample(NamedTuple):
    obs: np.ndarray | None
    stamp: float      # header stamp, ROS clock seconds
    mono: float       # receipt time, monotonic seconds


NO_STATE = StateSample(None, -math.inf, -math.inf)


class StopReason:
    COMMAND_TIMEOUT = "command_timeout"
    STATE_STALE = "state_stale"
    STATE_MISSING = "state_missing"
    STATE_BAD = "state_unreadable"
    COMMAND_NOT_FINITE = "command_not_finite"
    COMMAND_BAD = "command_unreadable"
    ESTOP = "estop_locked"
    ESTOP_TIMEOUT = "estop_heartbeat_timeout"
    DISABLED = "disabled"
    RECOVERING = "recovering"
    INACTIVE = "inactive"


class Supervisor:
    """Decides what to output for each event. Times: ``mono`` = receipt clock (monotonic seconds),
    ``stamp``/``now`` = the ROS clock (seconds; sim time if the node uses it)."""

    def __init__(self, shield: Any, config: SupervisorConfig, latency_window: int = 10000,
                 start_mono: float = math.nan,
                 ingest: Callable[[StateSample], None] | None = None):
        """``ingest``: where readable states go; it must end in ``commit_state`` (default: at once,
        on this thread; the node passes a BackgroundPreparer's ``submit``)."""
        self.shield = shield
        self.cfg = config
        self.enabled = True
        self.sample = NO_STATE          # the state decisions use (see commit_state)
        self.ingest = ingest or self.commit_state
        self.state_bad = False
        self.command_mono = -math.inf
        self.estop_locked = False
        self.estop_mono = -math.inf
        self.stop_since: float | None = None      # monotonic time the current stop condition began
        self.healthy_since: float | None = None   # for recovery out of a state/e-stop stop
        self.last_reason: str | None = None
        # Statistics for /diagnostics. Every decision is one published output.
        self.outcomes: Counter[str] = Counter()
        self.compute_times: deque[float] = deque(maxlen=latency_window)  # since the last report
        self.n_commands = 0
        self.n_states = 0
        # (mono, commands, states, decisions, passes) at the previous report.
        self._last_report = (start_mono, 0, 0, 0, 0)

    # -- inputs -------------------------------------------------------------------------------
    def on_state(self, obs: np.ndarray | None, stamp: float, mono: float) -> None:
        """A state message arrived; ``obs`` is None when it could not be read (stops at once)."""
        self.n_states += 1
        self.state_bad = obs is None
        if obs is not None:
            self.ingest(StateSample(obs, stamp, mono))

    def commit_state(self, sample: StateSample) -> None:
        """Do the shield's per-state work for ``sample``, then make it the state decisions use.
        Until then decisions use the previous sample, whose age the watchdog keeps checking."""
        prepare = getattr(self.shield, "prepare", None)
        if prepare is not None:            # per-state filter work now, not on the next command
            prepare(sample.obs)
        self.sample = sample

    def on_estop(self, locked: bool, mono: float) -> None:
        self.estop_locked = bool(locked)
        self.estop_mono = mono

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = bool(enabled)

    # -- conditions ---------------------------------------------------------------------------
    def _hard_stop_reason(self, now: float, mono: float, sample: StateSample) -> str | None:
        """A reason that forces a stop regardless of the command, or None."""
        c = self.cfg
        if not self.enabled:
            return StopReason.DISABLED
        if c.use_estop:
            if self.estop_locked:
                return StopReason.ESTOP
            if c.estop_timeout_s > 0 and mono - self.estop_mono > c.estop_timeout_s:
                return StopReason.ESTOP_TIMEOUT
        if sample.obs is None:
            return StopReason.STATE_MISSING
        if self.state_bad:
            return StopReason.STATE_BAD
        if mono - sample.mono > c.state_timeout_s:
            return StopReason.STATE_STALE
        if c.check_state_stamp and now - sample.stamp > c.state_timeout_s:
            return StopReason.STATE_STALE
        return None

    def hard_stop_reason(self, now: float, mono: float) -> str | None:
        """Why a command would be stopped regardless of its value now, or None (diagnostics)."""
        return self._hard_stop_reason(now, mono, self.sample)

    def _gate(self, now: float, mono: float, sample: StateSample) -> str | None:
        """Hard stop reason, or RECOVERING while inputs have not yet been healthy for recovery_s."""
        reason = self._hard_stop_reason(now, mono, sample)
        if reason is not None:
            self.healthy_since = None
            return reason
        if self.healthy_since is None:
            self.healthy_since = mono
        if self.last_reason in (StopReason.STATE_STALE, StopReason.STATE_BAD, StopReason.ESTOP,
                                StopReason.ESTOP_TIMEOUT, StopReason.RECOVERING) \
                and mono - self.healthy_since < self.cfg.recovery_s:
            return StopReason.RECOVERING
        return None

    # -- outputs ------------------------------------------------------------------------------
    def stop(self, reason: str, mono: float) -> tuple[np.ndarray, Decision]:
        if self.stop_since is None:
            self.stop_since = mono
        self.last_reason = reason
        fresh_state = self.sample.obs if reason not in (StopReason.STATE_STALE, StopReason.STATE_BAD,
                                                   StopReason.STATE_MISSING) else None
        u = np.asarray(self.shield.fallback_action(fresh_state), dtype=float)
        d = Decision(Outcome.STOP, reason, math.nan, 0.0)
        self.outcomes[d.outcome.value] += 1
        return u, d

    def on_command(self, u_cmd: np.ndarray | None, now: float, mono: float
                   ) -> tuple[np.ndarray, Decision]:
        """A command arrived (``None``: unreadable). Returns what to publish."""
        self.n_commands += 1
        self.command_mono = mono
        if u_cmd is None:
            return self.stop(StopReason.COMMAND_BAD, mono)
        if not _all_finite(u_cmd):
            return self.stop(StopReason.COMMAND_NOT_FINITE, mono)
        sample = self.sample        # one read: checked and used as a whole
        reason = self._gate(now, mono, sample)
        if reason is not None:
            return self.stop(reason, mono)
        u, d = self.shield.decide(sample.obs, u_cmd, sample.stamp, now)   # u: float64 vector
        self.stop_since = None
        self.last_reason = d.reason
        self.outcomes[d.outcome._value_] += 1      # _value_: the enum's value without its descriptor
        self.compute_times.append(d.compute_time_s)
        return u, d

    def tick(self, now: float, mono: float) -> tuple[np.ndarray, Decision] | None:
        """Timer: returns a stop to publish while a stop condition holds and the repeat window
        is open, else None (a healthy command stream is answered per command, not here)."""
        if mono - self.command_mono <= self.cfg.command_timeout_s:
            return None           # commands are flowing: each one is answered (with a stop if due)
        reason = self._hard_stop_reason(now, mono, self.sample) or StopReason.COMMAND_TIMEOUT
        if self.stop_since is None:
            self.stop_since = mono
        if 0 <= self.cfg.stop_repeat_s < mono - self.stop_since:
            return None
        return self.stop(reason, mono)

    # -- statistics ---------------------------------------------------------------------------
    def stats(self, now: float, mono: float) -> dict[str, float]:
        """Figures for /diagnostics. Rates, the intervention ratio and the compute-time
        percentiles cover the window since the previous call (the first call: since start)."""
        n = sum(self.outcomes.values())
        n_pass = self.outcomes["pass"]
        sample = self.sample
        t0, c0, s0, n0, p0 = self._last_report
        self._last_report = (mono, self.n_commands, self.n_states, n, n_pass)
        window = mono - t0                      # NaN when no start time was given

        def rate(count: int) -> float:
            return count / window if window > 0 else math.nan
        ct = np.array(self.compute_times) if self.compute_times else np.array([math.nan])
        self.compute_times.clear()
        p50, p99 = np.percentile(ct, (50, 99)) * 1e6     # one sort for both
        n_win = n - n0
        return {
            "command_rate_hz": rate(self.n_commands - c0),
            "state_rate_hz": rate(self.n_states - s0),
            "output_rate_hz": rate(n_win),
            "intervention_ratio": (n_win - (n_pass - p0)) / n_win if n_win else 0.0,
            "state_age_s": mono - sample.mono,
            "state_stamp_age_s": now - sample.stamp,
            "command_age_s": mono - self.command_mono,
            "compute_p50_us": float(p50),
            "compute_p99_us": float(p99),
            "compute_max_us": float(ct.max() * 1e6),
            "window_s": window,
            "commands": self.n_commands,
            "states": self.n_states,
            "decisions": n,
            "intervention_ratio_total": (n - n_pass) / n if n else 0.0,
            **{f"count_{k}": float(v) for k, v in sorted(self.outcomes.items())},
        }


def _all_finite(u: np.ndarray) -> bool:
    """Every entry finite: one compiled call for the adapter's float64 buffer, else plain Python."""
    if type(u) is np.ndarray and u.dtype is _FLOAT64 and u.ndim == 1 and u.flags.c_contiguous:
        return kernels.all_finite(u)
    return all(map(math.isfinite, np.asarray(u, dtype=float).ravel().tolist()))


_FLOAT64 = np.dtype(np.float64)
