"""Per-state shield work on a thread of its own, so it never delays a command.

A filter's per-state work (the safety-index filter's ONNX Runtime call: ~50 µs back to back, but
~360 µs when it runs cold 20 ms after the previous one, measured on the 2-core dev VM) would
otherwise hold up any command that arrives meanwhile. ``BackgroundPreparer`` takes each new state
from the executor thread, does that work beside it (ONNX Runtime releases the GIL while it runs),
and then commits the state. Latest wins: a state that arrives while another is being prepared
replaces any state still waiting, since only the newest matters.

Fail-closed: a state counts for decisions only once committed, and the supervisor's staleness
watchdog keeps checking the committed one, so a stalled or starved preparer ends in a stop.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable


def _yield_to_the_decision_thread() -> None:
    """Under a real-time policy (the node started with chrt), this thread runs one priority
    level below the thread that started it (or at the normal policy from level 1): a command
    callback then preempts preparation on a shared core instead of waiting for it, as it would
    behind an equal-priority FIFO thread, while preparation still runs ahead of ordinary work.
    Linux applies this to the calling thread only."""
    try:
        policy = os.sched_getscheduler(0)
        if policy in (os.SCHED_FIFO, os.SCHED_RR):
            level = os.sched_getparam(0).sched_priority - 1
            if level >= 1:
                os.sched_setscheduler(0, policy, os.sched_param(level))
            else:
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):   # not Linux, or not permitted: keep the inherited policy
        pass


class BackgroundPreparer:
    """``submit(sample)`` from one thread; ``commit(sample)`` runs on the preparer's thread."""

    def __init__(self, commit: Callable[[Any], None], name: str = "safe_shield_prepare"):
        self._commit = commit
        self._cv = threading.Condition()
        self._pending: Any = None
        self._closed = False
        self.failures = 0                   # commits that raised (the state was then not used)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, sample: Any) -> None:
        with self._cv:
            self._pending = sample
            self._cv.notify()

    def close(self, timeout_s: float = 1.0) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        _yield_to_the_decision_thread()
        while True:
            with self._cv:
                while self._pending is None and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                sample, self._pending = self._pending, None
            try:
                self._commit(sample)
            except Exception:       # not committed: the previous state ages into a stop
                self.failures += 1
