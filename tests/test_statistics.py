"""Tests of workloads/statistics.py and the realistic statistics mode of workloads/synthetic.py."""

import hashlib
import math
import time
import tracemalloc

import numpy as np
import pytest

from eie_sim.errors import WorkloadError
from eie_sim.reference import reference_forward
from eie_sim.workloads import LayerSpec, build_layer, get_workload, network
from eie_sim.workloads.paper import NETWORKS, TABLE_III, layer_spec
from eie_sim.workloads.statistics import (
    REALISTIC,
    LayerStatistics,
    measure,
    measure_trained_models,
    spearman,
)
from eie_sim.workloads.synthetic import (
    latent_persistence,
    realistic_inputs,
    synthetic_activations,
)

BIG = {"vgg-fc6", "alexnet-fc6", "alexnet", "vgg"}

#: sha256 (first 16 hex digits) of every uniform workload, recorded before realistic mode was
#: added (commit bf91494): uniform mode must stay bit-identical.
UNIFORM_HASHES = {
    "alexnet-fc6": "8a6f2121cfcf68bf",
    "alexnet-fc7": "b099809f246c03df",
    "alexnet-fc8": "1d9a252a4ef31683",
    "vgg-fc6": "87e592d99af620df",
    "vgg-fc7": "e87ff6704ee38468",
    "vgg-fc8": "1cbd9f79b39f8b2c",
    "neuraltalk-we": "73bbb8bac4c9cc1d",
    "neuraltalk-wd": "0728857f43d25501",
    "neuraltalk-lstm": "8c395f9a6dad9cc9",
    "alexnet": "80e82ee5cd1a1321",
    "vgg": "8ff324d0d603ec5b",
}


def workload_hash(wl):
    m = hashlib.sha256()
    for layer in wl.layers:
        for a in (layer.col_ptr, layer.row_idx, layer.weight_idx, layer.codebook,
                  layer.bias_idx, layer.bias_codebook):
            if a is not None:
                m.update(np.ascontiguousarray(a).tobytes())
                m.update(str(a.dtype).encode())
        m.update(str(layer.weight_frac_bits).encode())
    m.update(np.ascontiguousarray(wl.inputs).tobytes())
    return m.hexdigest()[:16]


def realistic(stats=None, **over):
    kw = dict(name="r", inputs=3000, outputs=2000, weight_density=0.1, activation_density=0.35,
              seed=3, statistics="realistic", structure=stats)
    kw.update(over)
    return LayerSpec(**kw)


def within_binomial(count, n, p, sigmas=5.0):
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


# ----------------------------------------------------------------------------- definitions


@pytest.mark.parametrize(
    "field, value",
    [("row_spread", -0.1), ("row_spread", 2.5), ("column_spread", float("nan")),
     ("activation_column_correlation", 1.2), ("activation_persistence", -0.01),
     ("activation_persistence", True), ("column_spread", "0.1")],
)
def test_layer_statistics_rejects_out_of_range(field, value):
    """Each parameter is validated against its documented range."""
    kw = REALISTIC.as_dict()
    kw[field] = value
    with pytest.raises(WorkloadError, match=field):
        LayerStatistics(**kw)


def test_layer_spec_statistics_fields_validated():
    """statistics must be uniform/realistic; structure needs realistic mode and the right type."""
    with pytest.raises(WorkloadError, match="statistics"):
        realistic(statistics="lumpy")
    with pytest.raises(WorkloadError, match="structure"):
        realistic(stats=REALISTIC, statistics="uniform")
    with pytest.raises(WorkloadError, match="structure"):
        realistic(stats={"row_spread": 0.1})
    assert realistic().parameters == REALISTIC
    assert realistic(statistics="uniform").parameters is None


def test_spearman_matches_scipy_with_ties():
    """The rank correlation uses average ranks for ties, as scipy's."""
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 300).astype(float)
    y = x + rng.integers(0, 4, 300)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert spearman(np.ones(10), np.arange(10)) == 0.0


def test_measure_dense_and_compressed_agree():
    """measure() gives the same figures for a dense matrix and its compressed layer."""
    layer, _ = build_layer(realistic(inputs=400, outputs=300, seed=1))
    acts = realistic_inputs(realistic(inputs=400, outputs=300, seed=1), 50)
    dense = np.zeros((300, 400))
    cols = np.repeat(np.arange(400), np.diff(layer.col_ptr))
    dense[layer.row_idx, cols] = 1.0
    assert measure(dense, acts) == measure(layer, acts)
    with pytest.raises(WorkloadError, match="activations"):
        measure(dense, acts[:, :399])


# ----------------------------------------------------------------------------- generation


@pytest.mark.parametrize(
    "stats",
    [LayerStatistics(0.3, 0.5, 0.6, 0.4), LayerStatistics(0.2, 0.3, -0.4, 0.5), REALISTIC],
)
def test_realistic_layer_measures_back_its_parameters(stats):
    """A realistic layer's measured spreads, correlation and persistence (300 input samples)
    come back near the parameters it was drawn with."""
    s = realistic(stats)
    layer, x = build_layer(s)
    acts = realistic_inputs(s, 300)
    assert np.array_equal(acts[0], x)
    got = measure(layer, acts)
    assert got.row_spread == pytest.approx(stats.row_spread, abs=0.04)
    assert got.column_spread == pytest.approx(stats.column_spread, abs=0.04)
    assert got.activation_column_correlation == pytest.approx(
        stats.activation_column_correlation, abs=0.07)
    assert got.activation_persistence == pytest.approx(stats.activation_persistence, abs=0.04)


def test_uniform_layer_measures_no_structure():
    """Uniform mode: no spread beyond binomial, no correlation, no persistence."""
    s = realistic(statistics="uniform")
    layer, _ = build_layer(s)
    acts = np.stack([synthetic_activations(np.random.default_rng([9, i]), s.inputs, 0.35)
                     for i in range(300)])
    got = measure(layer, acts)
    assert got.row_spread < 0.03 and got.column_spread < 0.03
    assert abs(got.activation_column_correlation) < 0.07
    assert got.activation_persistence < 0.02


@pytest.mark.parametrize("wd, ad", [(0.01, 0.1), (0.09, 0.351), (0.25, 0.5), (0.6, 1.0)])
def test_realistic_densities_match(wd, ad):
    """Weight non-zeros within 5 binomial deviations of the spec, inputs exactly round(d n)."""
    s = realistic(LayerStatistics(0.5, 0.5, 0.5, 0.5), inputs=1500, outputs=1000,
                  weight_density=wd, activation_density=ad)
    layer, x = build_layer(s)
    assert within_binomial(layer.nnz, 1500 * 1000, wd)
    assert np.count_nonzero(x) == round(ad * 1500) and np.all(x >= 0)
    assert np.all(np.diff(layer.col_ptr) >= 0)
    for j in range(0, 1500, 97):  # rows sorted and unique within a column
        rows = layer.row_idx[layer.col_ptr[j]:layer.col_ptr[j + 1]]
        assert np.all(np.diff(rows) > 0)


def test_realistic_extreme_densities():
    """Densities 0 and 1 still build in realistic mode."""
    full, _ = build_layer(realistic(inputs=30, outputs=20, weight_density=1.0))
    assert full.nnz == 600
    empty, _ = build_layer(realistic(inputs=30, outputs=20, weight_density=0.0))
    assert empty.nnz == 0


def test_large_spread_keeps_density():
    """Probabilities clipped at 1 are compensated: the expected density stays the spec's."""
    s = realistic(LayerStatistics(1.5, 1.5, 0.0, 0.0), inputs=800, outputs=600,
                  weight_density=0.3)
    layer, _ = build_layer(s)
    assert within_binomial(layer.nnz, 800 * 600, 0.3)


def test_realistic_deterministic_and_seed_dependent():
    """Same spec -> identical layer and input; another seed -> another layer."""
    a, xa = build_layer(realistic(inputs=500, outputs=400))
    b, xb = build_layer(realistic(inputs=500, outputs=400))
    c, _ = build_layer(realistic(inputs=500, outputs=400, seed=4))
    for p, q in [(a.col_ptr, b.col_ptr), (a.row_idx, b.row_idx), (a.weight_idx, b.weight_idx),
                 (a.codebook, b.codebook), (xa, xb)]:
        assert np.array_equal(p, q)
    assert not np.array_equal(a.col_ptr, c.col_ptr)


def test_given_input_columns_follow_the_firing_inputs():
    """With a given input, the columns of firing inputs are denser when the correlation is
    positive, sparser when it is negative."""
    x = np.zeros(2000, dtype=np.int16)
    x[np.random.default_rng(0).choice(2000, 700, replace=False)] = 256
    for rho, sign in ((0.8, 1), (-0.8, -1)):
        s = realistic(LayerStatistics(0.1, 0.5, rho, 0.5), inputs=2000, outputs=1000)
        layer, got = build_layer(s, x)
        assert got is x
        counts = np.diff(layer.col_ptr)
        assert sign * (counts[x > 0].mean() - counts[x == 0].mean()) > 0.2 * counts.mean()


def test_latent_persistence_limits_and_monotone():
    """h is 0 at persistence 0, 1 at 1, and increases in between."""
    assert latent_persistence(0.0, 0.3) == 0.0
    assert latent_persistence(1.0, 0.3) == 1.0
    hs = [latent_persistence(p, 0.3) for p in (0.1, 0.3, 0.6, 0.9)]
    assert all(0 < a < b < 1 for a, b in zip(hs, hs[1:], strict=False))


def test_realistic_memory_grows_with_nonzeros():
    """A 20000 x 4096 layer at 4 % builds without any inputs x outputs array: peak traced
    memory under 48 bytes per non-zero + 32 MiB (a dense bool mask alone would be 78 MiB on top
    of the ~34 bytes per non-zero the compressed layer and its build need)."""
    s = realistic(None, inputs=20000, outputs=4096, weight_density=0.04, activation_density=0.2)
    t0 = time.perf_counter()
    tracemalloc.start()
    try:
        layer, _ = build_layer(s)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert within_binomial(layer.nnz, 20000 * 4096, 0.04)
    assert peak < 48 * layer.nnz + 32 * 2**20
    assert time.perf_counter() - t0 < 60  # about 3 s on one core under tracemalloc


# ----------------------------------------------------------------------------- named workloads


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in UNIFORM_HASHES]
)
def test_uniform_mode_bit_identical(name):
    """get_workload(name) (and statistics="uniform") is what it was before realistic mode."""
    assert workload_hash(get_workload(name)) == UNIFORM_HASHES[name]
    if name not in BIG:
        assert workload_hash(get_workload(name, statistics="uniform")) == UNIFORM_HASHES[name]


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in TABLE_III]
)
def test_realistic_table_iii_densities(name):
    """A realistic Table III layer has the paper's shape, weight density (5 deviations),
    activation density (exact) and calibrated output density (1 pp)."""
    wl = get_workload(name, statistics="realistic")
    layer, x = wl.layers[0], wl.inputs
    n_in, n_out, wd, ad, next_ad = TABLE_III[name]
    assert (layer.n_in, layer.n_out) == (n_in, n_out)
    assert within_binomial(layer.nnz, n_in * n_out, wd)
    assert np.count_nonzero(x) == round(ad * n_in)
    assert abs(float(np.mean(reference_forward(layer, x) > 0)) - next_ad) <= 0.01
    assert wl.info["statistics"] == "realistic"
    assert workload_hash(wl) != workload_hash(get_workload(name))


@pytest.mark.slow
@pytest.mark.parametrize("net", sorted(NETWORKS))
def test_realistic_networks_chain(net):
    """network(..., "realistic") chains realistic layers on the actual previous outputs."""
    wl = get_workload(net, statistics="realistic")
    assert workload_hash(wl) == workload_hash(network(net, statistics="realistic"))
    x = wl.inputs
    for layer, name in zip(wl.layers, NETWORKS[net], strict=True):
        assert within_binomial(layer.nnz, layer.n_in * layer.n_out, TABLE_III[name][2])
        x = reference_forward(layer, x)
        assert abs(float(np.mean(x > 0)) - TABLE_III[name][4]) <= 0.01


def test_layer_spec_passes_statistics():
    assert layer_spec("vgg-fc7", 1, "realistic").statistics == "realistic"
    assert layer_spec("vgg-fc7", 1) == layer_spec("vgg-fc7", 1, "uniform")


def test_get_workload_statistics_errors():
    """A bad mode, or realistic on a workload without modes, is a WorkloadError."""
    with pytest.raises(WorkloadError, match="statistics"):
        get_workload("vgg-fc8", statistics="real")
    with pytest.raises(WorkloadError, match="no statistics modes"):
        get_workload("digits-mlp", statistics="realistic")


# ----------------------------------------------------------------------------- defaults


@pytest.mark.slow
def test_stored_defaults_are_what_the_code_measures():
    """REALISTIC equals the aggregate measure_trained_models(0) gives (re-trains four models,
    about 10-20 s); 0.01 leeway for BLAS rounding across machines."""
    result = measure_trained_models(0)
    used = [row for row in result["layers"] if row["used"]]
    assert len(used) == 7
    for name, value in result["aggregate"].as_dict().items():
        assert value == pytest.approx(getattr(REALISTIC, name), abs=0.01), name
    for model in result["models"].values():
        assert model["accuracy"] > 0.9
