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

    def bind(self, batch: int) -> "BoundGraph":
        """A fixed-batch call with preallocated input and output arrays (see BoundGraph)."""
        return BoundGraph(self, batch)


class BoundGraph:
    """The hot-path form of a graph: ONNX Runtime reads ``inputs[name]`` and writes
    ``outputs[name]`` in place through IOBinding, so a call allocates nothing and skips the
    per-call conversion of ``session.run`` (measured: about a third of a small graph's cost).
    Not reentrant: one per thread."""

    def __init__(self, graph: OnnxGraph, batch: int):
        self.batch = batch
        self.session = graph.session
        self.inputs = {n: np.zeros([batch, *shape[1:]], np.float32) for n, shape in graph.spec.inputs.items()}
        self.outputs = {n: np.zeros([batch, *shape[1:]], np.float32) for n, shape in graph.spec.outputs.items()}
        self._binding = graph.session.io_binding()
        for side, arrays in (("input", self.inputs), ("output", self.outputs)):
            bind = self._binding.bind_input if side == "input" else self._binding.bind_output
            for name, arr in arrays.items():
                bind(name, "cpu", 0, np.float32, list(arr.shape), arr.ctypes.data)

    def __call__(self) -> dict[str, np.ndarray]:
        self.session.run_with_iobinding(self._binding)
        return self.outputs


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
