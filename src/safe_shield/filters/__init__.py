"""Safety filters behind one interface (see base.py), built from a bundle's filter parameters."""

from __future__ import annotations

from ..bundle import Bundle, BundleError
from .barrier import BarrierFilter
from .base import FilterResult, SafetyFilter
from .safety_critic import SafetyCriticFilter
from .safety_index import SafetyIndexFilter

__all__ = ["BarrierFilter", "FilterResult", "SafetyCriticFilter", "SafetyFilter",
           "SafetyIndexFilter", "filter_from_bundle"]


def filter_from_bundle(bundle: Bundle, overrides: dict | None = None, seed: int = 0) -> SafetyFilter:
    params = {**bundle.filter, **(overrides or {})}
    kind = params["type"]
    if kind == "safety_index":
        return SafetyIndexFilter.from_bundle(bundle, params)
    if kind == "safety_critic":
        return SafetyCriticFilter.from_bundle(bundle, params, seed=seed)
    if kind == "barrier":
        return BarrierFilter.from_bundle(bundle, params, seed=seed)
    raise BundleError(bundle.path, f"filter type {kind!r} unknown "
                                   "(known: safety_index, safety_critic, barrier)")
