"""The trained LSTM on ESE: digits read row by row, pruned by magnitude and by load-balance,
quantized to ESE's fixed point; float vs simulated fixed-point accuracy."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

pytest.importorskip("sklearn")

from eie_sim.compress.pruning import pe_nonzeros  # noqa: E402
from eie_sim.config import ESEConfig  # noqa: E402
from eie_sim.simulate import simulate  # noqa: E402
from eie_sim.workloads import digits_lstm as dl  # noqa: E402
from eie_sim.workloads import get_workload  # noqa: E402
from eie_sim.workloads.lstm import lstm_forward_float  # noqa: E402


def tiny_model(seed=3):
    rng = np.random.default_rng(seed)
    m = dl.LSTMClassifier.init(rng)
    m.peep[:] = rng.normal(0, 0.5, m.peep.shape)
    m.bias += rng.normal(0, 0.3, m.bias.shape)
    return m, rng.random((5, dl.STEPS, dl.INPUTS)), rng.integers(0, 10, 5)


def test_gradients_match_finite_differences():
    m, x, y = tiny_model()
    _, grads = m.gradients(x, y)
    rng = np.random.default_rng(0)
    for p in m.PARAMS:
        a = getattr(m, p)
        for _ in range(4):
            idx = tuple(int(rng.integers(0, s)) for s in a.shape)
            old = a[idx]
            a[idx] = old + 1e-6
            up = m.gradients(x, y)[0]
            a[idx] = old - 1e-6
            down = m.gradients(x, y)[0]
            a[idx] = old
            numeric = (up - down) / 2e-6
            assert abs(numeric - grads[p][idx]) <= 1e-5 * max(1.0, abs(numeric)), (p, idx)


def test_training_forward_is_the_workloads_float_model():
    m, x, _ = tiny_model()
    _, steps = m.forward(x)
    y = lstm_forward_float(m.float_lstm(m.spec(utterances=5)),
                           x.transpose(2, 0, 1).reshape(dl.INPUTS, -1))
    last = np.arange(5) * dl.STEPS + dl.STEPS - 1
    np.testing.assert_allclose(y[:, last].T, steps[-1]["m"] @ m.wy.T, atol=1e-12)
    xi = dl.sequence_input(x)
    assert xi.dtype == np.int16 and xi.shape == (dl.INPUTS, 5 * dl.STEPS)
    assert xi[3, 2 * dl.STEPS + 5] == round(x[2, 5, 3] * 4096)


def test_trained_models_are_pruned_as_named_and_cached(tmp_path, monkeypatch):
    models = dl.trained_models(dl.DEFAULT_SEED)
    for method in dl.PRUNINGS:
        m = models[method]
        for w in (*m.wx, *m.wr, m.wy):
            assert np.count_nonzero(w) == round(dl.TARGET_DENSITY * w.size)
            if method == "load-balance":
                assert np.ptp(pe_nonzeros(w, dl.PRUNE_PES)) <= 1
    # Magnitude pruning of trained weights leaves the PEs unbalanced (why ESE prunes by PE).
    assert max(np.ptp(pe_nonzeros(w, dl.PRUNE_PES)) for w in models["magnitude"].wx) > 4
    assert dl.cache_path(dl.DEFAULT_SEED, dl.TARGET_DENSITY).exists()
    # A cached file is read, not retrained; a corrupt one is retrained.
    monkeypatch.setenv("EIE_SIM_CACHE_DIR", str(tmp_path))
    path = dl.cache_path(dl.DEFAULT_SEED, 0.5)
    dl._save(path, list(models.values()))
    monkeypatch.setattr(dl, "_train_all", lambda *a: pytest.fail("retrained"))
    got = dl.trained_models(dl.DEFAULT_SEED, 0.5)
    np.testing.assert_array_equal(got["magnitude"].wx, models["magnitude"].wx)
    path.write_bytes(b"not an npz")
    monkeypatch.setattr(dl, "_train_all", lambda *a: list(models.values()))
    assert dl._load(path) is None
    dl.trained_models.cache_clear()
    assert dl.trained_models(dl.DEFAULT_SEED, 0.5)["dense"].wx.shape == (4, dl.HIDDEN, dl.INPUTS)
    assert dl._load(path) is not None  # rewritten
    dl.trained_models.cache_clear()


@cache
def report(method):
    return dl.evaluate(prune_method=method)


@pytest.mark.parametrize("method", dl.PRUNINGS)
def test_fixed_point_accuracy_on_ese_tracks_the_float_model(method):
    r = report(method)
    assert r["images"] == 360 and r["outputs_match_reference"] is True
    assert r["dense_float_accuracy"] >= 0.93
    assert r["float_accuracy"] >= 0.88
    assert abs(r["fixed_accuracy"] - r["float_accuracy"]) <= 0.02
    assert 0 < r["max_abs_error"] < 0.15
    assert r["weight_density"] == pytest.approx(dl.TARGET_DENSITY, abs=0.01)


def test_load_balance_pruning_is_balanced_and_faster_on_ese():
    mag, lb = report("magnitude"), report("load-balance")
    assert lb["pe_nnz_spread"] <= 1 < mag["pe_nnz_spread"]
    assert lb["cycles"] < mag["cycles"]


def test_engines_agree_on_a_few_images_and_the_workload_is_registered():
    cfg = ESEConfig(channels=2, num_pes=dl.PRUNE_PES)
    wl = dl.digits_lstm_workload(dl.DEFAULT_SEED, "magnitude", limit=3)
    a, b = (simulate(cfg, wl, engine=e, energy=None) for e in ("des", "fast"))
    assert a.cycles == b.cycles and a.layers[0].counts == b.layers[0].counts
    np.testing.assert_array_equal(a.layers[0].outputs, b.layers[0].outputs)
    assert a.outputs_match_reference and b.outputs_match_reference
    reg = get_workload("digits-lstm")
    assert reg.layers[0].spec.prune == "load-balance" and reg.inputs.shape == (8, 360 * 8)
    with pytest.raises(dl.WorkloadError, match="trained with pruning"):
        dl.digits_lstm_workload(dl.DEFAULT_SEED, "n:m")
