"""Model bundles: a folder of ONNX graphs plus ``manifest.json``.

A bundle is the only thing that travels from a learner to the shield. The manifest says what the
graphs are (kind), what they read and write (observation / action specs with names, units, valid
ranges and the normalisation baked into the graphs), how the filter should use them (filter
parameters), where they came from (provenance) and the sha256 of every file.

Loading validates everything before any graph is used and refuses with a :class:`BundleError`
whose message names the file or field and the problem. Writing is atomic: a bundle appears at its
destination complete and verified, or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"

# Graphs each kind must carry; graphs beyond these (e.g. a backup policy) are allowed.
REQUIRED_GRAPHS: dict[str, tuple[str, ...]] = {
    "safety_index": ("index",),
    "safety_critic": ("critic",),
    "barrier": ("barrier", "dynamics", "backup_policy"),
    "policy": ("policy",),
    "dynamics_ensemble": ("dynamics",),
}
REQUIRED_FIELDS = ("schema_version", "kind", "name", "observation", "action", "graphs", "filter",
                   "provenance", "files")
PROVENANCE_FIELDS = ("algorithm", "env", "seed", "training_steps")


class BundleError(ValueError):
    """A bundle was refused. The message names the bundle, the file or field, and the problem."""

    def __init__(self, where: str | os.PathLike, problem: str):
        self.where = str(where)
        self.problem = problem
        super().__init__(f"bundle {self.where}: {problem}")


@dataclass(frozen=True)
class VectorSpec:
    """Names, units and valid range of an observation or action vector.

    ``normalisation`` documents the (mean, std) that the graphs apply internally: graphs always
    take raw, named, unit-carrying values, so a caller never normalises by hand.
    """

    names: tuple[str, ...]
    units: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    normalisation: dict | None = None

    @property
    def size(self) -> int:
        return len(self.names)

    def to_json(self) -> dict:
        out = {"names": list(self.names), "units": list(self.units),
               "low": [float(v) for v in self.low], "high": [float(v) for v in self.high]}
        if self.normalisation is not None:
            out["normalisation"] = self.normalisation
        return out

    @classmethod
    def from_json(cls, data: Any, where: str) -> "VectorSpec":
        if not isinstance(data, Mapping):
            raise ValueError(f"'{where}' must be an object with names, units, low, high")
        for key in ("names", "units", "low", "high"):
            if key not in data:
                raise ValueError(f"'{where}.{key}' is missing")
        names, units = data["names"], data["units"]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"'{where}.names' must be a non-empty list of non-empty strings")
        if len(set(names)) != len(names):
            raise ValueError(f"'{where}.names' has duplicates")
        n = len(names)
        if len(units) != n:
            raise ValueError(f"'{where}.units' has {len(units)} entries, names has {n}")
        try:
            low = np.asarray(data["low"], dtype=np.float64)
            high = np.asarray(data["high"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"'{where}.low'/'{where}.high' must be lists of numbers") from None
        if low.shape != (n,) or high.shape != (n,):
            raise ValueError(f"'{where}.low'/'high' must have {n} entries (one per name)")
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ValueError(f"'{where}.low'/'high' must be finite")
        if not (low < high).all():
            bad = names[int(np.argmin(high - low))]
            raise ValueError(f"'{where}': low must be below high (first offender: '{bad}')")
        norm = data.get("normalisation")
        if norm is not None:
            if not isinstance(norm, Mapping) or len(norm.get("mean", [])) != n \
                    or len(norm.get("std", [])) != n:
                raise ValueError(f"'{where}.normalisation' needs 'mean' and 'std' with {n} entries")
        low.setflags(write=False)
        high.setflags(write=False)
        return cls(tuple(names), tuple(units), low, high, dict(norm) if norm else None)

    @classmethod
    def make(cls, names, units, low, high, normalisation=None) -> "VectorSpec":
        return cls.from_json({"names": list(names), "units": list(units), "low": list(low),
                              "high": list(high), "normalisation": normalisation}, "spec")


@dataclass(frozen=True)
class GraphSpec:
    """One ONNX graph of a bundle: its file and the float32 tensors it reads and writes.

    Shapes use ``"batch"`` for the leading dynamic dimension and integers elsewhere.
    """

    file: str
    inputs: dict[str, list]
    outputs: dict[str, list]

    def to_json(self) -> dict:
        return {"file": self.file, "inputs": self.inputs, "outputs": self.outputs}


class Bundle:
    """A validated bundle on disk. Create with :func:`load_bundle`."""

    def __init__(self, path: Path, manifest: dict, observation: VectorSpec, action: VectorSpec,
                 graphs: dict[str, GraphSpec]):
        self.path = path
        self.manifest = manifest
        self.observation = observation
        self.action = action
        self.graphs = graphs
        self._sessions: dict[str, Any] = {}

    kind = property(lambda self: self.manifest["kind"])
    name = property(lambda self: self.manifest["name"])
    filter = property(lambda self: self.manifest["filter"])
    provenance = property(lambda self: self.manifest["provenance"])

    def has_graph(self, name: str) -> bool:
        return name in self.graphs

    def graph(self, name: str):
        """The named graph as a single-threaded ONNX Runtime session (:class:`OnnxGraph`)."""
        from .onnx_graph import OnnxGraph

        if name not in self.graphs:
            raise BundleError(self.path, f"kind '{self.kind}' needs graph '{name}', "
                                         f"but the manifest lists only {sorted(self.graphs)}")
        if name not in self._sessions:
            spec = self.graphs[name]
            self._sessions[name] = OnnxGraph.load(self.path / spec.file, spec, where=self.path)
        return self._sessions[name]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _parse_graphs(raw: Any, where: Path) -> dict[str, GraphSpec]:
    if not isinstance(raw, Mapping) or not raw:
        raise BundleError(where, "'graphs' must be a non-empty object {name: {file, inputs, outputs}}")
    graphs = {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping) or not {"file", "inputs", "outputs"} <= set(spec):
            raise BundleError(where, f"graph '{name}' needs 'file', 'inputs' and 'outputs'")
        for side in ("inputs", "outputs"):
            tensors = spec[side]
            if not isinstance(tensors, Mapping) or not tensors:
                raise BundleError(where, f"graph '{name}': '{side}' must map tensor names to shapes")
            for tname, shape in tensors.items():
                ok = isinstance(shape, list) and shape and shape[0] == "batch" and all(
                    isinstance(d, int) and d > 0 for d in shape[1:])
                if not ok:
                    raise BundleError(where, f"graph '{name}' {side[:-1]} '{tname}': shape "
                                             f"{shape!r} must be ['batch', positive ints...]")
        graphs[name] = GraphSpec(str(spec["file"]), dict(spec["inputs"]), dict(spec["outputs"]))
    return graphs


def _check_graph_dims(graphs: dict[str, GraphSpec], n_obs: int, n_act: int, where: Path) -> None:
    """Tensors named obs/act/next_obs must agree with the observation and action specs."""
    expected_last = {"obs": n_obs, "act": n_act, "next_obs": n_obs}
    for gname, spec in graphs.items():
        for tname, shape in list(spec.inputs.items()) + list(spec.outputs.items()):
            want = expected_last.get(tname)
            if want is not None and shape[-1] != want:
                raise BundleError(where, f"graph '{gname}' tensor '{tname}' has last dimension "
                                         f"{shape[-1]}, but the spec says {want}")


def read_manifest(path: str | os.PathLike) -> tuple[Path, dict]:
    path = Path(path)
    if not path.is_dir():
        raise BundleError(path, "not a directory (a bundle is a folder with manifest.json)")
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise BundleError(path, f"{MANIFEST} is missing")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(path, f"{MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise BundleError(path, f"{MANIFEST} must hold a JSON object")
    return path, manifest


def load_bundle(path: str | os.PathLike, *, open_graphs: bool = True) -> Bundle:
    """Validate and open a bundle: schema, fields, specs, file hashes, then every graph's
    input/output names, shapes and dtypes in ONNX Runtime. Any problem raises BundleError."""
    path, manifest = read_manifest(path)

    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BundleError(path, f"unknown schema_version {version!r} "
                                f"(this runtime reads version {SCHEMA_VERSION})")
    for field in REQUIRED_FIELDS:
        if field not in manifest:
            raise BundleError(path, f"manifest field '{field}' is missing")
    kind = manifest["kind"]
    if kind not in REQUIRED_GRAPHS:
        raise BundleError(path, f"unknown kind {kind!r} (known: {sorted(REQUIRED_GRAPHS)})")
    prov = manifest["provenance"]
    if not isinstance(prov, Mapping) or any(k not in prov for k in PROVENANCE_FIELDS):
        raise BundleError(path, f"'provenance' must record {list(PROVENANCE_FIELDS)}")
    if not isinstance(manifest["filter"], Mapping) or "type" not in manifest["filter"]:
        raise BundleError(path, "'filter' must be an object with a 'type'")
    try:
        observation = VectorSpec.from_json(manifest["observation"], "observation")
        action = VectorSpec.from_json(manifest["action"], "action")
    except ValueError as exc:
        raise BundleError(path, str(exc)) from None

    graphs = _parse_graphs(manifest["graphs"], path)
    missing = [g for g in REQUIRED_GRAPHS[kind] if g not in graphs]
    if missing:
        raise BundleError(path, f"kind '{kind}' needs graph(s) {missing}")
    _check_graph_dims(graphs, observation.size, action.size, path)

    files = manifest["files"]
    if not isinstance(files, Mapping):
        raise BundleError(path, "'files' must map file names to sha256 hex digests")
    for gname, spec in graphs.items():
        if spec.file not in files:
            raise BundleError(path, f"graph '{gname}' file {spec.file} has no sha256 in 'files'")
    for fname, expected in files.items():
        fpath = path / fname
        if Path(fname).name != fname:
            raise BundleError(path, f"'files' entry {fname!r} must be a plain file name")
        if not fpath.is_file():
            raise BundleError(path, f"{fname} is listed in the manifest but missing")
        actual = sha256_file(fpath)
        if actual != expected:
            raise BundleError(path, f"{fname}: sha256 mismatch (file changed after export): "
                                    f"manifest {str(expected)[:12]}…, file {actual[:12]}…")
    unlisted = sorted(p.name for p in path.glob("*.onnx") if p.name not in files)
    if unlisted:
        raise BundleError(path, f"unlisted ONNX file(s) {unlisted}: not part of this bundle")

    bundle = Bundle(path, manifest, observation, action, graphs)
    if open_graphs:
        for gname in graphs:
            bundle.graph(gname)  # opens and checks names/shapes/dtypes against the manifest
    return bundle


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bundle(dest: str | os.PathLike, manifest: dict, files: Mapping[str, bytes], *,
                 overwrite: bool = False) -> Bundle:
    """Write a bundle atomically and return it loaded.

    ``manifest`` is everything but ``files``; the sha256 of each file is computed here. The bundle
    is assembled and fully validated (:func:`load_bundle`) in a temporary sibling folder, then
    renamed into place, so a crash leaves either the old bundle or the new one, never half of one.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} exists (pass overwrite=True to replace it)")
    manifest = dict(manifest)
    manifest["schema_version"] = SCHEMA_VERSION
    manifest["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}

    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; a bundle is meant to be read by others
    try:
        for name, data in files.items():
            with open(tmp / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        with open(tmp / MANIFEST, "w") as fh:
            json.dump(manifest, fh, indent=2, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        load_bundle(tmp)  # never publish a bundle the runtime would refuse
        if dest.exists():
            # Directories cannot be renamed over each other: move the old one aside, publish,
            # and put the old one back if publishing fails.
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.rename(dest, old)
            try:
                os.rename(tmp, dest)
            except BaseException:
                os.rename(old, dest)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_bundle(dest)


def main(argv: list[str] | None = None) -> int:
    """``safe-shield-check-bundle PATH...``: validate bundles, print a summary or the refusal."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    status = 0
    for p in args.paths:
        try:
            b = load_bundle(p)
        except BundleError as exc:
            print(f"REFUSED {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"OK {b.path}: kind={b.kind} name={b.name} obs={b.observation.size} "
              f"act={b.action.size} graphs={sorted(b.graphs)} filter={b.filter['type']}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
