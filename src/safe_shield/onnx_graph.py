"""One ONNX graph behind a single-threaded ONNX Runtime session.

Single-threaded on purpose: for the shield's small MLPs a second intra-op thread adds latency and
spikes (measured, see conventions). Loading checks the graph's tensor names, ranks, fixed
dimensions and dtypes against the manifest, so a mismatched graph is refused with a clear message
here instead of failing deep inside ONNX Runtime on the first decision.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

if TYPE_CHECKING:
    from .bundle import GraphSpec

_FLOAT = "tensor(float)"


def session_options() -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only; refusals are reported by us, with context
    return opts


class OnnxGraph:
    """Callable wrapper: ``graph(obs=..., act=...) -> list of float32 arrays`` in output order."""

    def __init__(self, session: ort.InferenceSession, spec: "GraphSpec"):
        self.session = session
        self.spec = spec
        self.input_names = tuple(spec.inputs)
        self.output_names = list(spec.outputs)

    @classmethod
    def load(cls, path: Path, spec: "GraphSpec", where) -> "OnnxGraph":
        from .bundle import BundleError

        try:
            session = ort.InferenceSession(str(path), sess_options=session_options(),
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises several private exception types
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BundleError(where, f"{path.name}: ONNX Runtime cannot load it ({first_line})") from None
        _check_io(session.get_inputs(), spec.inputs, "input", path.name, where)
        _check_io(session.get_outputs(), spec.outputs, "output", path.name, where)
        return cls(session, spec)

    def __call__(self, **feeds: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.output_names, feeds)


def _check_io(actual, declared: dict, side: str, fname: str, where) -> None:
    from .bundle import BundleError

    actual_by_name = {t.name: t for t in actual}
    if set(actual_by_name) != set(declared):
        raise BundleError(where, f"{fname}: graph {side}s are {sorted(actual_by_name)}, "
                                 f"manifest declares {sorted(declared)}")
    for name, shape in declared.items():
        tensor = actual_by_name[name]
        if tensor.type != _FLOAT:
            raise BundleError(where, f"{fname}: {side} '{name}' has dtype {tensor.type}, "
                                     f"expected float32")
        if len(tensor.shape) != len(shape):
            raise BundleError(where, f"{fname}: {side} '{name}' has shape {tensor.shape}, "
                                     f"manifest declares {shape}")
        for got, want in zip(tensor.shape[1:], shape[1:]):
            if isinstance(got, int) and got != want:
                raise BundleError(where, f"{fname}: {side} '{name}' has shape {tensor.shape}, "
                                         f"manifest declares {shape}")
