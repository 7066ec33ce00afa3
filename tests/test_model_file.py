"""Models from a file: every 2-D tensor of a weights file as a chained network, or the layers a
topology YAML names; every architecture runs them; refused inputs are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from eie_sim import EIEConfig, WorkloadError, simulate
from eie_sim.cli import main
from eie_sim.reference import reference_forward
from eie_sim.registry import ACCELERATORS
from eie_sim.workloads.loaders import load_layer
from eie_sim.workloads.model_file import bias_name, model_workload, natural_key

SHAPES = {"layers.0": (48, 64), "layers.1": (32, 48), "layers.2": (10, 32)}


def sparse(rng, shape, density=0.3):
    w = rng.normal(size=shape).astype(np.float32)
    w[rng.random(shape) > density] = 0
    return w


@pytest.fixture
def model(tmp_path):
    """A 64-48-32-10 MLP: safetensors (names sorted, 'layers.10'-style order matters), an .npz
    in the network's order, biases on layers 0 and 2, and tensors that are no layer."""
    rng = np.random.default_rng(11)
    t = {f"{k}.weight": sparse(rng, s) for k, s in SHAPES.items()}
    t["layers.0.bias"] = rng.normal(size=48).astype(np.float32) * 0.1
    t["layers.2.bias"] = rng.normal(size=10).astype(np.float32) * 0.1
    extra = {"norm.scale": np.ones(3, np.float32), "embed": np.zeros((2, 2, 2), np.float32)}
    save_file({**t, **extra}, str(tmp_path / "m.safetensors"))
    np.savez(tmp_path / "m.npz", **t)
    np.save(tmp_path / "x.npy", np.maximum(rng.normal(size=64), 0))
    return tmp_path, t


def test_natural_order_and_bias_names():
    names = ["layers.10.weight", "layers.2.weight", "fc10", "fc2"]
    assert sorted(names, key=natural_key) == ["fc2", "fc10", "layers.2.weight",
                                              "layers.10.weight"]
    assert bias_name("fc1.weight") == "fc1.bias"
    assert bias_name("dense_1/kernel") == "dense_1/bias"
    assert bias_name("W1") is None


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_every_2d_tensor_runs_as_a_chained_network(model, suffix):
    tmp, t = model
    wl = model_workload(tmp / f"m{suffix}", activations=tmp / "x.npy")
    assert [layer.name for layer in wl.layers] == [f"{k}.weight" for k in SHAPES]
    assert [(layer.n_out, layer.n_in) for layer in wl.layers] == list(SHAPES.values())
    assert [layer.has_bias for layer in wl.layers] == [True, False, True]
    assert wl.chained
    if suffix == ".safetensors":
        assert wl.info["skipped"] == ["embed", "norm.scale"]
    # each layer is what the one-tensor loader makes of the same tensor and bias
    for layer, (k, _) in zip(wl.layers, SHAPES.items(), strict=True):
        bias = f"{k}.bias" if f"{k}.bias" in t else None
        one = load_layer(tmp / f"m{suffix}", f"{k}.weight", bias=bias)
        assert np.array_equal(layer.weights_float(), one.weights_float())
    result = simulate(EIEConfig(num_pes=4), wl, engine="fast")
    assert result.outputs_match_reference
    # chained: layer 2's input is layer 1's simulated output (ReLU between layers)
    x = wl.inputs
    for layer in wl.layers:
        x = reference_forward(layer, x)
    assert np.array_equal(result.layers[-1].outputs, x)


FC_ARCHS = [n for n, a in ACCELERATORS.items() if "fc" in getattr(a, "layer_kinds", ("fc",))]


@pytest.mark.parametrize("arch", FC_ARCHS)
def test_every_architecture_runs_a_model_from_a_file(model, arch):
    tmp, _ = model
    wl = model_workload(tmp / "m.safetensors", activation_density=0.5, seed=1)
    acc = ACCELERATORS[arch]
    config = acc.default_config(next(iter(acc.presets))) if acc.presets else acc.default_config()
    result = simulate(config, wl, engine="fast")  # tensor cores: N:M-pruned (nm_prune)
    assert len(result.layers) == 3 and result.outputs_match_reference


def test_topology_yaml_names_order_biases_and_activations(model):
    tmp, _ = model
    (tmp / "net.yaml").write_text(
        "weights: m.safetensors\n"
        "layers:\n"
        "  - {tensor: layers.0.weight, name: fc1}\n"
        "  - {tensor: layers.1.weight, bias: null}\n"
        "  - {tensor: layers.2.weight, bias: null, activation: none}\n")
    wl = model_workload(tmp / "net.yaml", activations=tmp / "x.npy")
    assert [layer.name for layer in wl.layers] == ["fc1", "layers.1.weight", "layers.2.weight"]
    assert [layer.has_bias for layer in wl.layers] == [True, False, False]
    assert [e["activation"] for e in wl.info["layers"]] == ["relu", "relu", "none"]
    # order from the YAML, not the file: a reversed pair of layers is taken as written
    np.savez(tmp / "rev.npz", b=sparse(np.random.default_rng(1), (8, 16)),
             a=sparse(np.random.default_rng(2), (16, 24)))
    with pytest.raises(WorkloadError, match="name the layers' order in a topology YAML"):
        model_workload(tmp / "rev.npz", activation_density=0.5)
    (tmp / "rev.yaml").write_text("weights: rev.npz\nlayers: [a, b]\n")
    wl = model_workload(tmp / "rev.yaml", activation_density=0.5)
    assert [layer.name for layer in wl.layers] == ["a", "b"]


@pytest.mark.parametrize("text, message", [
    ("layers: [a]\n", "'weights' must name the weights file"),
    ("weights: m.npz\nlayer: []\n", "unknown key 'layer'; allowed: weights, transpose, layers"),
    ("weights: m.npz\nlayers: []\n", "'layers' must be a non-empty list"),
    ("weights: m.npz\nlayers: [{tensor: layers.0.weight, activation: tanh}]\n",
     "activation 'tanh' is not supported; allowed: relu"),
    ("weights: m.npz\nlayers: [{tensor: layers.0.weight, activation: none}, "
     "layers.1.weight]\n", "only possible on the last layer"),
    ("weights: m.npz\nlayers: [{tensor: layers.0.weight, bias: layers.2.bias}]\n",
     "bias 'layers.2.bias' has shape (10,); layer 'layers.0.weight' has 48 outputs"),
    ("weights: m.npz\nlayers: [{tensor: nope}]\n", "tensor 'nope' not in"),
    ("weights: m.npz\nlayers: [{tensor: layers.0.weight, size: 3}]\n", "unknown key 'size'"),
    ("weights: missing.npz\nlayers: [a]\n", "does not exist"),
    ("weights: m.npz\nlayers: [{tensor: layers.0.weight, name: x}, "
     "{tensor: layers.1.weight, name: x}]\n", "layer name 'x' is used twice"),
    ("- not a mapping\n", "expected a mapping with keys weights"),
])
def test_bad_topology_files_are_one_line_errors(model, capsys, text, message):
    tmp, _ = model
    (tmp / "bad.yaml").write_text(text)
    with pytest.raises(WorkloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        model_workload(tmp / "bad.yaml", activation_density=0.5)
    code = main(["run", "--weights", str(tmp / "bad.yaml"), "--activation-density", "0.5",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err


def test_cli_runs_a_model_file_and_refuses_mixed_flags(model, capsys):
    tmp, _ = model
    code = main(["run", "--weights", str(tmp / "m.safetensors"), "--activations",
                 str(tmp / "x.npy"), "--pes", "4", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert all(f"{k}.weight" in out for k in SHAPES)
    for argv, message in (
            (["--bias-tensor", "layers.0.bias"], "--bias-tensor goes with --tensor"),
            (["--weights", str(tmp / "net.yaml"), "--tensor", "x"], "a topology YAML names"),
            (["--transpose"], "has shape"),  # transposed, 64x48 no longer chains
    ):
        (tmp / "net.yaml").write_text("weights: m.npz\nlayers: [layers.0.weight]\n")
        base = ["run", "--weights", str(tmp / "m.npz"), "--activation-density", "0.5"]
        code = main(base + argv)
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        assert message in err or "takes" in err, err


def test_a_file_without_2d_tensors_is_refused(tmp_path):
    np.savez(tmp_path / "v.npz", v=np.ones(3))
    with pytest.raises(WorkloadError, match=r"has no 2-D weight tensor; tensors: v \(3,\)"):
        model_workload(tmp_path / "v.npz", activation_density=0.5)


def test_a_topology_that_is_not_a_regular_file_is_refused(tmp_path, capsys):
    """A FIFO named .yaml is refused in one line (not read forever or blocked on)."""
    import os

    from eie_sim.cli import main

    fifo = tmp_path / "net.yaml"
    os.mkfifo(fifo)
    assert main(["run", "--weights", str(fifo)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "FIFO" in err and "regular file" in err
