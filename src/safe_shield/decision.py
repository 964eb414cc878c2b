"""The record of one shield decision: what was let through, why, and how long it took."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(str, Enum):
    PASS = "pass"          # the command was certified safe and passed unchanged
    MODIFIED = "modified"  # the filter replaced the command by a certified nearby action
    FALLBACK = "fallback"  # nothing could be certified: the configured fallback action was used
    STOP = "stop"          # a supervisor (watchdog, e-stop, disable) commanded the stop action


class Reason:
    """Why a decision came out as it did (stable strings: logged, published, tested)."""

    CERTIFIED = "certified"
    PROJECTED = "projected"                      # safety-index QP moved the command
    NEAREST_SAFE_CANDIDATE = "nearest_safe_candidate"
    LEAST_UNSAFE_CANDIDATE = "least_unsafe_candidate"
    # Fail-closed reasons: the fallback action is used.
    STATE_NOT_FINITE = "state_not_finite"
    STATE_OUT_OF_RANGE = "state_out_of_range"
    STATE_STALE = "state_stale"
    STATE_WRONG_SHAPE = "state_wrong_shape"
    COMMAND_NOT_FINITE = "command_not_finite"
    COMMAND_WRONG_SHAPE = "command_wrong_shape"
    QP_INFEASIBLE = "qp_infeasible"
    NO_SAFE_CANDIDATE = "no_safe_candidate"
    OUTSIDE_CERTIFIED_SET = "outside_certified_set"
    MODEL_ERROR = "model_error"
    MODEL_OUTPUT_NOT_FINITE = "model_output_not_finite"
    UNCERTIFIED_OUTPUT = "uncertified_output"    # the filter's own action failed the final guard
    DEADLINE_EXCEEDED = "deadline_exceeded"


@dataclass(slots=True)
class Decision:
    outcome: Outcome
    reason: str
    certificate: float      # φ(x) (index: ≤0 safe), h(x) (barrier: ≥0 safe) or Q_C(x,u_cmd) (critic)
    compute_time_s: float

    @property
    def intervened(self) -> bool:
        return self.outcome is not Outcome.PASS
