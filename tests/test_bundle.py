"""Bundle format: round trip, atomic writes, and a clear refusal for every kind of bad bundle."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from safe_shield.bundle import BundleError, load_bundle, main as check_bundle_main
from safe_learners.export import ExportError, GraphExport, export_bundle
from safe_learners.handcrafted_index import build_point_bundle

from bundle_fixtures import DEMO_BUNDLE, LinearRisk, critic_specs


def edit_manifest(path, change):
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def replace_with_rehashed_garbage(path):
    """Not an ONNX file, but with a matching sha256: only ONNX Runtime can catch it."""
    path.write_bytes(b"garbage")
    edit_manifest(path.parent, lambda m: m["files"].update({path.name: hashlib.sha256(b"garbage").hexdigest()}))


def test_shipped_demo_bundle_loads_and_matches_a_fresh_export(tmp_path, rng):
    shipped = load_bundle(DEMO_BUNDLE)
    fresh = build_point_bundle(tmp_path / "fresh")
    x = rng.uniform(shipped.observation.low, shipped.observation.high, (500, shipped.observation.size))
    x = x.astype(np.float32)
    for a, b in zip(shipped.graph("index")(obs=x), fresh.graph("index")(obs=x)):
        np.testing.assert_array_equal(a, b)
    assert shipped.provenance["export_check"]["random_inputs"] >= 1000


def test_round_trip_export_then_load_gives_the_torch_outputs(tmp_path, rng):
    obs, act = critic_specs()
    torch.manual_seed(0)

    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))

        def forward(self, o, a):
            return self.net(torch.cat([o, a], dim=1))

    critic = Critic()

    bundle = export_bundle(tmp_path / "b", kind="safety_critic", name="mlp", observation=obs,
                           action=act, graphs={"critic": GraphExport(critic, ("obs", "act"), ("q",))},
                           filter={"type": "safety_critic", "epsilon": 0.1},
                           provenance={"algorithm": "test", "env": "none", "seed": 0, "training_steps": 0})
    o = rng.uniform(-5, 5, (1000, 2)).astype(np.float32)
    a = rng.uniform(-1, 1, (1000, 2)).astype(np.float32)
    (q,) = load_bundle(bundle.path).graph("critic")(obs=o, act=a)
    with torch.no_grad():
        ref = critic(torch.from_numpy(o), torch.from_numpy(a)).numpy()
    assert np.max(np.abs(q - ref)) <= 1e-5
    assert bundle.provenance["export_check"]["max_abs_error"]["critic"] <= 1e-5
    assert oct(os.stat(bundle.path).st_mode & 0o777) == "0o755"


class CallCounter(nn.Module):
    """Python-side state: tracing freezes the count of the export call, so ONNX disagrees with the
    torch outputs the check computed one call earlier."""

    calls = 0

    def forward(self, obs, act):
        self.calls += 1
        return self.calls * act[:, :1] + obs[:, :1]


def test_export_refuses_when_onnx_runtime_disagrees_with_torch_and_writes_nothing(tmp_path):
    obs, act = critic_specs()
    with pytest.raises(ExportError, match="max \\|ORT − torch\\|"):
        export_bundle(tmp_path / "bad", kind="safety_critic", name="bad", observation=obs, action=act,
                      graphs={"critic": GraphExport(CallCounter(), ("obs", "act"), ("q",))},
                      filter={"type": "safety_critic", "epsilon": 0.0},
                      provenance={"algorithm": "t", "env": "t", "seed": 0, "training_steps": 0})
    assert list(tmp_path.iterdir()) == []


def test_a_crash_during_the_final_rename_leaves_the_old_bundle_intact(tmp_path, monkeypatch):
    obs, act = critic_specs()
    kwargs = dict(kind="safety_critic", name="v", observation=obs, action=act,
                  graphs={"critic": GraphExport(LinearRisk(), ("obs", "act"), ("q",))},
                  filter={"type": "safety_critic", "epsilon": 0.0},
                  provenance={"algorithm": "t", "env": "t", "seed": 0, "training_steps": 0})
    first = export_bundle(tmp_path / "b", **kwargs)
    before = (first.path / "manifest.json").read_text()

    real_rename = os.rename

    def crash_on_publish(src, dst):
        if ".tmp-" in str(src):
            raise OSError("simulated power loss")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", crash_on_publish)
    with pytest.raises(OSError, match="power loss"):
        export_bundle(tmp_path / "b", overwrite=True, **{**kwargs, "name": "v2"})
    monkeypatch.undo()
    assert (tmp_path / "b" / "manifest.json").read_text() == before
    assert load_bundle(tmp_path / "b").name == "v"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no temporary folder left


def test_export_will_not_overwrite_unless_asked(tmp_path):
    build_point_bundle(tmp_path / "b")
    with pytest.raises(FileExistsError):
        build_point_bundle(tmp_path / "b")


@pytest.mark.parametrize("tamper, message", [
    (lambda p: (p / "index.onnx").write_bytes((p / "index.onnx").read_bytes() + b"\0"),
     "index.onnx: sha256 mismatch"),
    (lambda p: (p / "index.onnx").unlink(), "index.onnx is listed in the manifest but missing"),
    (lambda p: (p / "manifest.json").unlink(), "manifest.json is missing"),
    (lambda p: (p / "manifest.json").write_text("{not json"), "manifest.json is not valid JSON"),
    (lambda p: edit_manifest(p, lambda m: m.update(schema_version=2)), "unknown schema_version 2"),
    (lambda p: edit_manifest(p, lambda m: m.pop("provenance")), "manifest field 'provenance' is missing"),
    (lambda p: edit_manifest(p, lambda m: m.update(kind="teleporter")), "unknown kind 'teleporter'"),
    (lambda p: edit_manifest(p, lambda m: m["graphs"].pop("index")), "needs graph(s) ['index']"),
    (lambda p: edit_manifest(p, lambda m: m["observation"]["names"].pop()), "'observation.units' has 18 entries"),
    (lambda p: edit_manifest(p, lambda m: m["action"].update(low=[1, 1], high=[-1, -1])), "low must be below high"),
    (lambda p: edit_manifest(p, lambda m: m["graphs"]["index"]["outputs"].update(phi=["batch", 7])),
     "index.onnx: output 'phi' has shape"),
    (lambda p: edit_manifest(p, lambda m: m["graphs"]["index"]["inputs"].update(state=m["graphs"]["index"]["inputs"].pop("obs"))),
     "graph inputs are ['obs'], manifest declares ['state']"),
    (lambda p: edit_manifest(p, lambda m: m["provenance"].pop("seed")), "'provenance' must record"),
    (lambda p: shutil.copy(p / "index.onnx", p / "extra.onnx"), "unlisted ONNX file(s) ['extra.onnx']"),
    (lambda p: replace_with_rehashed_garbage(p / "index.onnx"), "index.onnx: ONNX Runtime cannot load it"),
])
def test_bad_bundles_are_refused_with_a_message_naming_the_problem(demo_bundle, tamper, message):
    tamper(demo_bundle)
    with pytest.raises(BundleError) as err:
        load_bundle(demo_bundle)
    assert message in str(err.value)
    assert str(demo_bundle) in str(err.value)


def test_a_graph_with_the_wrong_dtype_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["obs"], ["q"])], "g",
                              [helper.make_tensor_value_info("obs", TensorProto.DOUBLE, ["batch", 2])],
                              [helper.make_tensor_value_info("q", TensorProto.DOUBLE, ["batch", 2])])
    data = onnx.helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    from safe_shield.bundle import write_bundle

    obs, act = critic_specs()
    manifest = {"kind": "policy", "name": "f64", "observation": obs.to_json(), "action": act.to_json(),
                "graphs": {"policy": {"file": "policy.onnx", "inputs": {"obs": ["batch", 2]},
                                      "outputs": {"q": ["batch", 2]}}},
                "filter": {"type": "none"},
                "provenance": {"algorithm": "t", "env": "t", "seed": 0, "training_steps": 0}}
    with pytest.raises(BundleError, match="input 'obs' has dtype tensor\\(double\\), expected float32"):
        write_bundle(tmp_path / "f64", manifest, {"policy.onnx": data})
    assert not (tmp_path / "f64").exists()


def test_check_bundle_command_reports_ok_and_refusals(demo_bundle, capsys):
    assert check_bundle_main([str(DEMO_BUNDLE)]) == 0
    assert "OK" in capsys.readouterr().out
    (demo_bundle / "manifest.json").write_text("[]")
    assert check_bundle_main([str(demo_bundle)]) == 1
    assert "REFUSED" in capsys.readouterr().err
