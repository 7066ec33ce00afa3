"""The real network: digits MLP trained, pruned, quantized and run through EIE."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")

from eie_sim import EIEConfig, simulate  # noqa: E402
from eie_sim.cli import main  # noqa: E402
from eie_sim.workloads import Workload, get_workload  # noqa: E402
from eie_sim.workloads.digits import (  # noqa: E402
    TARGET_DENSITY,
    digits_model,
    evaluate,
    evaluate_tensor_core,
    image_input,
)


def test_pruned_to_the_target_density_and_still_accurate():
    model, layers, x_test, y_test, float_acc = digits_model(0)
    for w, target in zip(model.weights, TARGET_DENSITY, strict=True):
        assert np.count_nonzero(w) == round(target * w.size)
    assert float_acc >= 0.93
    assert [(layer.n_in, layer.n_out) for layer in layers] == [(64, 128), (128, 64), (64, 10)]
    for layer in layers:
        assert layer.codebook[0] == 0 and len(set(layer.codebook[1:].tolist())) <= 15


def test_simulated_datapath_accuracy_within_two_points_of_float():
    report = evaluate(EIEConfig(num_pes=16), seed=0)
    assert report["images"] == 360
    assert abs(report["simulated_accuracy"] - report["float_accuracy"]) <= 0.02
    assert report["outputs_match_reference"]
    # Real ReLU sparsity: hidden activations are neither all zero nor all dense.
    assert all(0.05 < d < 1.0 for d in report["activation_density"])
    assert report["cycles_per_image"] > 0 and report["energy_pj_per_image"] > 0


def test_des_and_fast_agree_on_a_few_images():
    _, layers, x_test, _, _ = digits_model(0)
    for i in range(3):
        wl = Workload(name="d", layers=layers, inputs=image_input(x_test[i]), chained=True)
        a = simulate(EIEConfig(num_pes=8), wl, engine="des")
        b = simulate(EIEConfig(num_pes=8), wl, engine="fast")
        assert a.cycles == b.cycles and a.counts == b.counts
        assert np.array_equal(a.layers[-1].outputs, b.layers[-1].outputs)
        assert a.outputs_match_reference and b.outputs_match_reference


@pytest.mark.slow
def test_digits_run_json_carries_the_explicit_accuracy_evaluation(tmp_path, capsys):
    path = tmp_path / "d.json"
    assert main(["run", "--workload", "digits-mlp", "--pes", "16", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    acc = data["info"]["accuracy"]
    for key in ("float_accuracy", "simulated_accuracy"):
        assert 0.9 <= acc[key] <= 1.0
    assert abs(acc["float_accuracy"] - acc["simulated_accuracy"]) <= 0.02
    assert len(data["layers"]) == 3
    wl = get_workload("digits-mlp")
    assert wl.chained and wl.info["test_images"] == 360


def test_building_the_digits_workload_never_simulates(monkeypatch):
    import sys

    facade = sys.modules["eie_sim.simulate"]  # the module (eie_sim.simulate is the function)

    def refuse(*args, **kwargs):
        raise AssertionError("building a workload ran a simulation")

    monkeypatch.setattr(facade, "simulate", refuse)
    wl = get_workload("digits-mlp")
    assert [layer.n_in for layer in wl.layers] == [64, 128, 64]
    assert "simulated_accuracy" not in wl.info


def test_same_network_pruned_2_4_on_the_tensor_core():
    from eie_sim.compress import satisfies_nm
    from eie_sim.workloads.digits import train_nm_mlp

    model, _ = train_nm_mlp(0)
    assert all(satisfies_nm(w, 2, 4) for w in model.weights)
    report = evaluate_tensor_core(seed=0)
    assert report["images"] == 360 and report["outputs_match_reference"]
    assert report["float_accuracy"] >= 0.93
    assert abs(report["simulated_accuracy"] - report["float_accuracy"]) <= 0.02
    assert report["cycles"] > 0 and report["energy_pj"] > 0


def test_trained_models_are_cached_on_disk_by_seed_and_code(tmp_path, monkeypatch):
    from eie_sim.workloads import digits

    monkeypatch.setenv("EIE_SIM_CACHE_DIR", str(tmp_path))
    calls = []

    def train():
        calls.append(1)
        rng = np.random.default_rng(0)
        return [digits.MLP([rng.normal(size=(3, 2))], [np.zeros(3)], [np.ones((3, 2))])]

    first = digits._cached("toy", 5, train)
    again = digits._cached("toy", 5, train)
    assert len(calls) == 1  # the second call read the file
    np.testing.assert_array_equal(first[0].weights[0], again[0].weights[0])
    (path,) = tmp_path.iterdir()
    assert path.name.startswith("digits-toy-seed5-") and path.suffix == ".npz"
    digits._cached("toy", 6, train)
    assert len(calls) == 2  # another seed is another model
