"""A user's own weights: .npz and safetensors, tensors by name, activations from .npy."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from eie_sim import EIEConfig, WorkloadError, simulate
from eie_sim.formats.fixed_point import to_float
from eie_sim.workloads.loaders import load_activations, load_layer, user_workload


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(5)
    w = rng.normal(size=(48, 80)) * (rng.random((48, 80)) < 0.3)
    b = rng.normal(size=48) * 0.1
    tensors = {"fc.weight": w.astype(np.float32), "fc.bias": b.astype(np.float32),
               "vec": np.ones(3, np.float32), "bad": np.full((4, 4), np.nan, np.float32)}
    np.savez(tmp_path / "m.npz", **tensors)
    save_file(tensors, str(tmp_path / "m.safetensors"))
    np.save(tmp_path / "a.npy", np.maximum(rng.normal(size=80), 0))
    return tmp_path, w, b


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_load_layer_round_trip(files, suffix):
    tmp, w, b = files
    layer = load_layer(tmp / f"m{suffix}", "fc.weight", bias="fc.bias")
    assert (layer.n_out, layer.n_in) == w.shape
    dense = layer.weights_float()
    # weights that round to zero in the layer's fixed-point format are pruned by quantization
    representable = np.abs(w) >= 0.5 / 2**layer.weight_frac_bits
    assert np.array_equal(dense != 0, representable)
    step = np.max(np.abs(w)) / 8  # 15 shared values over the weight range
    assert np.max(np.abs(dense - w)) < step
    assert np.max(np.abs(to_float(layer.bias_values(), 8) - b)) < 0.05


def test_transpose_and_prune(files):
    tmp, w, _ = files
    np.savez(tmp / "t.npz", w=w.T)
    layer = load_layer(tmp / "t.npz", "w", transpose=True, prune_density=0.1)
    assert (layer.n_out, layer.n_in) == w.shape
    assert layer.nnz == round(0.1 * w.size)


def test_user_workload_simulates_and_matches_reference(files):
    tmp, _, _ = files
    wl = user_workload(tmp / "m.safetensors", "fc.weight", bias="fc.bias",
                       activations=tmp / "a.npy")
    result = simulate(EIEConfig(num_pes=8), wl, engine="des")
    assert result.outputs_match_reference
    wl2 = user_workload(tmp / "m.npz", "fc.weight", activation_density=0.25, seed=3)
    assert np.count_nonzero(wl2.inputs) == 20


@pytest.mark.parametrize("call,message", [
    (lambda t: load_layer(t / "m.npz", "nope"), "tensor 'nope' not in"),
    (lambda t: load_layer(t / "m.npz", "vec"), "allowed: 2-D"),
    (lambda t: load_layer(t / "m.npz", "bad"), "contains NaN or infinity"),
    (lambda t: load_layer(t / "m.safetensors", "bad"), "contains NaN or infinity"),
    (lambda t: load_layer(t / "m.npz", "fc.weight", bias="vec"), "the layer has 48 outputs"),
    (lambda t: load_layer(t / "missing.npz", "w"), "does not exist"),
    (lambda t: load_layer(t / "a.npy", "w"), "allowed: .npz, .safetensors"),
    (lambda t: load_layer(t / "m.npz", "fc.weight", prune_density=2.0), "must be in [0, 1]"),
    (lambda t: load_activations(t / "a.npy", 81), "the layer takes 81 inputs"),
    (lambda t: user_workload(t / "m.npz", "fc.weight"), "exactly one of the two"),
])
def test_bad_files_are_one_line_errors(files, call, message):
    tmp, _, _ = files
    with pytest.raises(WorkloadError) as err:
        call(tmp)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_corrupt_files(files):
    tmp, _, _ = files
    (tmp / "c.npz").write_bytes(b"not a zip")
    (tmp / "c.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{bad")
    for name in ("c.npz", "c.safetensors"):
        with pytest.raises(WorkloadError, match="cannot read weights file"):
            load_layer(tmp / name, "w")
    np.save(tmp / "nan.npy", np.array([1.0, np.nan]))
    with pytest.raises(WorkloadError, match="NaN"):
        load_activations(tmp / "nan.npy", 2)
    np.save(tmp / "big.npy", np.array([1.0, 500.0]))
    with pytest.raises(WorkloadError, match="Q7.8 range"):
        load_activations(tmp / "big.npy", 2)


def test_sub_resolution_activations_are_counted_in_a_warning(tmp_path):
    from eie_sim import EIEConfig, simulate

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "w.npz", w=rng.normal(0, 1, (8, 6)))
    a = np.array([0.5, 1e-4, -1e-3, 0.0, 2.0 ** -10, 3.0])
    np.save(tmp_path / "a.npy", a)
    warnings: list[str] = []
    x = load_activations(tmp_path / "a.npy", 6, warnings)
    assert x.tolist() == [128, 0, 0, 0, 0, 768]
    assert warnings == ["3 of the 5 non-zero input activations in a.npy are below the Q7.8 "
                        "resolution (|a| < 2**-9) and became 0"]
    wl = user_workload(tmp_path / "w.npz", "w", activations=tmp_path / "a.npy")
    result = simulate(EIEConfig(num_pes=2), wl, energy=None)
    assert result.layers[0].warnings[0] == warnings[0]
    np.save(tmp_path / "ok.npy", np.array([0.5, 0.0, 1.0, 0.0, 0.25, 3.0]))
    clean = user_workload(tmp_path / "w.npz", "w", activations=tmp_path / "ok.npy")
    assert "warnings" not in clean.info
