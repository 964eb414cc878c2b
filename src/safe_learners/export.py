"""Export torch modules as a verified, atomically written model bundle.

Every graph is exported to ONNX and run in ONNX Runtime on ``n_check`` random inputs drawn from
the observation / action boxes; if any output differs from torch by more than ``atol`` nothing is
written and :class:`ExportError` names the graph, the output and the error. The bundle itself is
written by :func:`safe_shield.bundle.write_bundle` (temporary folder, full validation, rename).
"""

from __future__ import annotations

import datetime as _dt
import io
import platform
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import onnxruntime as ort
import torch

from safe_shield.bundle import Bundle, VectorSpec, write_bundle
from safe_shield.onnx_graph import session_options

OPSET = 17


class ExportError(RuntimeError):
    """ONNX Runtime disagrees with torch (or the export failed); nothing was written."""


@dataclass
class GraphExport:
    """A torch module to export. ``inputs`` names its positional arguments in order; each is
    'obs' or 'act' (drawn from the observation / action box when checking). ``outputs`` names its
    returned tensors in order."""

    module: torch.nn.Module
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _sample_inputs(names: tuple[str, ...], obs: VectorSpec, act: VectorSpec, n: int,
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    boxes = {"obs": obs, "act": act}
    out = {}
    for name in names:
        if name not in boxes:
            raise ExportError(f"graph input '{name}' must be 'obs' or 'act'")
        spec = boxes[name]
        out[name] = rng.uniform(spec.low, spec.high, (n, spec.size)).astype(np.float32)
    return out


def export_graph(name: str, graph: GraphExport, obs: VectorSpec, act: VectorSpec, *,
                 n_check: int = 1000, atol: float = 1e-5, rtol: float = 1e-6,
                 seed: int = 0) -> tuple[bytes, dict, float]:
    """ONNX bytes, the manifest's graph spec (without file), and the max |ORT − torch| seen.

    Each output must satisfy |ORT − torch| ≤ atol + rtol·|torch|. For outputs of magnitude ≤ 1
    that is atol; rtol (≈ 8 float32 ulps) only matters for large values, where float32 cannot
    resolve 1e-5 at all (one ulp at 64 is 7.6e-6).
    """
    rng = np.random.default_rng(seed)
    module = graph.module.eval()
    feeds = _sample_inputs(graph.inputs, obs, act, n_check, rng)
    args = tuple(torch.from_numpy(feeds[k]) for k in graph.inputs)
    with torch.no_grad():
        expected = module(*args)
    expected = (expected,) if isinstance(expected, torch.Tensor) else tuple(expected)
    if len(expected) != len(graph.outputs):
        raise ExportError(f"graph '{name}': module returns {len(expected)} tensors, "
                          f"outputs names {len(graph.outputs)}")

    buf = io.BytesIO()
    dynamic = {k: {0: "batch"} for k in (*graph.inputs, *graph.outputs)}
    with torch.no_grad(), warnings.catch_warnings():
        # dynamo=False on purpose (no onnxscript dependency); its deprecation notice is noise here.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, args, buf, input_names=list(graph.inputs),
                          output_names=list(graph.outputs), dynamic_axes=dynamic,
                          opset_version=OPSET, dynamo=False)
    data = buf.getvalue()
    try:
        session = ort.InferenceSession(data, sess_options=session_options(),
                                       providers=["CPUExecutionProvider"])
        got = session.run(list(graph.outputs), feeds)
    except Exception as exc:
        raise ExportError(f"graph '{name}': ONNX Runtime cannot run the export ({exc})") from None
    worst = 0.0
    for oname, t, o in zip(graph.outputs, expected, got):
        ref = t.numpy()
        if ref.shape != o.shape:
            raise ExportError(f"graph '{name}' output '{oname}': ORT shape {o.shape} != torch {ref.shape}")
        diff = np.abs(ref.astype(np.float64) - o)
        err = float(diff.max()) if ref.size else 0.0
        excess = diff - (atol + rtol * np.abs(ref))
        if not np.isfinite(err) or (ref.size and excess.max() > 0):
            raise ExportError(f"graph '{name}' output '{oname}': max |ORT − torch| = {err:.3g} exceeds "
                              f"{atol:g} + {rtol:g}·|torch| over {n_check} random inputs; nothing written")
        worst = max(worst, err)
    spec = {"inputs": {k: ["batch", feeds[k].shape[1]] for k in graph.inputs},
            "outputs": {k: ["batch", *t.shape[1:]] for k, t in zip(graph.outputs, expected)}}
    return data, spec, worst


def export_bundle(dest: str | Path, *, kind: str, name: str, observation: VectorSpec,
                  action: VectorSpec, graphs: Mapping[str, GraphExport], filter: dict,
                  provenance: dict, fallback: dict | None = None, n_check: int = 1000,
                  atol: float = 1e-5, rtol: float = 1e-6, overwrite: bool = False,
                  seed: int = 0) -> Bundle:
    """Export, verify against torch, and atomically write a bundle; returns it loaded."""
    files: dict[str, bytes] = {}
    graph_specs: dict[str, dict] = {}
    check: dict[str, float] = {}
    for gname, graph in graphs.items():
        data, spec, err = export_graph(gname, graph, observation, action, n_check=n_check,
                                       atol=atol, rtol=rtol, seed=seed)
        fname = f"{gname}.onnx"
        files[fname] = data
        graph_specs[gname] = {"file": fname, **spec}
        check[gname] = err
    manifest = {
        "kind": kind,
        "name": name,
        "observation": observation.to_json(),
        "action": action.to_json(),
        "graphs": graph_specs,
        "filter": dict(filter),
        "provenance": {
            **provenance,
            "exported_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "code_commit": _git_commit(),
            "torch": torch.__version__, "onnxruntime": ort.__version__, "opset": OPSET,
            "python": platform.python_version(),
            "export_check": {"random_inputs": n_check, "atol": atol, "rtol": rtol,
                             "max_abs_error": check},
        },
    }
    if fallback is not None:
        manifest["fallback"] = dict(fallback)
    return write_bundle(dest, manifest, files, overwrite=overwrite)
